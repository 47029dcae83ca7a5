"""The connector test harness: run any connector's actions in-process against an assets file.

`connector_runner(CONNECTOR, assets_fn, asset=...)` gives a `run(action, params=None, **conf)` that
writes `assets_fn(**conf)` to a file, loads it (one `AssetStore` per distinct `conf`, so a client and its
token or key live across calls) and runs the action on `asset`. Every store is closed at teardown.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from activities import discover_connectors
from core.approvals import AuthorizedAction, SignedApproval, claims_for, load_keyring, load_signer
from core.connector import Connector, raw_target
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import get_settings
from tests.helpers.config import write_assets
from tests.helpers.samba import samba_dc  # noqa: F401  (the session fixture of the AD tests)

Run = Callable[..., Awaitable[ActionResult]]


def sign_approval(action: str, target: str, connector: str, container_id: str, *, option: str = "approve",
                  valid_for: timedelta = timedelta(minutes=10)) -> SignedApproval:
    """An approval signed with the session's API key, as the API would issue it for alice (soc_tier2)."""
    s = get_settings()
    claims = claims_for(prompt_id=f"{container_id}.test.1", workflow_id="playbook/test", container_id=container_id,
                        option=option, actions=[AuthorizedAction(action=action, target=target, connector=connector)],
                        responder="alice", roles=["soc_tier2"], now=datetime.now(UTC), valid_for=valid_for)
    return load_signer(s.signing_key_path, s.approval_key_id).sign(claims)


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
            self.stores[key] = AssetStore.load(path, {self.connector.name: self.connector},
                                               keyring=load_keyring(get_settings().trusted_keys_path))
        return self.stores[key]

    async def __call__(self, action: str, params: dict[str, Any] | None = None, *, approve: bool = False,
                       container_id: str | None = None, correlation_id: str | None = None,
                       asset: str | None = None, store: AssetStore | None = None, **conf: Any) -> ActionResult:
        store = store or self.store(**conf)
        spec = self.connector.find(action)
        approval = None
        if approve:  # an analyst's signed approval of exactly this action on this target
            container_id = container_id or "SOAR-TESTAPPROVAL"
            approval = sign_approval(spec.name, raw_target(spec, params or {}), self.connector.name, container_id)
        return await store.run(spec, ActionInput(
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
