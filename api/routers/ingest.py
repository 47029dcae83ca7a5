"""Ingestion of Splunk ES webhook alerts and raw phishing emails."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request

from api.auth import Ingester, WebhookIngester
from api.deps import ClientDep
from api.service import Accepted, ingest

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])


@router.post("/splunk", status_code=202, response_model=Accepted,
             openapi_extra={"requestBody": {"content": {"application/json": {"schema": {"type": "object"}}},
                                            "required": True}})
async def ingest_splunk(request: Request, user: WebhookIngester, client: ClientDep) -> Accepted:
    """A Splunk ES webhook alert action payload (`?token=` since webhooks cannot send headers)."""
    from api.ingest import IngestError, parse_splunk_body

    raw = await request.body()
    try:
        parsed = parse_splunk_body(raw, max_artifacts=request.app.state.settings.api_max_artifacts)
    except IngestError as e:
        raise HTTPException(422, f"{e.field}: {e.message}") from None
    return await ingest(request, client, parsed.container, "splunk", parsed.notes, aside=parsed.aside)


@router.post("/email", status_code=202, response_model=Accepted,
             openapi_extra={"requestBody": {"content": {"message/rfc822": {"schema": {"type": "string"}}},
                                            "required": True}})
async def ingest_email(request: Request, user: Ingester, client: ClientDep) -> Accepted:
    """A raw RFC 822 message reported as phishing. The raw message is kept outside workflow history."""
    from api.ingest import IngestError, parse_email
    from core.guardrails import trusted_relays

    raw = await request.body()
    if not raw:
        raise HTTPException(422, "body: empty; send the raw message (Content-Type: message/rfc822)")
    settings = request.app.state.settings
    try:
        # CPU-bound on hostile bodies and fsyncs the raw message: keep it off the event loop.
        parsed = await asyncio.to_thread(parse_email, raw, store_dir=settings.data_dir / "emails",
                                         max_artifacts=settings.api_max_artifacts,
                                         trusted_relays=trusted_relays(settings.guardrails_file))
    except IngestError as e:
        raise HTTPException(422, f"{e.field}: {e.message}") from None
    except OSError as e:
        raise HTTPException(503, f"cannot store the raw message ({e.strerror}); check SOAR_DATA_DIR is "
                                 "writable. Nothing was created; retry after fixing it") from None
    return await ingest(request, client, parsed.container, "email", parsed.notes, aside=parsed.aside)
