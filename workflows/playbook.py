"""Playbook authoring helpers. A playbook is a `@workflow.defn` class deriving from `Playbook` whose
`@workflow.run` method calls `await self.execute(inp)` and implements `steps()` in plain async Python:

    results = await asyncio.gather(self.act("virustotal", "url reputation", target=url, url=url), ...)
    decision = await self.prompt(role="soc_tier2", message="Isolate?", options=[...], on_timeout="Monitor Only")
    await self.act("crowdstrike", "quarantine device", target=host, approval=decision.approval, hostname=host)
    self.stage(comment="...", severity=Severity.HIGH)   # container changes, sent batched
    await self.flush()                                  # one signal per step; the rest rides on the result
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel

    from core.cef import defang
    from core.models import (
        ActionInput,
        ActionRecord,
        ActionResult,
        Approval,
        Artifact,
        Container,
        ContainerEvent,
        PlaybookInput,
        PlaybookOutcome,
        Prompt,
        PromptResponse,
        PromptState,
        RunStatus,
        Severity,
        Status,
    )
    from core.temporal import (
        CONNECTOR_RETRY,
        CONNECTOR_SCHEDULE_TO_CLOSE,
        SA_AWAITING_PROMPT,
        SA_STATUS,
    )
    from workflows.ids import playbook_search_attributes, playbook_workflow_id, prompt_id

ACTION_START_TO_CLOSE = timedelta(minutes=5)
ACTION_HEARTBEAT = timedelta(seconds=10)  # the activity wrapper beats every 2 s


@dataclass
class Decision:
    """The outcome of a prompt: the option taken and, when an analyst chose it, the approval."""

    option: str
    responder: str | None
    approval: Approval | None
    timed_out: bool
    prompt: Prompt


class PromptAck(BaseModel):
    """What the analyst's client gets back from answering a prompt."""

    prompt_id: str
    option: str
    next_step: str
    waited_s: float = 0.0


def _fmt_wait(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m {s}s" if m else f"{s}s"


class Playbook:
    """Base of every playbook workflow: actions, prompts, container changes, the run's records."""

    NAME = ""
    TITLE = ""
    VERSION = "1.0"
    BASELINE_MINUTES = 35.0
    DESCRIPTION = ""

    def __init__(self) -> None:
        self._inp: PlaybookInput | None = None
        self._records: list[ActionRecord] = []
        self._prompts: dict[str, Prompt] = {}
        self._next_steps: dict[str, dict[str, str]] = {}
        self._index = 0
        self._prompt_seq = 0
        self._pending = ContainerEvent(author="")
        self._auto_resolved = False

    # ---- the run ------------------------------------------------------------------------------------
    async def steps(self, container: Container) -> None:
        """The playbook's logic (override)."""
        raise NotImplementedError

    async def execute(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run `steps()` and return the outcome (records + final container changes)."""
        self._inp = inp
        self._pending.author = self.NAME
        started = workflow.now()
        status, error = RunStatus.SUCCESS, None
        try:
            await self.steps(inp.container)
        except ApplicationError as e:
            status, error = RunStatus.FAILED, e.message
            self.stage(comment=f"Playbook {self.TITLE} failed: {e.message}")
        final = self._pending if not self._is_empty(self._pending) else None
        if status != RunStatus.SUCCESS and workflow.patched("run-status-search-attributes"):
            # Lets visibility count failed runs without reading every result. Only on failure: every
            # upsert is a visibility write, and the success path is the hot one.
            workflow.upsert_search_attributes([SA_STATUS.value_set(status.value)])
        return PlaybookOutcome(
            playbook=self.NAME, title=self.TITLE, version=self.VERSION, baseline_minutes=self.BASELINE_MINUTES,
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
    async def act(self, connector: str, action: str, *, target: str = "", asset: str | None = None,
                  approval: Approval | None = None, **params: Any) -> ActionResult:
        """Run a connector action on the asset's task queue and record it for the report.

        A failure after the retry policy gives a `failed` result (recorded), never an exception, so the
        playbook decides what a failed lookup means (it never means "clean").
        """
        self._index += 1
        idx = self._index
        route = self.inp.routes.get(asset or connector)
        started = workflow.now()
        snake = "_".join(action.lower().split())
        title = route.title if route else connector
        if route is None:
            result = ActionResult(status="failed", message=f"no asset configured for {connector}")
        else:
            summary = f"{route.title} {action}: {defang(target)}" if target else f"{route.title} {action}"
            try:
                result = await workflow.execute_activity(
                    f"{route.connector}.{snake}",
                    ActionInput(asset=route.asset, params=params, approval=approval,
                                container_id=self.container_id,
                                correlation_id=f"{workflow.info().workflow_id}#{idx}"),
                    task_queue=route.task_queue,
                    start_to_close_timeout=ACTION_START_TO_CLOSE,
                    heartbeat_timeout=ACTION_HEARTBEAT,
                    schedule_to_close_timeout=CONNECTOR_SCHEDULE_TO_CLOSE,
                    retry_policy=CONNECTOR_RETRY,
                    summary=summary[:200],
                    result_type=ActionResult,
                )
            except ActivityError as e:
                cause = e.cause
                msg = cause.message if isinstance(cause, ApplicationError) else str(cause or e)
                result = ActionResult(status="failed", message=msg[:500])
        self._records.append(ActionRecord(
            index=idx, action=action, connector=connector, title=title, asset=route.asset if route else "",
            target=target, started=started, duration_s=(workflow.now() - started).total_seconds(),
            status=result.status, message=result.message[:300], summary=result.summary,
        ))
        return result

    # ---- analyst prompts ----------------------------------------------------------------------------
    async def prompt(self, *, role: str, message: str, options: list[str], on_timeout: str,
                     respond_in: timedelta = timedelta(minutes=15),
                     next_steps: dict[str, str] | None = None) -> Decision:
        """Ask analysts holding `role`; wait durably until answered or `respond_in` passes."""
        if on_timeout not in options:
            raise ApplicationError(f"on_timeout {on_timeout!r} is not one of the options", non_retryable=True)
        if self.inp.respond_in_s is not None:
            respond_in = timedelta(seconds=self.inp.respond_in_s)
        self._index += 1
        idx = self._index
        self._prompt_seq += 1
        pid = prompt_id(self.NAME, self.container_id, self.inp.suffix, self._prompt_seq)
        now = workflow.now()
        p = Prompt(id=pid, container_id=self.container_id, playbook=self.NAME,
                   workflow_id=workflow.info().workflow_id, role=role, message=message, options=options,
                   on_timeout=on_timeout, created=now, deadline=now + respond_in)
        self._prompts[pid] = p
        self._next_steps[pid] = next_steps or {}
        workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(True)])
        workflow.upsert_memo({"prompt": p.model_dump(mode="json")})
        workflow.set_current_details(
            f"Waiting for **{role}** until {p.deadline:%Y-%m-%d %H:%M:%S} UTC\n\n{message}\n\n"
            f"Options: {', '.join(options)} (default on timeout: {on_timeout})\n\nPrompt id: `{pid}`"
        )
        self.stage(awaiting_prompt=True, prompts_opened=[p])
        await self.flush()
        timed_out = False
        try:
            await workflow.wait_condition(
                lambda: p.state != PromptState.PENDING, timeout=respond_in,
                timeout_summary=f"prompt deadline: {role} ({_fmt_wait(respond_in.total_seconds())})")
        except TimeoutError:
            timed_out = True
        waited = (workflow.now() - now).total_seconds()
        workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(False)])
        workflow.upsert_memo({"prompt": None})
        workflow.set_current_details("")
        if timed_out or p.response is None:
            p.state = PromptState.EXPIRED
            option, responder, approval = on_timeout, None, None
            self.stage(comment=f"No response from {role} within {_fmt_wait(respond_in.total_seconds())}; "
                               f"took the default: {on_timeout}.")
            msg = f'No response in {_fmt_wait(waited)}; default "{on_timeout}"'
        else:
            r = p.response
            option, responder = r.option, r.responder
            approval = Approval(prompt_id=pid, responder=r.responder, option=r.option,
                                approved_at=r.responded_at or workflow.now())
            msg = f'Response: "{option}" by {responder}'
            if r.comment:
                self.stage(comment=f'{responder} answered "{option}" ({pid}): {r.comment}')
        self.stage(awaiting_prompt=False, prompts_closed=[pid])
        self._records.append(ActionRecord(
            index=idx, action="prompt", connector="soar", title=f"Prompt Analyst ({role})", asset="",
            target=message[:80], started=now, duration_s=waited, status="success" if not timed_out else "skipped",
            message=msg, kind="prompt",
            summary={"option": option, "responder": responder, "timed_out": timed_out, "prompt_id": pid},
        ))
        return Decision(option=option, responder=responder, approval=approval, timed_out=timed_out, prompt=p)

    @workflow.update
    async def respond(self, r: PromptResponse) -> PromptAck:
        """An analyst's answer to a pending prompt of this run."""
        p = self._prompts[r.prompt_id]
        r.responded_at = workflow.now()
        p.response = r
        p.state = PromptState.ANSWERED
        nxt = self._next_steps.get(p.id, {}).get(r.option, "the playbook continues")
        return PromptAck(prompt_id=p.id, option=r.option, next_step=nxt,
                         waited_s=(r.responded_at - p.created).total_seconds())

    @respond.validator
    def _validate_respond(self, r: PromptResponse) -> None:
        p = self._prompts.get(r.prompt_id)
        if p is None:
            raise ApplicationError(f"no prompt {r.prompt_id} in this run", type="PromptNotFound")
        if p.state != PromptState.PENDING:
            raise ApplicationError(f"prompt {p.id} is already {p.state.value}", type="PromptClosed")
        if workflow.now() >= p.deadline:
            raise ApplicationError(f"prompt {p.id} expired at {p.deadline.isoformat()}", type="PromptClosed")
        if r.option not in p.options:
            raise ApplicationError(f"option {r.option!r} is not offered; choose one of: {', '.join(p.options)}",
                                   type="OptionNotOffered")
        if p.role not in r.responder_roles and "admin" not in r.responder_roles:
            raise ApplicationError(f"prompt {p.id} is addressed to role {p.role}; {r.responder} lacks it",
                                   type="RoleNotAllowed")

    @workflow.query
    def prompts(self) -> list[Prompt]:
        """Every prompt of this run."""
        return list(self._prompts.values())

    @workflow.query
    def records(self) -> list[ActionRecord]:
        """The actions run so far."""
        return list(self._records)

    # ---- container changes --------------------------------------------------------------------------
    def stage(self, *, comment: str | None = None, severity: Severity | None = None, status: Status | None = None,
              disposition: str | None = None, promote: str | None = None, artifacts: list[Artifact] | None = None,
              auto_resolved: bool | None = None, awaiting_prompt: bool | None = None,
              prompts_opened: list[Prompt] | None = None, prompts_closed: list[str] | None = None) -> None:
        """Queue container changes; they travel with the next `flush()` or with the run's result."""
        e = self._pending
        if comment:
            e.comments.append(comment)
        if severity is not None:
            e.severity = severity
        if status is not None:
            e.status = status
        if disposition is not None:
            e.disposition = disposition
        if promote is not None:
            e.promote_template = promote
        if artifacts:
            e.artifacts.extend(artifacts)
        if auto_resolved is not None:
            e.auto_resolved = auto_resolved
            self._auto_resolved = auto_resolved
        if awaiting_prompt is not None:
            e.awaiting_prompt = awaiting_prompt
        if prompts_opened:
            e.prompts_opened.extend(prompts_opened)
        if prompts_closed:
            e.prompts_closed.extend(prompts_closed)

    async def flush(self) -> None:
        """Send the queued changes to the container as ONE signal (each signal costs it a workflow task)."""
        if self._is_empty(self._pending):
            return
        event, self._pending = self._pending, ContainerEvent(author=self.NAME)
        handle = workflow.get_external_workflow_handle(self.inp.container_workflow_id)
        await handle.signal("apply_event", event)

    @staticmethod
    def _is_empty(e: ContainerEvent) -> bool:
        return e == ContainerEvent(author=e.author)

    # ---- nested playbooks ---------------------------------------------------------------------------
    async def run_playbook(self, workflow_type: str, name: str,
                           params: dict[str, str] | None = None) -> PlaybookOutcome | None:
        """Run another playbook as a child of this one; its records join this run's report."""
        await self.flush()
        suffix = f"from-{self.NAME.replace('_', '-')}"
        inp = self.inp.model_copy(update={"suffix": suffix, "params": params or {}})
        try:
            out: PlaybookOutcome = await workflow.execute_child_workflow(
                workflow_type, inp, id=playbook_workflow_id(name, self.container_id, suffix),
                result_type=PlaybookOutcome, static_summary=f"{name} · {self.container_id} (from {self.TITLE})",
                search_attributes=playbook_search_attributes(name, self.container_id),
            )
        except ChildWorkflowError as e:
            self.stage(comment=f"{name} failed: {e.cause or e}")
            return None
        for rec in out.actions:
            self._index += 1
            self._records.append(rec.model_copy(update={"index": self._index}))
        if out.final is not None:
            f = out.final
            self.stage(comment=None, severity=f.severity, status=f.status, disposition=f.disposition,
                       promote=f.promote_template, artifacts=f.artifacts, prompts_closed=f.prompts_closed)
            for c in f.comments:
                self.stage(comment=c)
        return out


def gather(*aws: Any) -> Any:
    """`asyncio.gather` (re-exported so playbooks read plainly)."""
    return asyncio.gather(*aws)
