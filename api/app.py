"""The FastAPI app factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from temporalio.client import Client

from api.errors import install as install_errors
from api.service import TriggerCache
from api.temporal_client import LazyClient
from core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """Build the API. `client` lets tests share an already connected Temporal client."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield

    app = FastAPI(title="SOAR API", version="0.1.0", lifespan=lifespan,
                  description="Durable SOAR playbooks on Temporal. All routes need a token except health.")
    app.state.settings = settings
    app.state.temporal = LazyClient(settings, client)
    app.state.triggers = TriggerCache()
    install_errors(app, settings.api_max_body_bytes)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"description": "Temporal unreachable"}})
    async def readyz() -> JSONResponse:
        """Temporal is reachable (503 with the reason when not)."""
        try:
            c = await app.state.temporal.client()
            await asyncio.wait_for(c.service_client.check_health(), timeout=3)
        except Exception as e:
            detail = getattr(e, "detail", None) or f"Temporal health check failed: {type(e).__name__}"
            return JSONResponse({"status": "unavailable", "reason": detail}, status_code=503)
        return JSONResponse({"status": "ready", "temporal": settings.temporal_address})

    from api.routers import include_routers

    include_routers(app)
    return app
