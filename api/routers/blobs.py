"""`GET /api/v1/blobs/{sha256}`: what an alert brought that did not fit its container's history."""

from __future__ import annotations

import json

from fastapi import APIRouter, HTTPException, Request, Response

from api.auth import Reader
from core.blobs import SHA256_RE, BlobStore

router = APIRouter(prefix="/api/v1/blobs", tags=["containers"])


@router.get("/{sha256}", responses={200: {"content": {"application/json": {}, "application/octet-stream": {}}},
                                    404: {"description": "No such blob"}})
async def get_blob(sha256: str, request: Request, user: Reader) -> Response:
    """A value stored aside at ingestion (the 202's `stored_aside` and the container's notes name it)."""
    if not SHA256_RE.match(sha256):
        raise HTTPException(422, "sha256: expected 64 lowercase hex digits (the `sha256` of `stored_aside`)")
    data = BlobStore(request.app.state.settings.data_dir / "blobs").get(sha256)
    if data is None:
        raise HTTPException(404, f"no stored value {sha256}")
    try:
        json.loads(data)
    except ValueError:
        return Response(data, media_type="application/octet-stream")
    return Response(data, media_type="application/json")
