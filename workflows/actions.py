"""Connector actions from workflow code: resolve a name against the catalogue, then run it as an activity.

Shared by native playbooks (`Playbook.act`) and the Phantom engine. Everything about an action comes from
its connector's declaration (`core.connector.ActionSpec`): the activity type, the target parameter, the
per-attempt timeout and the retry budget, whether it is read-only or high impact.

A name that matches nothing (asset, connector, action, parameter) is a playbook bug, not a failed lookup:
`resolve` raises a non-retryable `ApplicationError` that fails the run with the name and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import Priority
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.catalogue import CONNECTORS
    from core.approvals import SignedApproval
    from core.cef import defang
    from core.connector import ActionSpec, raw_target, snake
    from core.models import ActionInput, ActionResult, AssetRoute, Container
    from core.temporal import CONNECTOR_RETRY
    from workflows import cached
    from workflows.versions import CACHE_BEFORE_QUOTA, LOCAL_LOOKUPS

ACTION_HEARTBEAT = timedelta(seconds=10)  # the activity wrapper beats every 2 s
# A lookup this short at most (per attempt) may run as a local activity (see `runs_local`).
LOCAL_MAX_TIMEOUT = timedelta(minutes=2)
# Fair shares of a rate-limited asset's quota while work of several severities waits for it (Temporal task
# queue fairness): a high-severity lookup starts at the next free slot however many low ones wait, and low
# ones still get 1 slot in 12 (8 + 3 + 1) when every band is busy, so nothing starves.
SEVERITY_WEIGHTS = {"high": 8.0, "medium": 3.0, "low": 1.0}


def _fail(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind, non_retryable=True)


@dataclass(frozen=True)
class ResolvedAction:
    """An action bound to an asset: what to run, where, with which parameters."""

    route: AssetRoute
    spec: ActionSpec | None
    action: str
    params: dict[str, Any]

    @property
    def activity(self) -> str:
        """The activity type, `<connector>.<action_snake>`."""
        return f"{self.route.connector}.{self.spec.snake if self.spec else snake(self.action)}"

    @property
    def target(self) -> str:
        """The value of the action's target parameter (what it acts on), or ''."""
        return raw_target(self.spec, self.params) if self.spec is not None else ""

    @property
    def high_impact(self) -> bool:
        """Whether the asset requires an analyst's approval for this action."""
        return self.spec is not None and (self.spec.high_impact or self.spec.name in self.route.high_impact_actions)

    @property
    def title(self) -> str:
        """`VirusTotal url reputation`."""
        return f"{self.route.title} {self.spec.name if self.spec else self.action}"


def find_route(routes: dict[str, AssetRoute], name: str) -> AssetRoute:
    """The asset called `name`, or the only asset of the connector called `name`.

    Raises:
        ApplicationError: `UnknownAsset` or `AmbiguousAsset` (non-retryable), naming the choices.
    """
    route = routes.get(name)
    if route is not None:
        return route
    same = sorted(r.asset for r in routes.values() if r.connector == name)
    if len(same) == 1:
        return routes[same[0]]
    if same:
        raise _fail("AmbiguousAsset", f"{len(same)} assets use the {name} connector ({', '.join(same)}); "
                                      "name the asset in act()")
    known = ", ".join(sorted(routes)) or "(none configured)"
    hint = " (a connector of that name exists, but no asset of it is configured)" if name in CONNECTORS else ""
    raise _fail("UnknownAsset", f"no asset or connector named {name!r}{hint}. Fix: configure an asset for it, "
                                f"or use one of: {known}")


def resolve(routes: dict[str, AssetRoute], asset: str, action: str, params: dict[str, Any]) -> ResolvedAction:
    """Bind `action` on `asset` (an asset name, or a connector with one asset) and check every name.

    Raises:
        ApplicationError: `UnknownAsset`, `AmbiguousAsset`, `UnknownAction` or `UnknownParameter`.
    """
    route = find_route(routes, asset)
    connector = CONNECTORS.get(route.connector)
    if connector is None:  # an unavailable asset whose app is unknown: the run reports the asset's reason
        return ResolvedAction(route=route, spec=None, action=action, params=dict(params))
    spec = connector.lookup(action)
    if spec is None:
        raise _fail("UnknownAction", f"{connector.title} has no action {action!r}. Fix: use one of: "
                                     f"{', '.join(sorted(connector.actions))}")
    unknown = sorted(set(params) - spec.param_names())
    if unknown:
        raise _fail("UnknownParameter", f"{connector.title} '{spec.name}' has no parameter "
                                        f"{', '.join(map(repr, unknown))}. Fix: use "
                                        f"{', '.join(sorted(spec.params.model_fields)) or 'no parameters'}")
    return ResolvedAction(route=route, spec=spec, action=spec.name, params=dict(params))


Approvals = SignedApproval | list[SignedApproval] | None
# Where a value came from (`Artifact.provenance`) when its sender can write it: an e-mail's Received: hop that
# no relay of ours recorded. A forged bottom hop is how a phisher gets a victim to block a partner's IP.
SENDER_WRITTEN = frozenset({"received_header"})


def untrusted_origin(ra: ResolvedAction, container: Container) -> str | None:
    """Why this side-effecting action needs an analyst's approval although its asset does not mark it high
    impact, or None: its target appears in the container only in values the alert's sender could forge."""
    if ra.spec is None or ra.spec.read_only or ra.high_impact or not ra.target:
        return None
    origins = container.origins(ra.target)
    if origins and origins <= SENDER_WRITTEN:
        return (f"{ra.target} comes only from a Received: header of the reported e-mail that none of our relays "
                "recorded, which the sender can forge")
    return None


def cached_at(result: ActionResult) -> datetime | None:
    """When a cached answer was fetched from the vendor (None: this run's own call)."""
    return result.cache.stored_at if result.cache is not None and result.cache.hit else None


def action_priority(ra: ResolvedAction, severity: str) -> Priority | None:
    """How the asset's queue orders this action: the severity's fair share (`SEVERITY_WEIGHTS`) on a
    rate-limited asset, where work can wait for the quota; None (the default) elsewhere."""
    if not ra.route.rate_limited:
        return None
    band = severity if severity in SEVERITY_WEIGHTS else "medium"
    return Priority(fairness_key=f"severity-{band}", fairness_weight=SEVERITY_WEIGHTS[band])


def runs_local(ra: ResolvedAction) -> bool:
    """Whether `ra` runs as a local activity of the workflow's worker rather than as an activity task: a
    read-only lookup, not high impact, on an asset without a rate limit (so it would run on the playbook queue,
    whose eager dispatch hands it to this same worker anyway), with a short timeout. It then costs the server
    no activity task at all: a playbook of lookups is one workflow task instead of three or four, and no
    round trip sits between the lookups and the decision. Actions that change something, need an approval
    or wait for a quota stay activities (their own retries, heartbeats and history events)."""
    return (ra.spec is not None and ra.spec.read_only and not ra.high_impact and not ra.route.rate_limited
            and ra.spec.timeout <= LOCAL_MAX_TIMEOUT and ra.route.unavailable is None)


async def run_action(ra: ResolvedAction, *, container_id: str, correlation_id: str, approval: Approvals = None,
                     label: str | None = None, priority: Priority | None = None, version: int = 0,
                     require_approval: bool = False) -> ActionResult:
    """Run a resolved action as an activity on its asset's queue.

    A failure after the connector's retry policy gives a `failed` result, never an exception, so the
    playbook decides what a failed lookup means (it never means "clean"). An unavailable asset fails at
    once, with the loader's reason. `approval` is one signed approval, or several (a quorum).
    """
    result, _ = await run_action_typed(ra, container_id=container_id, correlation_id=correlation_id,
                                       approval=approval, label=label, priority=priority, version=version,
                                       require_approval=require_approval)
    return result


async def run_action_typed(ra: ResolvedAction, *, container_id: str, correlation_id: str, approval: Approvals = None,
                           label: str | None = None, priority: Priority | None = None, version: int = 0,
                           require_approval: bool = False) -> tuple[ActionResult, str | None]:
    """`run_action`, plus the error type of a failure (`ApprovalInvalid`, `GuardrailRefused`, ...). `version` is
    the run's (`PlaybookInput.version`): what it may do differently from runs started by older code.
    `require_approval` has the activity verify the approval as for a high-impact action."""
    approvals = approval if isinstance(approval, list) else [approval] if approval is not None else []
    if ra.route.unavailable is not None or ra.spec is None:
        reason = ra.route.unavailable or f"asset {ra.route.asset} has no connector"
        return ActionResult(status="failed", message=f"asset '{ra.route.asset}' is unavailable: {reason}"[:500]), \
            "AssetUnavailable"
    summary = f"{ra.title}: {defang(ra.target)}" if ra.target else ra.title
    if label:
        summary = f"{label}: {summary}"
    before = await cached.before_dispatch(ra, correlation_id) \
        if version >= CACHE_BEFORE_QUOTA and cached.applies(ra) and not require_approval else cached.Before()
    if before.result is not None:
        return before.result, None  # answered from the cache: no task on the asset's queue, no quota spent
    local = version >= LOCAL_LOOKUPS and runs_local(ra) and not require_approval
    result, error = await _dispatch(ra, summary, container_id, correlation_id, approvals, priority, local,
                                    require_approval)
    await cached.after_dispatch(ra, before, result if error is None else None)
    return result, error


async def _dispatch(ra: ResolvedAction, summary: str, container_id: str, correlation_id: str,
                    approvals: list[SignedApproval], priority: Priority | None, local: bool,
                    require_approval: bool) -> tuple[ActionResult, str | None]:
    assert ra.spec is not None
    inp = ActionInput(asset=ra.route.asset, params=ra.params, approval=approvals[0] if approvals else None,
                      approvals=approvals[1:], container_id=container_id, correlation_id=correlation_id,
                      require_approval=require_approval)
    try:
        if local:
            return await workflow.execute_local_activity(
                ra.activity, inp, start_to_close_timeout=ra.spec.timeout, schedule_to_close_timeout=ra.spec.budget,
                retry_policy=CONNECTOR_RETRY, summary=summary[:200], result_type=ActionResult), None
        result: ActionResult = await workflow.execute_activity(
            ra.activity, inp,
            task_queue=ra.route.task_queue,
            start_to_close_timeout=ra.spec.timeout,
            schedule_to_close_timeout=ra.spec.budget,
            heartbeat_timeout=ACTION_HEARTBEAT,
            retry_policy=CONNECTOR_RETRY,
            summary=summary[:200],
            priority=priority or Priority.default,
            result_type=ActionResult,
        )
    except FailureError as e:  # an activity's ActivityError; a local activity's own failure (ApplicationError, ...)
        cause = e.cause if isinstance(e, ActivityError) else e
        if isinstance(cause, ApplicationError):
            return ActionResult(status="failed", message=cause.message[:500]), cause.type
        return ActionResult(status="failed", message=str(cause or e)[:500]), type(cause).__name__
    return result, None
