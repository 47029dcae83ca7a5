"""The API's routers, one per resource, mounted in this order (a new router is added to `ROUTERS`)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from api.routers import (
    audit,
    blobs,
    catalog,
    codec,
    containers,
    feed,
    health,
    ingest,
    metrics,
    prompts,
    slack,
    splunk,
    splunk_containers,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    audit.router,
    blobs.router,
    catalog.router,
    codec.router,
    containers.router,
    feed.router,
    ingest.router,
    metrics.router,
    prompts.router,
    slack.router,
    splunk.router,
    splunk_containers.router,
)


def include_routers(app: FastAPI) -> None:
    """Mount every router of `ROUTERS`."""
    for router in ROUTERS:
        app.include_router(router)
