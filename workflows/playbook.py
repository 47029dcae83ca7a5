"""Writing playbooks. A playbook is a `Playbook` subclass decorated with `@playbook(...)`; it implements
`steps()` in plain async Python, in the words of Splunk SOAR's playbook API:

    @playbook(name="suspicious_login", title="Suspicious Login", version="1.0", baseline_minutes=20)
    class SuspiciousLogin(Playbook):
        async def steps(self, c: Container) -> None:
            vt = await self.act("virustotal", "ip reputation", ip=c.first("sourceAddress"))
            if vt.summary.get("malicious", 0) > 3:
                d = await self.prompt(role="soc_tier2", message="Disable?", options=["Disable", "Ignore"],
                                      on_timeout="Ignore")
                ...
            self.comment(f"VirusTotal: {vt.message}")

`act()` runs a connector action on its asset's queue with the connector's declared timeouts and retry
policy, and records it for the report; `prompt()` is the durable wait for an analyst; `comment`,
`set_severity`, `set_status`, `promote`, `add_artifacts`, `set_disposition` and `resolve` change the
container (sent batched: with the next prompt, nested run or `flush()`, else with the run's result);
`run_playbook(OtherPlaybook, ...)` runs another playbook as a child whose actions join this report.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.approvals import AuthorizedAction, SignedApproval
    from core.models import (
        ActionRecord,
        ActionResult,
        AuditEvent,
        AuditKind,
        Container,
        ContainerEvent,
        PlaybookInput,
        PlaybookOutcome,
        Prompt,
        PromptAck,
        PromptEvent,
        PromptPolicy,
        PromptResponse,
        RunStatus,
        Severity,
        Target,
    )
    from core.temporal import SA_STATUS
    from workflows import board
    from workflows.actions import (
        ResolvedAction,
        action_priority,
        cached_at,
        resolve,
        run_action_typed,
        untrusted_origin,
    )
    from workflows.changes import ChangesMixin
    from workflows.ids import prompt_id
    from workflows.prompts import PromptDesk, fmt_wait
    from workflows.versions import publishes_to_board

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
AUDITED_ERRORS = ("ApprovalInvalid", "ApprovalRequired", "GuardrailRefused")
APPROVE, DENY = "Approve", "Deny"


@dataclass(frozen=True)
class PlaybookMeta:
    """What `@playbook` declares: the name triggers use, the report title, version and manual baseline."""

    name: str
    title: str
    version: str
    baseline_minutes: float
    description: str
    priority: Severity | None = None  # the severity band its rate-limited actions queue in (default: the container's)


@dataclass
class Decision:
    """The outcome of a prompt: the option taken and, when an analyst chose it, the approval."""

    option: str
    responder: str | None
    approval: SignedApproval | None
    timed_out: bool
    prompt: Prompt
    approvals: list[SignedApproval] = field(default_factory=list)

    @property
    def signed(self) -> list[SignedApproval]:
        """Every approval that decided it (one, or a quorum's), to pass to `act(approval=...)`."""
        return self.approvals or ([self.approval] if self.approval else [])


P = TypeVar("P", bound="type[Playbook]")


def playbook(*, name: str, title: str, version: str, baseline_minutes: float,
             description: str | None = None, priority: Severity | None = None) -> Callable[[P], P]:
    """Declare a `Playbook` subclass a playbook: a Temporal workflow named like the class.

    Args:
        name: what triggers, the API and nested runs call it (`phishing_triage_automation`).
        title: the report's title ("Phishing Triage Automation").
        version: shown in reports ("2.3").
        baseline_minutes: an analyst's manual triage time; the metrics count time saved against it.
        description: one line for the catalogue (default: the class docstring's first line).
        priority: queue this playbook's rate-limited actions as this severity (default: the container's).

    Raises:
        TypeError: at import, when the class is not a Playbook or metadata is missing or malformed.
    """

    def deco(cls: P) -> P:
        where = f"@playbook on {cls.__module__}.{cls.__qualname__}"
        if not isinstance(cls, type) or not issubclass(cls, Playbook):
            raise TypeError(f"{where}: the class must derive from workflows.playbook.Playbook")
        if not NAME_RE.match(name or ""):
            raise TypeError(f"{where}: name must be lower_snake_case (letters, digits, _), got {name!r}")
        if not title or not version:
            raise TypeError(f"{where}: give a title and a version")
        if not baseline_minutes or baseline_minutes <= 0:
            raise TypeError(f"{where}: baseline_minutes must be the manual triage time in minutes (> 0)")
        doc = (cls.__doc__ or "").strip().split("\n")[0]
        cls.meta = PlaybookMeta(name=name, title=title, version=version, baseline_minutes=float(baseline_minutes),
                                description=description or doc, priority=priority)

        async def run(self: Playbook, inp: PlaybookInput) -> PlaybookOutcome:
            return await self.reporting(inp, self.execute(inp))

        # The SDK wants the run method defined on the decorated class itself.
        run.__module__, run.__qualname__, run.__doc__ = cls.__module__, f"{cls.__name__}.run", "Run the playbook."
        run.__annotations__ = {"inp": PlaybookInput, "return": PlaybookOutcome}  # resolved: __module__ moved
        cls.run = workflow.run(run)  # type: ignore[attr-defined]
        return workflow.defn(name=cls.__name__)(cls)

    return deco


class Playbook(ChangesMixin):
    """Base of every playbook workflow: actions, prompts, container changes, the run's records."""

    meta: PlaybookMeta  # set by @playbook

    def __init__(self) -> None:
        self._inp: PlaybookInput | None = None
        self._records: list[ActionRecord] = []
        self._desk = PromptDesk(stage=self._stage_prompt_events, flush=self.flush)
        self._index = 0
        self._prompt_seq = 0
        self._pending = ContainerEvent(author="")
        self._auto_resolved = False
        self._severity: Severity | None = None  # the latest set_severity (the container's until then)

    # ---- the run ------------------------------------------------------------------------------------
    async def steps(self, container: Container) -> None:
        """The playbook's logic (override)."""
        raise NotImplementedError

    async def execute(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run `steps()` and return the outcome (records + final container changes)."""
        self._inp = inp
        self._pending.author = self.meta.name
        started = workflow.now()
        status, error = RunStatus.SUCCESS, None
        try:
            await self.steps(inp.container)
        except ApplicationError as e:
            status, error = RunStatus.FAILED, e.message
            self.comment(f"Playbook {self.meta.title} failed: {e.message}")
        final = self._pending if not self._is_empty(self._pending) else None
        if status != RunStatus.SUCCESS and workflow.patched("run-status-search-attributes"):
            # Lets visibility count failed runs without reading every result. Only on failure: every
            # upsert is a visibility write, and the success path is the hot one.
            workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        m = self.meta
        return PlaybookOutcome(
            playbook=m.name, title=m.title, version=m.version, baseline_minutes=m.baseline_minutes,
            status=status, actions=self._records, started=started, ended=workflow.now(),
            auto_resolved=self._auto_resolved, final=final, error=error,
        )

    @property
    def inp(self) -> PlaybookInput:
        """This run's input."""
        assert self._inp is not None
        return self._inp

    @property
    def container_id(self) -> str:
        """The container's id."""
        return self.inp.container.id or ""

    # ---- connector actions --------------------------------------------------------------------------
    async def act(self, asset: str, action: str, *,
                  approval: SignedApproval | list[SignedApproval] | Decision | None = None,
                  **params: Any) -> ActionResult:
        """Run a connector action and record it for the report.

        Args:
            asset: an asset name (`virustotal_prod`), or a connector name (`virustotal`) when exactly one
                asset of it is configured.
            action: the action's name, ours or a Splunk app's (`"url reputation"`, `"disable account"`).
            approval: the analyst's decision (a `Decision`, or its signed approvals), required by high-impact
                actions; a quorum's approvals all travel.
            **params: the action's parameters; its target parameter names what the report shows.

        Returns:
            The action's result; a failure after the connector's retries is a `failed` result, never an
            exception, so the playbook decides what a failed lookup means (it never means "clean").

        Raises:
            ApplicationError: an unknown asset, action or parameter (fails the run: a playbook bug).
        """
        ra = resolve(self.inp.routes, asset, action, params)
        why = untrusted_origin(ra, self.inp.container)
        if why and workflow.patched("sender-written-targets-need-approval"):
            if approval is None:  # the playbook did not ask: ask now, for exactly this action and target
                approval = await self._confirm(ra, why)
                if approval.option != APPROVE:
                    return self._not_run(ra, approval, why)
        else:
            why = None
        self._index += 1
        idx = self._index
        started = workflow.now()
        signed = approval.signed if isinstance(approval, Decision) else approval
        band = self.meta.priority or self._severity or self.inp.container.severity
        result, error = await run_action_typed(ra, container_id=self.container_id, approval=signed,
                                               correlation_id=f"{workflow.info().workflow_id}#{idx}",
                                               priority=action_priority(ra, band.value), version=self.inp.version,
                                               require_approval=why is not None)
        if error in AUDITED_ERRORS:
            kind = AuditKind.GUARDRAIL_REFUSED if error == "GuardrailRefused" else AuditKind.APPROVAL_INVALID
            self._pending.audit.append(AuditEvent(
                time=workflow.now(), kind=kind, actor=self.meta.name, container_id=self.container_id,
                action=ra.action, target=ra.target, source="activity", outcome="refused", detail=result.message))
        self._records.append(ActionRecord(
            index=idx, action=ra.action, connector=ra.route.connector, title=ra.route.title, asset=ra.route.asset,
            target=ra.target, started=started, duration_s=(workflow.now() - started).total_seconds(),
            status=result.status, message=result.message[:300], summary=result.summary, cached_at=cached_at(result),
        ))
        return result

    async def _confirm(self, ra: ResolvedAction, why: str) -> Decision:
        """Approve/Deny for exactly `ra` on its target, to the asset's approver role (Deny on timeout)."""
        grant = [AuthorizedAction(action=ra.action, target=ra.target, connector=ra.route.connector)]
        return await self.prompt(
            role=ra.route.approver_role, options=[APPROVE, DENY], on_timeout=DENY,
            message=f"{self.meta.title} asks to run {ra.title} on {ra.target}: {why}. Approve?",
            authorizes={APPROVE: grant, DENY: []},
            targets=[Target(kind=ra.spec.target if ra.spec and ra.spec.target else "target", value=ra.target,
                            source=self.inp.container.provenance(ra.target))],
            next_steps={APPROVE: f"{ra.title} will run on {ra.target}", DENY: f"{ra.title} is not run"})

    def _not_run(self, ra: ResolvedAction, d: Decision, why: str) -> ActionResult:
        """The result (and report line) of an action an analyst did not approve."""
        who = "no answer in time (default Deny)" if d.timed_out else f"{d.responder} chose {d.option}"
        message = f"Not run: {why}; {who}"
        self.comment(f"{ra.title} on {ra.target} was not run: {who}.")
        self._index += 1
        self._records.append(ActionRecord(
            index=self._index, action=ra.action, connector=ra.route.connector, title=ra.route.title,
            asset=ra.route.asset, target=ra.target, started=workflow.now(), duration_s=0.0, status="skipped",
            message=message[:300]))
        return ActionResult(status="failed", message=message[:500])

    # ---- analyst prompts ----------------------------------------------------------------------------
    async def prompt(self, *, role: str, message: str, options: list[str], on_timeout: str,
                     respond_in: timedelta = timedelta(minutes=15),
                     next_steps: dict[str, str] | None = None,
                     authorizes: dict[str, list[AuthorizedAction]] | None = None,
                     targets: list[Target] | None = None, policy: PromptPolicy | None = None) -> Decision:
        """Ask analysts holding `role`; wait durably until answered or `respond_in` passes.

        Args:
            role: who may answer (`soc_tier2`).
            message: the question, with what the analyst needs to decide.
            options: the answers offered.
            on_timeout: the safe default taken when nobody answers in time (one of `options`).
            respond_in: the deadline (15 minutes by default).
            next_steps: per option, what happens next (the API tells the analyst).
            authorizes: per option, the high-impact actions (and targets) an analyst choosing it approves;
                the signed approval carries exactly these, and the actions check them.
            targets: what the prompt asks to act on and where each came from (shown to the analyst).
            policy: quorum, reminders, escalation (default: the deployment's, with the quorum the assets ask
                for the authorised actions).
        """
        if on_timeout not in options:
            raise ApplicationError(f"on_timeout {on_timeout!r} is not one of the options", non_retryable=True)
        if self.inp.respond_in_s is not None:
            respond_in = timedelta(seconds=self.inp.respond_in_s)
        idx, p = self._new_prompt(role=role, message=message, options=options, on_timeout=on_timeout,
                                  respond_in=respond_in, authorizes=authorizes or {}, targets=targets or [],
                                  policy=policy or self._policy(authorizes or {}))
        pid, now = p.id, p.created
        timed_out, waited = await self._ask(p, respond_in, next_steps)
        if timed_out or p.response is None:
            option, responder, approval = on_timeout, None, None
            self.comment(f"No response from {role} within {fmt_wait(respond_in.total_seconds())}; "
                         f"took the default: {on_timeout}.")
            msg = f'No response in {fmt_wait(waited)}; default "{on_timeout}"'
        else:
            r = p.response
            option, approval = r.option, r.approval
            answers = self._desk.approvals_of(p)
            responder = ", ".join(a.responder for a in answers)
            msg = f'Response: "{option}" by {responder}'
            if r.comment:
                self.comment(f'{responder} answered "{option}" ({pid}): {r.comment}')
        if p.escalated:
            msg += f" (escalated to {p.policy.escalate_to})"
        if p.policy.quorum > 1 and not timed_out:
            msg += f" ({len(self._desk.approvals_of(p))} of {p.policy.quorum} approvals)"
        self._stage(awaiting_prompt=False, prompts_closed=[pid])
        await board.publish([], [pid] if publishes_to_board(self.inp.version) else [])
        self._records.append(ActionRecord(
            index=idx, action="prompt", connector="soar", title=f"Prompt Analyst ({role})", asset="",
            target=message[:80], started=now, duration_s=waited, status="success" if not timed_out else "skipped",
            message=msg, kind="prompt",
            summary={"option": option, "responder": responder, "timed_out": timed_out, "prompt_id": pid,
                     "reminders": p.reminders_sent, "escalated_to": p.policy.escalate_to if p.escalated else None,
                     "approvals": len(self._desk.approvals_of(p)), "quorum": p.policy.quorum},
        ))
        return Decision(option=option, responder=responder, approval=approval, timed_out=timed_out, prompt=p,
                        approvals=[a.approval for a in self._desk.approvals_of(p) if a.approval is not None])

    def _new_prompt(self, *, role: str, message: str, options: list[str], on_timeout: str, respond_in: timedelta,
                    authorizes: dict[str, list[AuthorizedAction]], targets: list[Target],
                    policy: PromptPolicy) -> tuple[int, Prompt]:
        """The next prompt of this run (its report index and the prompt, not yet open)."""
        self._index += 1
        self._prompt_seq += 1
        now = workflow.now()
        p = Prompt(id=prompt_id(self.meta.name, self.container_id, self.inp.suffix, self._prompt_seq),
                   container_id=self.container_id, playbook=self.meta.name, workflow_id=workflow.info().workflow_id,
                   role=role, message=message, options=options, on_timeout=on_timeout, created=now,
                   deadline=now + respond_in, authorizes=authorizes, targets=targets, started_by=self.inp.run_as,
                   policy=policy)
        return self._index, p

    async def _ask(self, p: Prompt, respond_in: timedelta, next_steps: dict[str, str] | None) -> tuple[bool, float]:
        """Open `p` (the container hears of it at once), wait durably, close it: (timed out, seconds waited)."""
        self._desk.open(p, next_steps)
        self._stage(awaiting_prompt=True, prompts_opened=[p])
        await self.flush()
        timed_out = await self._desk.wait(p, respond_in)
        waited = (workflow.now() - p.created).total_seconds()
        self._desk.close(p, expired=timed_out or p.response is None)
        return timed_out, waited

    def _policy(self, authorizes: dict[str, list[AuthorizedAction]]) -> PromptPolicy:
        """The deployment's prompt policy, with the largest quorum the assets require of the authorised actions."""
        base = self.inp.prompt_policy or PromptPolicy()
        quorum = max([base.quorum, *(r.approval_quorum.get(a.action, 1) for acts in authorizes.values() for a in acts
                                     for r in self.inp.routes.values() if a.connector in (None, r.connector))])
        return base.model_copy(update={"quorum": quorum})

    def _stage_prompt_events(self, events: list[PromptEvent], audit: list[AuditEvent]) -> None:
        self._pending.prompt_events.extend(events)
        self._pending.audit.extend(audit)

    @workflow.update
    async def respond(self, r: PromptResponse) -> PromptAck:
        """An analyst's answer to a pending prompt of this run (signed by the API)."""
        return self._desk.accept(r)

    @respond.validator
    def _validate_respond(self, r: PromptResponse) -> None:
        self._desk.validate(r)

    @workflow.query
    def prompts(self) -> list[Prompt]:
        """Every prompt of this run."""
        return list(self._desk.prompts.values())

    @workflow.query
    def records(self) -> list[ActionRecord]:
        """The actions run so far."""
        return list(self._records)


def gather(*aws: Awaitable[Any]) -> Awaitable[list[Any]]:
    """`asyncio.gather` (re-exported so playbooks read plainly; nest it to keep results per indicator)."""
    return asyncio.gather(*aws)
