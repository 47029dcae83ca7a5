"""Liveness and readiness probes (no token: orchestrators call them)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.assets import cached_catalog

router = APIRouter(tags=["health"])

HEALTH_TIMEOUT_S = 3.0


class Health(BaseModel):
    """The process is up."""

    status: str = "ok"


class Readiness(BaseModel):
    """Whether the API can reach Temporal, and whether the workers' assets all loaded."""

    status: str = Field(description="ready | degraded (some asset is unavailable) | unavailable")
    temporal: str | None = Field(default=None, description="The Temporal address (when reachable)")
    reason: str | None = Field(default=None, description="Why not ready")
    unavailable_assets: dict[str, str] | None = Field(default=None, description="Asset -> why it is unavailable")


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
    try:
        catalog = await asyncio.wait_for(cached_catalog(c, state.settings, state), timeout=HEALTH_TIMEOUT_S * 2)
    except (TimeoutError, HTTPException) as e:
        why = e.detail if isinstance(e, HTTPException) else "no worker answered the asset catalogue in time"
        return Readiness(status="degraded", temporal=state.settings.temporal_address, reason=str(why))
    down = {a.asset_name: a.reason or "unavailable" for a in catalog.assets if not a.available}
    if down:
        return Readiness(status="degraded", temporal=state.settings.temporal_address,
                         reason=f"{len(down)} asset(s) unavailable: {', '.join(sorted(down))}",
                         unavailable_assets=down)
    return Readiness(status="ready", temporal=state.settings.temporal_address)
