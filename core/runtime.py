"""Running connector actions in this process: the asset store and the Temporal activity wrappers."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.config.assets import AssetConfig, load_assets
from core.connector import ActionSpec, Connector, execute, scrub
from core.errors import ConfigError, SoarError
from core.models import ActionInput, ActionResult, AssetRoute
from core.temporal import asset_task_queue

log = logging.getLogger("soar.actions")


class AssetStore:
    """The configured assets plus per-asset, process-lifetime state (HTTP clients, tokens)."""

    def __init__(self, assets: dict[str, AssetConfig], connectors: dict[str, Connector],
                 playbook_queue: str = "soar-playbooks") -> None:
        self.assets = assets
        self.connectors = connectors
        self.playbook_queue = playbook_queue
        self._state: dict[str, dict[str, Any]] = {}
        self._cache: dict[tuple[str, str, str], tuple[float, ActionResult]] = {}
        self._inflight: dict[tuple[str, str, str], asyncio.Future[ActionResult]] = {}

    @classmethod
    def from_file(cls, path: Path, playbook_queue: str = "soar-playbooks") -> AssetStore:
        """Load the assets file (validated against the discovered connectors)."""
        from activities import discover_connectors

        connectors = discover_connectors()
        return cls(load_assets(path, connectors), connectors, playbook_queue)

    def get(self, name: str) -> AssetConfig:
        """The asset called `name`.

        Raises:
            ConfigError: no such asset.
        """
        try:
            return self.assets[name]
        except KeyError:
            raise ConfigError("assets", f"asset '{name}'", "asset_name", "no such asset",
                              f"configure it or use one of: {', '.join(sorted(self.assets)) or '(none)'}") from None

    def state(self, name: str) -> dict[str, Any]:
        """Mutable per-asset state that lives as long as the process."""
        return self._state.setdefault(name, {})

    def task_queue(self, asset: AssetConfig) -> str:
        """Where the asset's actions run."""
        return asset_task_queue(asset.asset_name) if asset.rate_limited else self.playbook_queue

    def routes(self) -> dict[str, AssetRoute]:
        """Route of every asset, keyed by asset name and also by connector name (first asset wins)."""
        out: dict[str, AssetRoute] = {}
        for a in self.assets.values():
            r = AssetRoute(asset=a.asset_name, connector=a.connector,
                           title=self.connectors[a.connector].title, task_queue=self.task_queue(a))
            out[a.asset_name] = r
            out.setdefault(a.connector, r)
        return out

    async def run(self, connector: Connector, spec: ActionSpec, inp: ActionInput,
                  heartbeat: Callable[..., None] | None = None) -> ActionResult:
        """Run an action on the asset named in `inp` (outside or inside Temporal).

        Read-only actions of an asset with `cache_ttl_s > 0` are answered from a per-process cache, and
        identical lookups in flight at the same time share one vendor call: alert storms repeat indicators,
        and vendor quotas are scarce.
        """
        asset = self.get(inp.asset)
        ttl = float(getattr(asset.settings, "cache_ttl_s", 0) or 0)
        if not spec.read_only or ttl <= 0 or spec.name == "test connectivity":
            return await execute(connector, spec, inp, asset, self.state(asset.asset_name), heartbeat)
        key = (asset.asset_name, spec.name, json.dumps(inp.params, sort_keys=True, default=str))
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        fut: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            result = await execute(connector, spec, inp, asset, self.state(asset.asset_name), heartbeat)
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._inflight.pop(key, None)
        fut.set_result(result)
        if result.status == "success":
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[key] = (now + ttl, result)
        return result


def to_application_error(e: BaseException, asset: AssetConfig | None) -> ApplicationError:
    """Translate our errors into Temporal's, scrubbing secrets from the message."""
    if isinstance(e, SoarError):
        retry_after = getattr(e, "retry_after", None)
        return ApplicationError(scrub(str(e), asset), type=e.type_name, non_retryable=not e.retryable,
                                next_retry_delay=retry_after)
    # A bug or an unforeseen library error: report it plainly; retried by the policy like a transient error.
    return ApplicationError(scrub(f"{type(e).__name__}: {str(e)[:300]}", asset), type="UnexpectedError")


def make_activity(store: AssetStore, connector: Connector, spec: ActionSpec) -> Callable[..., Any]:
    """One Temporal activity for one action, type name `<connector>.<action_snake>`."""
    name = connector.activity_name(spec)

    @activity.defn(name=name)
    async def run_action(inp: ActionInput) -> ActionResult:
        asset = store.assets.get(inp.asset)
        beat = asyncio.create_task(_heartbeat_loop())
        try:
            result = await store.run(connector, spec, inp, heartbeat=activity.heartbeat)
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)) or type(e).__name__ == "CancelledError":
                raise
            err = to_application_error(e, asset)
            log.warning("action failed", extra={"action": name, "asset": inp.asset,
                                                "container_id": inp.container_id, "error": str(err),
                                                "error_type": err.type})
            raise err from None
        finally:
            beat.cancel()
        return result

    return run_action


HEARTBEAT_EVERY_S = 2.0


async def _heartbeat_loop() -> None:
    """Heartbeat while an action runs, so a dead worker is noticed within the heartbeat timeout
    (not after the whole start-to-close timeout) and the action is retried elsewhere."""
    while True:
        await asyncio.sleep(HEARTBEAT_EVERY_S)
        activity.heartbeat()


def make_activities(store: AssetStore, connectors: dict[str, Connector] | None = None) -> list[Callable[..., Any]]:
    """Activities for every action of every connector."""
    connectors = connectors or store.connectors
    return [make_activity(store, c, s) for c in connectors.values() for s in c.actions.values()]
