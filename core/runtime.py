"""Running connector actions in this process: the asset store (clients, cache) and the activity wrappers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.approvals import Keyring, check_quorum, trusted
from core.cache import Key, ResultCache
from core.config.assets import Assets, UnavailableAsset, load_assets
from core.connector import (
    ActionSpec,
    AssetConfig,
    Closeable,
    Connector,
    execute,
    is_high_impact,
    quorum_of,
    raw_target,
    target_of,
)
from core.errors import AssetUnavailable, ConfigError, SoarError
from core.guardrails import Guardrails, load_guardrails
from core.models import ActionInput, ActionResult, AssetRoute
from core.prometheus import observe_cache
from core.redaction import ScrubsSecrets, scrub
from core.settings import get_settings
from core.temporal import asset_task_queue

log = logging.getLogger("soar.actions")


class AssetStore:
    """The configured assets, and what lives as long as the process: one client per asset, the result cache.

    The store owns every client: it builds one per asset on first use (`Connector.client`) and closes them
    all in `aclose()`, which the worker and the CLI call on shutdown.
    """

    def __init__(self, assets: Assets, connectors: Mapping[str, Connector[Any, Any]],
                 playbook_queue: str = "soar-playbooks", keyring: Keyring | None = None,
                 guardrails: Guardrails | None = None) -> None:
        self.assets = assets.available
        self.keyring = keyring
        self.guardrails = guardrails or Guardrails()
        self.unavailable: dict[str, UnavailableAsset] = dict(assets.unavailable)
        self.connectors = dict(connectors)
        self.playbook_queue = playbook_queue
        self._clients: dict[str, Closeable] = {}
        self.cache = ResultCache(count=observe_cache)

    @classmethod
    def load(cls, path: Path, connectors: Mapping[str, Connector[Any, Any]],
             playbook_queue: str = "soar-playbooks", keyring: Keyring | None = None,
             guardrails: Guardrails | None = None) -> AssetStore:
        """Load the assets file against the given connectors.

        Args:
            keyring: the approval keys high-impact actions verify with (default: the process's trusted keys).
            guardrails: the rules response actions are checked against (default: the settings' guardrails
                file, so the CLI's actions are guarded like the worker's).

        Raises:
            ConfigError: the assets file or the guardrails file is unusable (see `load_assets`,
                `load_guardrails`).
        """
        if guardrails is None:
            guardrails = load_guardrails(get_settings().guardrails_file)
        return cls(load_assets(path, connectors), connectors, playbook_queue, keyring, guardrails)

    def get(self, name: str) -> AssetConfig:
        """The asset called `name`.

        Raises:
            AssetUnavailable: the asset is configured but its configuration is wrong (the reason says how).
            ConfigError: no such asset.
        """
        asset = self.assets.get(name)
        if asset is not None:
            return asset
        if name in self.unavailable:
            raise AssetUnavailable(f"asset '{name}' is unavailable: {self.unavailable[name].reason}")
        raise ConfigError("assets", f"asset '{name}'", "asset_name", "no such asset",
                          f"configure it or use one of: {', '.join(sorted(self.assets)) or '(none)'}")

    def connector_of(self, asset: AssetConfig) -> Connector[Any, Any]:
        """The connector serving `asset`."""
        return self.connectors[asset.connector]

    def client(self, asset: AssetConfig) -> Closeable:
        """The asset's client, built on first use and shared by every action of the asset in this process."""
        c = self._clients.get(asset.asset_name)
        if c is None:
            c = self._clients[asset.asset_name] = self.connector_of(asset).client(asset_name=asset.asset_name,
                                                                                 config=asset.settings)
            if isinstance(c, ScrubsSecrets):  # HTTP clients scrub them from every error they raise
                c.scrub_secrets(asset.secrets)
        return c

    async def aclose(self) -> None:
        """Close every client (connection pools, LDAP binds, mapped databases)."""
        clients, self._clients = list(self._clients.items()), {}
        for name, c in clients:
            try:
                await c.aclose()
            except Exception as e:  # closing must never stop a shutdown
                log.warning("closing the client of asset %s failed: %s", name, type(e).__name__)

    def task_queue(self, asset: AssetConfig) -> str:
        """Where the asset's actions run."""
        return asset_task_queue(asset.asset_name) if asset.rate_limited else self.playbook_queue

    def routes(self) -> dict[str, AssetRoute]:
        """How workflows reach every asset, keyed by asset name (unavailable ones carry their reason)."""
        out: dict[str, AssetRoute] = {}
        for a in self.assets.values():
            c = self.connectors[a.connector]
            out[a.asset_name] = AssetRoute(
                asset=a.asset_name, connector=a.connector, title=c.title, task_queue=self.task_queue(a),
                high_impact_actions=[s.name for s in c.actions.values() if is_high_impact(s, a)],
                approval_quorum={s.name: q for s in c.actions.values() if (q := quorum_of(s, a)) > 1},
                approver_role=a.settings.approver_role, cache_ttl_s=a.settings.cache_ttl_s,
                rate_limited=a.rate_limited)
        for u in self.unavailable.values():
            known = self.connectors.get(u.connector or "")
            out[u.asset_name] = AssetRoute(asset=u.asset_name, connector=u.connector or "",
                                           title=known.title if known else u.app, task_queue="",
                                           unavailable=u.reason)
        return out

    async def run(self, spec: ActionSpec, inp: ActionInput, heartbeat: Callable[..., None] | None = None,
                  ) -> ActionResult:
        """Run an action on the asset named in `inp` (outside or inside Temporal).

        Read-only actions of an asset with `cache_ttl_s > 0` are answered from a per-process cache, and
        identical lookups in flight at the same time share one vendor call: alert storms repeat indicators,
        and vendor quotas are scarce (`core.cache`; workflows consult it before they dispatch, too).

        Raises:
            AssetUnavailable, ConfigError, InvalidParameter, ApprovalRequired, ApprovalInvalid, or the
            connector's errors.
        """
        asset = self.get(inp.asset)
        connector = self.connector_of(asset)

        def authorize(spec: ActionSpec, params: BaseModel) -> None:
            given = [a for a in (inp.approval, *inp.approvals) if a is not None]
            check_quorum(self.keyring or trusted(), given, quorum=quorum_of(spec, asset), action_names=spec.names,
                         targets=(raw_target(spec, inp.params), target_of(spec, params)),
                         connector=asset.connector, container_id=inp.container_id)

        def call() -> Any:
            return execute(connector, spec, inp, asset, self.client(asset), heartbeat, authorize=authorize,
                           guard=self.guardrails)

        if not cacheable(spec, asset):
            return await call()  # type: ignore[no-any-return]
        return await self.cache.fetch(cache_key(asset, spec, inp.params), asset.settings.cache_ttl_s, call)

    def cached_spec(self, asset_name: str, action: str) -> tuple[AssetConfig, ActionSpec] | None:
        """The asset and action when the action's answers may be cached on that asset, else None."""
        asset = self.assets.get(asset_name)
        spec = self.connector_of(asset).lookup(action) if asset is not None else None
        if asset is None or spec is None or not cacheable(spec, asset):
            return None
        return asset, spec


def cacheable(spec: ActionSpec, asset: AssetConfig) -> bool:
    """Only read-only actions the asset does not mark high impact, and only with `cache_ttl_s` set: a cached
    answer never stands in for an action that changes something or needs an analyst's approval."""
    return (spec.read_only and asset.settings.cache_ttl_s > 0 and spec.name != "test connectivity"
            and not is_high_impact(spec, asset))


def cache_key(asset: AssetConfig, spec: ActionSpec, params: Mapping[str, Any]) -> Key:
    """What identifies an answer: the asset, the action and its parameters."""
    return asset.asset_name, spec.name, json.dumps(dict(params), sort_keys=True, default=str)


def to_application_error(e: BaseException, asset: AssetConfig | None) -> ApplicationError:
    """Translate our errors into Temporal's, scrubbing secrets from the message."""
    if isinstance(e, SoarError):
        retry_after = getattr(e, "retry_after", None)
        return ApplicationError(scrub(str(e), asset), type=e.type_name, non_retryable=not e.retryable,
                                next_retry_delay=retry_after)
    # A bug or an unforeseen library error: report it plainly; retried by the policy like a transient error.
    return ApplicationError(scrub(f"{type(e).__name__}: {str(e)[:300]}", asset), type="UnexpectedError")


def make_activity(store: AssetStore, connector: Connector[Any, Any], spec: ActionSpec) -> Callable[..., Any]:
    """One Temporal activity for one action, type name `<connector>.<action_snake>`."""
    name = connector.activity_name(spec)

    @activity.defn(name=name)
    async def run_action(inp: ActionInput) -> ActionResult:
        asset = store.assets.get(inp.asset)
        local = activity.info().is_local  # a local activity has no heartbeat (workflows.actions.runs_local)
        beat = None if local else asyncio.create_task(_heartbeat_loop())
        try:
            result = await store.run(spec, inp, heartbeat=None if local else activity.heartbeat)
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)) or type(e).__name__ == "CancelledError":
                raise
            err = to_application_error(e, asset)
            log.warning("action failed", extra={"action": name, "asset": inp.asset,
                                                "container_id": inp.container_id, "error": str(err),
                                                "error_type": err.type})
            raise err from None
        finally:
            if beat is not None:
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


def make_activities(store: AssetStore, connectors: Mapping[str, Connector[Any, Any]] | None = None,
                    ) -> list[Callable[..., Any]]:
    """Activities for every action of every connector."""
    connectors = connectors or store.connectors
    return [make_activity(store, c, s) for c in connectors.values() for s in c.actions.values()]
