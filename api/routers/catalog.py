"""Playbooks and assets (secrets redacted, as the workers loaded them), and asset connectivity tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.assets import worker_assets
from api.auth import Analyst, Reader
from api.deps import ClientDep
from workflows.registry import PLAYBOOKS

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class PlaybookSummary(BaseModel):
    """A registered playbook."""

    name: str
    title: str
    version: str
    baseline_minutes: float = Field(description="Average manual triage this playbook replaces")
    description: str
    kind: str = Field(description="native (a Playbook class) | phantom (a Phantom-format file)")
    file: str | None = Field(default=None, description="The Phantom playbook's file")


class AssetSummary(BaseModel):
    """A configured asset (secrets redacted), where its actions run, and whether it is usable."""

    asset_name: str
    app: str
    product_vendor: str
    product_name: str
    configuration: dict[str, Any] = Field(description="The asset's configuration, secrets redacted")
    task_queue: str
    rate_limited: bool
    actions: list[str]
    available: bool = True
    reason: str | None = Field(default=None, description="Why it is unavailable (its configuration error)")


class AssetTest(BaseModel):
    """The result of `test connectivity` on an asset."""

    asset: str
    ok: bool
    message: str
    error: str | None = Field(default=None, description="The error class when the test raised (else absent)")


@router.get("/playbooks", response_model=list[PlaybookSummary])
async def playbooks(user: Reader) -> list[PlaybookSummary]:
    """Registered playbooks with title, version and manual-triage baseline."""
    return [PlaybookSummary(name=p.name, title=p.title, version=p.version, baseline_minutes=p.baseline_minutes,
                            description=p.description, kind=p.kind, file=p.file or None)
            for p in PLAYBOOKS.values()]


@router.get("/assets", response_model=list[AssetSummary])
async def assets(request: Request, user: Reader, client: ClientDep) -> list[AssetSummary]:
    """Configured assets as the workers loaded them (secrets redacted); an unavailable one says why."""
    reply = await worker_assets(client, request.app.state.settings)
    return [AssetSummary(**a.model_dump()) for a in reply.assets]


@router.post("/assets/{name}/test", response_model=AssetTest, response_model_exclude_none=True)
async def test_asset(name: str, request: Request, user: Analyst, client: ClientDep) -> AssetTest:
    """Run `test connectivity` on an asset (on a worker: the API holds no vendor secret)."""
    reply = await worker_assets(client, request.app.state.settings, test=name)
    if reply.error == "ConfigError":
        raise HTTPException(404, f"no asset {name[:80]!r}")
    assert reply.result is not None
    ok = reply.error is None and reply.result.status == "success"
    return AssetTest(asset=name, ok=ok, message=reply.result.message, error=reply.error)
