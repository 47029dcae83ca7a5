"""Liveness and readiness probes (no token: orchestrators call them)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_S = 3.0


class Health(BaseModel):
    """The process is up."""

    status: str = "ok"


class Readiness(BaseModel):
    """Whether the API can reach Temporal."""

    status: str = Field(description="ready | unavailable")
    temporal: str | None = Field(default=None, description="The Temporal address (when ready)")
    reason: str | None = Field(default=None, description="Why not (when unavailable)")


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is up."""
    return Health()


@router.get("/readyz", response_model=Readiness, response_model_exclude_none=True,
            responses={503: {"model": Readiness, "description": "Temporal unreachable"}})
async def readyz(request: Request) -> Readiness | JSONResponse:
    """Temporal is reachable (503 with the reason when not)."""
    state = request.app.state
    try:
        c = await state.temporal.client()
        await asyncio.wait_for(c.service_client.check_health(), timeout=HEALTH_TIMEOUT_S)
    except Exception as e:
        detail = getattr(e, "detail", None) or f"Temporal health check failed: {type(e).__name__}"
        return JSONResponse(Readiness(status="unavailable", reason=detail).model_dump(exclude_none=True),
                            status_code=503)
    return Readiness(status="ready", temporal=state.settings.temporal_address)
