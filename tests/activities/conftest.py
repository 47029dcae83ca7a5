"""The connector test harness: run any connector's actions in-process against an assets file.

`connector_runner(CONNECTOR, assets_fn, asset=...)` gives a `run(action, params=None, **conf)` that
writes `assets_fn(**conf)` to a file, loads it (one `AssetStore` per distinct `conf`, so a client and its
token or key live across calls) and runs the action on `asset`. Every store is closed at teardown.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities import discover_connectors
from core.connector import Connector
from core.models import ActionInput, ActionResult, Approval
from core.runtime import AssetStore
from tests.helpers.config import write_assets
from tests.helpers.samba import samba_dc  # noqa: F401  (the session fixture of the AD tests)

Run = Callable[..., Awaitable[ActionResult]]


class ConnectorRunner:
    """Runs one connector's actions; keeps one store per configuration override."""

    def __init__(self, tmp_path: Path, connector: Connector[Any, Any],
                 assets: Callable[..., list[dict[str, Any]]], asset: str) -> None:
        self.tmp_path, self.connector, self.assets_fn, self.asset = tmp_path, connector, assets, asset
        self.stores: dict[str, AssetStore] = {}

    def store(self, **conf: Any) -> AssetStore:
        """The store for this configuration override (created on first use)."""
        key = json.dumps(conf, sort_keys=True, default=str)
        if key not in self.stores:
            path = write_assets(self.tmp_path / f"assets-{self.connector.name}-{len(self.stores)}.json",
                                self.assets_fn(**conf))
            self.stores[key] = AssetStore.load(path, {self.connector.name: self.connector})
        return self.stores[key]

    async def __call__(self, action: str, params: dict[str, Any] | None = None, *, approve: bool = False,
                       container_id: str | None = None, correlation_id: str | None = None,
                       asset: str | None = None, store: AssetStore | None = None, **conf: Any) -> ActionResult:
        store = store or self.store(**conf)
        approval = Approval(prompt_id="test", responder="alice", option="approve",
                            approved_at=datetime.now(UTC)) if approve else None
        return await store.run(self.connector.find(action), ActionInput(
            asset=asset or self.asset, params=params or {}, approval=approval, container_id=container_id,
            correlation_id=correlation_id))

    async def aclose(self) -> None:
        """Close every store's clients."""
        for s in self.stores.values():
            await s.aclose()


@pytest.fixture
async def connector_runner(tmp_path: Path) -> AsyncIterator[Callable[..., ConnectorRunner]]:
    """A factory of `ConnectorRunner`s, all closed at teardown."""
    made: list[ConnectorRunner] = []

    def make(connector: Connector[Any, Any], assets: Callable[..., list[dict[str, Any]]],
             asset: str) -> ConnectorRunner:
        r = ConnectorRunner(tmp_path, connector, assets, asset)
        made.append(r)
        return r

    yield make
    for r in made:
        await r.aclose()


@pytest.fixture(scope="session")
def connectors() -> dict[str, Connector[Any, Any]]:
    """Every discovered connector."""
    return discover_connectors()
