"""Playbooks and assets (secrets redacted), and asset connectivity tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.auth import Analyst, Reader
from core.errors import ConfigError, ConnectorError
from core.models import ActionInput
from workflows.registry import PLAYBOOKS

if TYPE_CHECKING:
    from core.runtime import AssetStore

router = APIRouter(prefix="/api/v1", tags=["catalog"])


class PlaybookSummary(BaseModel):
    """A registered playbook."""

    name: str
    title: str
    version: str
    baseline_minutes: float = Field(description="Average manual triage this playbook replaces")
    description: str


class AssetSummary(BaseModel):
    """A configured asset (secrets redacted) and where its actions run."""

    asset_name: str
    app: str
    product_vendor: str
    product_name: str
    configuration: dict[str, Any] = Field(description="The asset's configuration, secrets redacted")
    task_queue: str
    rate_limited: bool
    actions: list[str]


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
                            description=p.description) for p in PLAYBOOKS.values()]


def _store(request: Request) -> AssetStore:
    from activities import discover_connectors
    from core.runtime import AssetStore

    store: AssetStore | None = getattr(request.app.state, "assets", None)
    if store is None:
        s = request.app.state.settings
        store = AssetStore.load(s.assets_file, discover_connectors(), s.playbook_task_queue)
        request.app.state.assets = store
    return store


@router.get("/assets", response_model=list[AssetSummary])
async def assets(request: Request, user: Reader) -> list[AssetSummary]:
    """Configured assets, secrets redacted."""
    store = _store(request)
    return [AssetSummary(asset_name=a.asset_name, app=a.app, product_vendor=a.product_vendor,
                         product_name=a.product_name, configuration=a.configuration_redacted,
                         task_queue=store.task_queue(a), rate_limited=a.rate_limited,
                         actions=sorted(store.connectors[a.connector].actions)) for a in store.assets.values()]


@router.post("/assets/{name}/test", response_model=AssetTest, response_model_exclude_none=True)
async def test_asset(name: str, request: Request, user: Analyst) -> AssetTest:
    """Run `test connectivity` on an asset."""
    store = _store(request)
    try:
        asset = store.get(name)
    except ConfigError:
        raise HTTPException(404, f"no asset {name[:80]!r}") from None
    connector = store.connectors[asset.connector]
    try:
        spec = connector.find("test connectivity")
        result = await store.run(spec, ActionInput(asset=name))
    except ConnectorError as e:
        return AssetTest(asset=name, ok=False, error=type(e).__name__, message=str(e))
    return AssetTest(asset=name, ok=result.status == "success", message=result.message)
