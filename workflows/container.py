"""The container entity workflow: one per container (`container/<id>`), the system of record for its
artifacts, comments, severity, status, disposition, runs and pending prompts. It starts the playbooks
that its triggers match as child workflows and completes when the container is closed."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeKey, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.models import (
        Artifact,
        AuditEvent,
        ContainerEvent,
        Prompt,
        Status,
    )
    from core.models.container import artifact_digest
    from core.temporal import (
        INTERNAL_RETRY,
        SA_AUTO_RESOLVED,
        SA_AWAITING_PROMPT,
        SA_DISPOSITION,
        SA_LAST_AUDIT,
        SA_PLAYBOOK,
        SA_SEVERITY,
        SA_STATUS,
    )
    from workflows.budget import MAX_ARTIFACTS
    from workflows.container_runs import RunsMixin
    from workflows.messages import (
        AnalystChange,
        ChangeAck,
        ContainerInput,
        ContainerState,
        ContainerView,
        MatchInput,
        MatchResult,
        MoreAlert,
        MoreAlertAck,
        RunEnded,
        RunPlaybookRequest,
    )
    from workflows.notifier import PromptNotifier
    from workflows.registry import PLAYBOOK_TYPES
    from workflows.versions import MATCHED_AT_INGEST



@workflow.defn(name="ContainerWorkflow")
class ContainerWorkflow(RunsMixin):
    """The container entity workflow."""

    @workflow.init
    def __init__(self, inp: ContainerInput) -> None:
        # State exists before the first handler runs: an analyst update may arrive in the very first
        # workflow task (right after ingestion, or right after continue-as-new).
        self._prompts: dict[str, Prompt] = {p.id: p for p in inp.prompts}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._version = inp.version
        self._started: set[str] = set()
        self._handed: set[str] = set()
        self._returned: dict[str, RunEnded] = {}
        self._adopted: set[str] = set(inp.adopted)
        self._respond_in_s: float | None = inp.respond_in_s
        self._close_requested = False
        self._analyst_closed = False
        self._sa: dict[str, object] = {}
        self._artifact_bytes: int | None = None
        self._matched = inp.state is not None
        self._notifier = PromptNotifier(self._notification_failed)
        self.s: ContainerState | None = inp.state
        if inp.reopen is not None:
            self._reopen_state(inp.reopen)  # before any handler runs: an update in the first task sees it open
        if self.s is None:
            c = inp.container
            if c.created is None:
                c.created = workflow.now()
            self.s = ContainerState(container=c)
            for note in inp.notes[:50]:
                self._add_comment("ingest", note)

    @workflow.run
    async def run(self, inp: ContainerInput) -> ContainerView:
        """Match triggers, start playbooks, apply changes until closed."""
        # Decide patches before the first await, so the marker sits at the same point on every replay.
        # (issue 16) A start that carries its matches needs neither the local activity nor a patch marker
        # (whose TemporalChangeVersion upsert is a visibility write): see workflows/versions.py.
        at_ingest = inp.matched is not None and inp.version >= MATCHED_AT_INGEST
        lean_start = (inp.state is None and inp.predicted is not None
                      and (at_ingest or workflow.patched("lean-start-attributes")))
        if inp.state is None:  # (a continued-as-new run has no children left and skips matching)
            c = self.state.container
            match: MatchResult = inp.matched if at_ingest and inp.matched else await workflow.execute_local_activity(
                "soar.match_triggers", MatchInput(container=c, playbooks=inp.playbooks),
                result_type=MatchResult, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=INTERNAL_RETRY,
            )
            self.state.routes = match.routes
            self.state.prompt_policy = match.prompt_policy
            self.state.notify = match.notify
            if c.status == Status.NEW and match.matches:
                c.status = Status.OPEN
            for m in match.matches:
                self._start_playbook(m.playbook, m.run_as, None)
            self._matched = True
            if lean_start:
                # The starter already wrote these at start: skip a visibility write per alert.
                self._sa.update({"sev": c.severity.value, "status": Status.OPEN.value, "pb": inp.predicted,
                                 "disp": "", "await": False, "auto": False})
        elif inp.reopen is not None and (inp.reopen.artifacts or inp.reopen.playbooks):
            r = inp.reopen
            self._merge(r.artifacts, r.playbooks, r.run_as, r.by, [])
        self._upsert()
        while True:
            await workflow.wait_condition(
                lambda: self._finished() or self._should_continue_as_new())
            if self._finished():
                break
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self._finished() or not self._should_continue_as_new():
                continue  # an analyst closed it, or a run started, while the handlers finished
            if any(w not in self._handed for w in self._tasks):
                await self._hand_over()  # runs in flight report to the next run (workflows/container_runs.py)
                continue  # then look again: a run may have ended or started meanwhile
            prompts, adopted = self._carried()
            workflow.continue_as_new(ContainerInput(container=self.state.container, state=self.state,
                                                    respond_in_s=self._respond_in_s, version=self._version,
                                                    prompts=prompts, adopted=adopted))
        if self._tasks or self._adopted:  # an analyst closed it: cancel what still runs or waits
            await self._cancel_runs()
        await self._notifier.drain()
        self._prompts.clear()
        self.state.awaiting_prompt = False
        if self.state.container.closed is None:
            self.state.container.closed = workflow.now()
        self._upsert()
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    # ---- changes ------------------------------------------------------------------------------------
    @workflow.signal
    def apply_event(self, e: ContainerEvent) -> None:
        """A playbook step's batched changes."""
        self._apply(e)
        self._upsert()

    def _apply(self, e: ContainerEvent) -> None:
        c = self.state.container
        for text in e.comments:
            self._add_comment(e.author, text)
        self._apply_fields(e)
        self._add_artifacts(e.author, e.artifacts)
        self._record_audit(e.audit)
        self._prompt_events(e.prompt_events)
        for n in e.notes:  # Phantom playbooks' notes and pins read as comments
            self._add_comment(e.author, f"Note: {n.title}\n\n{n.content}" if n.title else f"Note: {n.content}")
        for pin in e.pins:
            self._add_comment(e.author, f"Pinned: {pin.message}" + (f" ({pin.data})" if pin.data else ""))
        for p in e.prompts_opened:
            self._prompts[p.id] = p
        for pid in e.prompts_closed:
            self._prompts.pop(pid, None)
        self.state.awaiting_prompt = bool(self._prompts)
        self._notifier.observe(e, c, self.state.notify)
        if e.status is not None and c.status != Status.CLOSED:
            self._apply_status(e, e.status)

    def _notification_failed(self, audit: AuditEvent, comment: str) -> None:
        """A channel could not be reached (workflows/notifier.py: why notifications are sent from here)."""
        self._record_audit([audit])
        self._add_comment("system", comment)
        self._upsert()

    @workflow.signal
    def record_audit(self, e: AuditEvent) -> None:
        """An audit event from the API (an answer it refused, an operation a role does not allow)."""
        self._record_audit([e])
        self._upsert()

    @workflow.update
    async def change(self, ch: AnalystChange) -> ChangeAck:
        """An analyst's change: comment, status, severity, owner, disposition, artifacts."""
        ev = ContainerEvent(author=ch.user, comments=[ch.comment] if ch.comment else [], severity=ch.severity,
                            owner=ch.owner, disposition=ch.disposition, artifacts=ch.artifacts)
        if ch.status is not None and ch.status != Status.CLOSED:
            ev.status = ch.status
        self._apply(ev)
        if ch.status is not None:
            self._add_comment(ch.user, f"Status set to {ch.status.value}")
        if ch.status == Status.CLOSED:
            self._analyst_closed = True
            self._close_requested = True
        self._upsert()
        c = self.state.container
        return ChangeAck(container_id=c.id or "", status=c.status, severity=c.severity, owner=c.owner,
                         disposition=self.state.disposition, comments=len(self.state.comments),
                         artifacts=len(c.artifacts))

    @change.validator
    def _validate_change(self, ch: AnalystChange) -> None:
        if self.s is None:
            raise ApplicationError("container is still starting; retry", type="NotReady")
        if self.state.container.status == Status.CLOSED or self._finished():
            raise ApplicationError(f"container {self.state.container.id} is closed", type="ContainerClosed")
        if len(self.state.container.artifacts) + len(ch.artifacts) > MAX_ARTIFACTS:
            raise ApplicationError(f"a container holds at most {MAX_ARTIFACTS} artifacts", type="TooManyArtifacts")

    @workflow.update
    async def add_alert(self, more: MoreAlert) -> MoreAlertAck:
        """The same alert again: merge its new artifacts (deduplicated by content) and run its playbooks on them."""
        return self._merge(more.artifacts, more.playbooks, more.run_as, more.source, more.notes,
                           run_automation=more.run_automation, count_alert=more.count_alert)

    @add_alert.validator
    def _validate_add_alert(self, more: MoreAlert) -> None:
        if self.s is None or not self._matched:
            raise ApplicationError("container is still starting; retry", type="NotReady")
        if self.state.container.status == Status.CLOSED or self._finished():
            raise ApplicationError(f"container {self.state.container.id} is closed", type="ContainerClosed")

    def _merge(self, artifacts: list[Artifact], playbooks: list[str], run_as: str, source: str,
               notes: list[str], *, run_automation: bool = True, count_alert: bool = True) -> MoreAlertAck:
        c = self.state.container
        known = {artifact_digest(a) for a in c.artifacts}
        fresh: list[Artifact] = []
        flags: list[bool] = []
        for a in artifacts:
            d = artifact_digest(a)
            flags.append(d not in known)
            if d not in known:
                known.add(d)
                fresh.append(a)
        if count_alert:
            self.state.alerts += 1
        added = self._add_artifacts(source, fresh)
        for note in notes[:20]:
            self._add_comment("ingest", note)
        started: list[str] = []
        if not run_automation:
            self.state.unautomated += len(added)
        elif added or self.state.unautomated:
            scope = c.artifacts[len(c.artifacts) - len(added) - self.state.unautomated:]
            self.state.unautomated = 0
            started = self._run_on(scope, playbooks, run_as)
        self._upsert()
        return MoreAlertAck(artifacts_added=len(added), artifacts_duplicate=len(artifacts) - len(fresh),
                            playbooks=started, added=flags)

    def _run_on(self, scope: list[Artifact], playbooks: list[str], run_as: str) -> list[str]:
        """Run `playbooks` on the artifacts `scope` (a later alert's, or those added without automation)."""
        started = [name for name in playbooks if name in PLAYBOOK_TYPES]
        if not started:
            return []
        self._add_comment("system", f"{len(scope)} new artifact(s) (alert {self.state.alerts}); running "
                                    f"{', '.join(started)} on them.")
        self.state.automations += 1
        for name in started:
            self._start_playbook(name, run_as, f"alert-{self.state.automations}", scope=scope)
        if self.state.container.status == Status.NEW:
            self.state.container.status = Status.OPEN
        return started

    @workflow.update
    async def run_playbook(self, req: RunPlaybookRequest) -> str:
        """Run a playbook manually; returns its workflow id."""
        self.state.manual_runs += 1
        scope = None
        if req.scope is not None:
            wanted = set(req.scope)
            scope = [a for a in self.state.container.artifacts if artifact_digest(a) in wanted]
        wid = self._start_playbook(req.playbook, req.user, f"manual-{self.state.manual_runs}", scope=scope)
        self._add_comment(req.user, f"Started playbook {req.playbook} manually")
        if self.state.container.status == Status.NEW:
            self.state.container.status = Status.OPEN
        self._upsert()
        return wid

    @run_playbook.validator
    def _validate_run(self, req: RunPlaybookRequest) -> None:
        if self.s is None or not self._matched:
            raise ApplicationError("container is still starting; retry", type="NotReady")
        if req.playbook not in PLAYBOOK_TYPES:
            raise ApplicationError(f"unknown playbook {req.playbook!r}; choose one of: "
                                   f"{', '.join(sorted(PLAYBOOK_TYPES))}", type="UnknownPlaybook")
        if self.state.container.status == Status.CLOSED or self._finished():
            raise ApplicationError(f"container {self.state.container.id} is closed", type="ContainerClosed")

    @workflow.query
    def view(self) -> ContainerView:
        """The container's state, its pending prompts included."""
        return ContainerView(id=self.state.container.id or "", state=self.state,
                             pending_prompts=list(self._prompts.values()), closed_at=self.state.container.closed)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def _finished(self) -> bool:
        if self._analyst_closed:
            return True
        return self._close_requested and not self._tasks and not self._adopted

    def _should_continue_as_new(self) -> bool:
        return (workflow.info().is_continue_as_new_suggested() and (not self._tasks or self._can_hand_over())
                and not self._close_requested and self._notifier.idle())

    def _upsert(self) -> None:
        c = self.state.container
        status = Status.CLOSED.value if self._finished() else c.status.value
        if self._finished():
            c.status = Status.CLOSED
        want: dict[str, object] = {
            "sev": c.severity.value, "status": status, "disp": self.state.disposition or "",
            "pb": sorted({r.playbook for r in self.state.runs}), "await": self.state.awaiting_prompt,
            "auto": self.state.auto_resolved,
        }
        keys: dict[str, SearchAttributeKey[Any]] = {
            "sev": SA_SEVERITY, "status": SA_STATUS, "disp": SA_DISPOSITION, "pb": SA_PLAYBOOK,
            "await": SA_AWAITING_PROMPT, "auto": SA_AUTO_RESOLVED}
        if self.state.audit:
            want["audit"] = self.state.audit[-1].time
            keys["audit"] = SA_LAST_AUDIT
        updates: list[SearchAttributeUpdate[Any]] = []
        for k, v in want.items():
            if self._sa.get(k) != v:
                updates.append(keys[k].value_set(v))
                self._sa[k] = v
        if updates:
            workflow.upsert_search_attributes(updates)
