"""Playbooks and assets (secrets redacted), and asset connectivity tests."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from api.auth import Analyst, Reader
from core.errors import ConfigError, ConnectorError
from core.models import ActionInput
from workflows.registry import PLAYBOOKS

router = APIRouter(prefix="/api/v1", tags=["catalog"])


@router.get("/playbooks")
async def playbooks(user: Reader) -> list[dict[str, Any]]:
    """Registered playbooks with title, version and manual-triage baseline."""
    return [{"name": p.name, "title": p.title, "version": p.version, "baseline_minutes": p.baseline_minutes,
             "description": p.description} for p in PLAYBOOKS.values()]


def _store(request: Request) -> Any:
    from activities import discover_connectors
    from core.runtime import AssetStore

    store = getattr(request.app.state, "assets", None)
    if store is None:
        s = request.app.state.settings
        store = AssetStore.load(s.assets_file, discover_connectors(), s.playbook_task_queue)
        request.app.state.assets = store
    return store


@router.get("/assets")
async def assets(request: Request, user: Reader) -> list[dict[str, Any]]:
    """Configured assets, secrets redacted."""
    store = _store(request)
    return [{"asset_name": a.asset_name, "app": a.app, "product_vendor": a.product_vendor,
             "product_name": a.product_name, "configuration": a.configuration_redacted,
             "task_queue": store.task_queue(a), "rate_limited": a.rate_limited,
             "actions": sorted(store.connectors[a.connector].actions)} for a in store.assets.values()]


@router.post("/assets/{name}/test")
async def test_asset(name: str, request: Request, user: Analyst) -> dict[str, Any]:
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
        return {"asset": name, "ok": False, "error": type(e).__name__, "message": str(e)}
    return {"asset": name, "ok": result.status == "success", "message": result.message}
