"""`phantom.act`: one activity per asset and parameter dict, all in parallel, then the callback.

The act returns at once; its activities run on each asset's queue with the connector's declared timeout,
budget and retries (`workflows.actions.run_action`), and when all are done the callback gets Splunk's
`results` (`workflows.phantom.results`). Every activity is a numbered action of the run's report, and its
Web UI summary names the block (`url_reputation: VirusTotal url reputation: hxxp://...`).

Assets: the ones named (a name with spaces, which asset names cannot hold, matches the asset with `_`
instead), else every configured asset offering the action (filtered by `app={"name": ...}`). Parameters:
one run per dict; a `context` key and None values are kept in the echoed `parameter` and never sent to
the connector; an action without required parameters runs once when given none. `start_time` delays the
act. A high-impact act runs only as `workflows.phantom.safety` allows.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow

from workflows.phantom.base import EngineBase
from workflows.phantom.context import PhantomError
from workflows.phantom.datapaths import Block
from workflows.phantom.results import RunOutcome, act_results, action_info
from workflows.phantom.safety import APPROVE, DENY, PARAM_KIND, Chain, refusal
from workflows.phantom.targets import find_value, kind_of

with workflow.unsafe.imports_passed_through():
    from activities.catalogue import CONNECTORS
    from core.approvals import AuthorizedAction, SignedApproval
    from core.connector import snake
    from core.models import ActionRecord, ActionResult, AssetRoute, Target
    from workflows.actions import (
        ResolvedAction,
        action_priority,
        cached_at,
        find_route,
        resolve,
        run_action,
        untrusted_origin,
    )

GATE_RESPOND_IN = timedelta(minutes=15)


@dataclass
class ActRequest:
    """What `phantom.act` was asked (normalised by `phantom.rules`)."""

    action: str
    parameters: list[dict[str, Any]] | None = None
    assets: list[str] | None = None
    callback: Callable[..., Any] | None = None
    reviewer: str | None = None
    handle: Any = None
    start_time: Any = None
    name: str | None = None
    app: Any = None
    parent_action: Any = None
    targets: Any = None


@dataclass
class PlannedRun:
    """One activity of an act, resolved when the act is called (so a wrong name fails at its line)."""

    ra: ResolvedAction
    parameter: dict[str, Any]
    error: str | None = None


class ActsMixin(EngineBase):
    """Acts of a Phantom playbook run."""

    def schedule_act(self, req: ActRequest) -> int:
        """Resolve the act's activities now and run them (then the callback) as outstanding work.

        Raises:
            PhantomError, or ApplicationError (`UnknownAsset`, `UnknownAction`, `UnknownParameter`).
        """
        if not req.action:
            raise PhantomError("phantom.act: name the action")
        if req.start_time is not None and not isinstance(req.start_time, datetime):
            raise PhantomError("phantom.act: start_time must be a datetime")
        run_id = self.next_id()
        name = req.name or f"{snake(req.action)}_{run_id}"
        plan = self._plan(req)
        block = self.blocks[name] = Block(name, "action")
        self.spawn(self._act(req, block, run_id, plan, self._chain))
        return run_id

    # ---- planning ------------------------------------------------------------------------------------
    def _routes(self, req: ActRequest) -> list[AssetRoute]:
        routes = self.inp.routes
        if req.assets:
            out = []
            for name in req.assets:
                key = str(name)
                spaced = re.sub(r"[^A-Za-z0-9_.-]", "_", key.strip())
                out.append(find_route(routes, spaced if key not in routes and spaced in routes else key))
        else:
            out = [r for r in routes.values() if r.unavailable is None and r.connector in CONNECTORS
                   and CONNECTORS[r.connector].lookup(req.action) is not None]
        if req.app:
            app = str(req.app.get("name", "") if isinstance(req.app, dict) else req.app).lower()
            out = [r for r in out if r.connector in CONNECTORS
                   and app in (n.lower() for n in CONNECTORS[r.connector].app_names)]
        if not out:
            raise PhantomError(f"phantom.act: no configured asset offers {req.action!r}"
                               + (f" in app {req.app!r}" if req.app else ""))
        return out

    def _param_sets(self, req: ActRequest, route: AssetRoute) -> list[tuple[dict[str, Any], Any]]:
        given = req.parameters
        if isinstance(given, dict):
            given = [given]
        if given is not None and not (isinstance(given, list) and all(isinstance(p, dict) for p in given)):
            raise PhantomError("phantom.act: parameters must be a list of dicts")
        targets = req.targets if isinstance(req.targets, list) else [req.targets]
        if req.targets is not None and isinstance(req.targets, list):
            base = given[0] if given else {}
            return [(dict(base), t) for t in targets]
        if not given:
            connector = CONNECTORS.get(route.connector)
            spec = connector.lookup(req.action) if connector is not None else None
            needs = spec is not None and any(f.is_required() for f in spec.params.model_fields.values())
            given = [{}] if req.targets is not None or not needs else []
        return [(dict(p), req.targets) for p in given]

    def _plan(self, req: ActRequest) -> list[PlannedRun]:
        plan: list[PlannedRun] = []
        artifacts = self.box.artifact_dicts()
        for route in self._routes(req):
            for given, target in self._param_sets(req, route):
                clean = {k: v for k, v in given.items() if k != "context" and v is not None}
                ra = resolve(self.inp.routes, route.asset, req.action, clean)
                error = None
                if target is not None and ra.spec is not None and ra.spec.target and not ra.target:
                    kind = kind_of(ra.spec.target)
                    alias = ra.spec.params.model_fields[ra.spec.target].validation_alias
                    names = (ra.spec.target, *(c for c in getattr(alias, "choices", ()) if isinstance(c, str)))
                    value = find_value(target, kind, names, artifacts) if kind else None
                    if value is None:
                        error = (f"targets=: no {kind or ra.spec.target} value in the target or the container's "
                                 "artifacts")
                    else:
                        given[ra.spec.target] = value
                        ra = resolve(self.inp.routes, route.asset, req.action, {**clean, ra.spec.target: value})
                if req.parent_action is not None and isinstance(given.get("context"), dict):
                    given["context"].setdefault("parent_action_run", req.parent_action)
                plan.append(PlannedRun(ra=ra, parameter=given, error=error))
        return plan

    # ---- running -------------------------------------------------------------------------------------
    async def _act(self, req: ActRequest, block: Block, run_id: int, plan: list[PlannedRun],
                   chain: Chain | None) -> None:
        if req.start_time is not None:
            when = req.start_time if req.start_time.tzinfo else req.start_time.replace(tzinfo=UTC)
            delay = (when - workflow.now()).total_seconds()
            if delay > 0:
                await workflow.sleep(delay, summary=f"{block.name}: start_time")
        outcomes = await asyncio.gather(*(self._run_one(req, block.name, p, chain) for p in plan))
        first = self._seq + 1
        self._seq += len({o.asset for o in outcomes})
        block.results = act_results(req.action, block.name, run_id, first, list(outcomes))
        block.done = True
        self.callback(req.callback, chain, action=action_info(req.action, block.name, run_id),
                      success=any(o.result.status == "success" for o in outcomes),
                      container=self.box.container_dict(), results=copy.deepcopy(block.results), handle=req.handle,
                      filtered_artifacts=[], filtered_results=[], custom_function=None)

    async def _run_one(self, req: ActRequest, block: str, p: PlannedRun, chain: Chain | None) -> RunOutcome:
        ra = p.ra
        app = CONNECTORS[ra.route.connector].app if ra.route.connector in CONNECTORS else ra.route.title

        def outcome(r: ActionResult) -> RunOutcome:
            return RunOutcome(asset=ra.route.asset, app=app, connector=ra.route.connector, parameter=p.parameter,
                              result=r)

        if p.error is not None:
            self._record(ra, workflow.now(), "failed", p.error)
            return outcome(ActionResult(status="failed", message=p.error))
        approval: SignedApproval | None = None
        forged = untrusted_origin(ra, self.box.model)
        if forged and not workflow.patched("sender-written-targets-need-approval"):
            forged = None
        if req.reviewer or ra.high_impact or forged:
            role = req.reviewer or ra.route.approver_role
            if not req.reviewer and chain is not None and chain.covers(ra):
                approval = chain.approval
            else:
                started = workflow.now()
                d = await self._gate(ra, block, role)
                if d.option != APPROVE or d.approval is None:
                    why = refusal(d, role)
                    self.comment(f"{block}: {ra.title} on {ra.target or '(no target)'} was not run: {why}")
                    self.staged()
                    self._record(ra, started, "skipped", f"Not run: {why}")
                    return outcome(ActionResult(status="failed", message=f"{ra.action} {why}"))
                approval = d.approval
        started = workflow.now()
        self._index += 1
        idx = self._index
        result = await run_action(ra, container_id=self.container_id, approval=approval, label=block,
                                  correlation_id=f"{workflow.info().workflow_id}#{idx}",
                                  priority=action_priority(ra, self.box.model.severity.value),
                                  version=self.inp.version, require_approval=forged is not None)
        self._record(ra, started, result.status, result.message, result.summary, idx, cached_at(result))
        return outcome(result)

    def _record(self, ra: ResolvedAction, started: datetime, status: str, message: str,
                summary: dict[str, Any] | None = None, idx: int | None = None,
                cached: datetime | None = None) -> None:
        if idx is None:
            self._index += 1
            idx = self._index
        self._records.append(ActionRecord(
            index=idx, action=ra.action, connector=ra.route.connector, title=ra.route.title,
            asset=ra.route.asset, target=ra.target, started=started,
            duration_s=(workflow.now() - started).total_seconds(), status=status,  # type: ignore[arg-type]
            message=message[:300], summary=summary or {}, cached_at=cached))

    async def _gate(self, ra: ResolvedAction, block: str, role: str) -> Any:
        """Ask `role` to approve exactly this action on exactly this target (Approve/Deny, Deny on timeout)."""
        target = ra.target
        kind = PARAM_KIND.get(ra.spec.target or "", ra.spec.target or "target") if ra.spec else "target"
        shown = [Target(kind=kind, value=target, source=self.box.model.provenance(target))] if target else []
        grant = [AuthorizedAction(action=ra.action, target=target, connector=ra.route.connector)]
        return await self.prompt(
            role=role, options=[APPROVE, DENY], on_timeout=DENY, respond_in=GATE_RESPOND_IN,
            message=(f"Playbook {self.meta.title} asks to run {ra.title} on {target or '(no target)'} "
                     f"(block {block}). Approve?"),
            authorizes={APPROVE: grant, DENY: []}, targets=shown,
            next_steps={APPROVE: f"{ra.title} will run '{ra.action}' on {target}",
                        DENY: "the action is not run; the playbook's callback sees it as failed"})
