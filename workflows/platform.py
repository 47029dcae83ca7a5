"""The platform's own activities: trigger matching (with asset routes) for new containers, and the asset
catalogue the API shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client

from core.cache import Notify
from core.config.notifications import NotificationFile
from core.config.triggers import Trigger, TriggerFile, match_triggers
from core.errors import ConfigError
from core.models import ActionResult, NotifyRule, PromptPolicy
from core.runtime import AssetStore, cache_key
from core.settings import Settings
from workflows.assets import AssetInfo
from workflows.cached import SIGNAL
from workflows.messages import (
    CacheAnswer,
    CacheDelivery,
    CacheLookup,
    CacheSettle,
    MatchInput,
    MatchResult,
    TriggerMatch,
)
from workflows.registry import PLAYBOOKS

log = logging.getLogger(__name__)


class PlatformActivities:
    """Activities bound to this worker's assets and triggers (reloaded when the file changes)."""

    def __init__(self, store: AssetStore, settings: Settings, notifications: NotificationFile | None = None) -> None:
        self.store = store
        self.settings = settings
        self._triggers = TriggerFile(settings.triggers_file, PLAYBOOKS.keys())
        self._routes = store.routes()
        self._notifications = notifications or NotificationFile(settings.notifications_file, PLAYBOOKS.keys())

    def notify_routes(self) -> list[NotifyRule]:
        """The notification routes now (a file broken since start-up turns notifications off, loudly: a
        container must not fail because its announcements cannot be configured)."""
        try:
            return self._notifications.get().routes
        except (ConfigError, OSError) as e:
            log.error("notifications are off for new containers: %s", e)
            return []

    def triggers(self) -> list[Trigger]:
        """The triggers file, re-read when it changed on disk."""
        return self._triggers.get()

    @activity.defn(name="soar.match_triggers")
    async def match(self, inp: MatchInput) -> MatchResult:
        """The playbooks to start for a new container, and every asset's route."""
        if inp.playbooks is not None:
            matches = [TriggerMatch(playbook=p, run_as="automation") for p in inp.playbooks if p in PLAYBOOKS]
        else:
            matches = [TriggerMatch(playbook=t.playbook_name, run_as=t.run_as)
                       for t in match_triggers(self.triggers(), inp.container)]
        return MatchResult(matches=matches, routes=self._routes, prompt_policy=self._policy(),
                           notify=self.notify_routes())

    def _policy(self) -> PromptPolicy:
        s = self.settings
        return PromptPolicy(reminders=s.prompt_reminders, escalate_to=s.prompt_escalate_to,
                            escalate_for_s=s.prompt_escalate_for_s)

    @activity.defn(name="soar.routes")
    async def routes(self) -> MatchResult:
        """Every asset's route and the prompt policy, for starters that match triggers themselves (the API)."""
        return MatchResult(matches=[], routes=self._routes, prompt_policy=self._policy(),
                           notify=self.notify_routes())

    @activity.defn(name="soar.cached_result")
    async def cached_result(self, q: CacheLookup) -> CacheAnswer:
        """A read-only lookup's cached answer, before it is dispatched to the asset's rate-limited queue (local)."""
        found = self.store.cached_spec(q.asset, q.action)
        if found is None:
            return CacheAnswer(outcome="off", process=self.store.cache.process)
        asset, spec = found
        outcome, result = self.store.cache.lookup(cache_key(asset, spec, q.params), (q.workflow_id, q.run_id, q.token),
                                                  q.claim_s)
        return CacheAnswer(outcome=outcome, result=result, process=self.store.cache.process)

    @activity.defn(name="soar.cache_settle")
    async def cache_settle(self, s: CacheSettle) -> None:
        """End this process's claim on a lookup with the claimant's answer (fetched elsewhere) or None (local)."""
        found = self.store.cached_spec(s.asset, s.action)
        if found is not None:
            asset, spec = found
            self.store.cache.settle(cache_key(asset, spec, s.params), asset.settings.cache_ttl_s, s.result)

    @activity.defn(name="soar.asset_catalog")
    async def catalog(self) -> list[AssetInfo]:
        """Every configured asset as this worker loaded it (the unavailable ones with their reasons)."""
        s = self.store
        out = [AssetInfo(asset_name=a.asset_name, app=a.app, connector=a.connector, product_vendor=a.product_vendor,
                         product_name=a.product_name, configuration=a.configuration_redacted,
                         task_queue=s.task_queue(a), rate_limited=a.rate_limited,
                         actions=sorted(s.connectors[a.connector].actions)) for a in s.assets.values()]
        out += [AssetInfo(asset_name=u.asset_name, app=u.app, connector=u.connector, available=False,
                          reason=u.reason) for u in s.unavailable.values()]
        return sorted(out, key=lambda a: a.asset_name)

    def all(self) -> list[Callable[..., Any]]:
        """Every platform activity."""
        return [self.match, self.routes, self.catalog, self.cached_result, self.cache_settle]


def cache_notifier(client: Client) -> Notify:
    """How the worker's cache hands a waiting workflow the answer of the identical lookup it waited for."""

    async def notify(workflow_id: str, run_id: str, token: str, result: ActionResult | None) -> None:
        await client.get_workflow_handle(workflow_id, run_id=run_id).signal(
            SIGNAL, CacheDelivery(token=token, result=result))

    return notify
