"""A playbook's changes to its container (`comment`, `set_severity`, `resolve`, ...), queued and sent as one
signal, and nested playbook runs whose records and changes join the parent's: the half of `Playbook`
(workflows/playbook.py) that talks to the container."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ChildWorkflowError, FailureError

with workflow.unsafe.imports_passed_through():
    from core.models import (
        ActionRecord,
        Artifact,
        ContainerEvent,
        PlaybookInput,
        PlaybookOutcome,
        Prompt,
        RunStatus,
        Severity,
        Status,
    )
    from workflows import board
    from workflows.ids import playbook_search_attributes, playbook_workflow_id
    from workflows.messages import PromptHint, RunEnded
    from workflows.versions import ANNOUNCES_PROMPTS, NESTED_IN_ONE_TASK, publishes_to_board

if TYPE_CHECKING:
    from workflows.playbook import Playbook, PlaybookMeta

ANNOUNCE_TIMEOUT = timedelta(seconds=5)


async def _announce(workflow_ids: list[str]) -> None:
    """Tell the API's prompt feed (activities/prompt_feed.py); its failure is never the run's problem."""
    if not workflow_ids:
        return
    try:
        await workflow.execute_local_activity(
            "soar.announce_prompts", PromptHint(workflow_ids=workflow_ids), start_to_close_timeout=ANNOUNCE_TIMEOUT,
            retry_policy=RetryPolicy(maximum_attempts=1))
    except ActivityError as e:
        workflow.logger.info("prompt feed not told: %s", e)


class ChangesMixin:
    """Container changes and nested runs of a `Playbook` (its state is set up by `Playbook.__init__`)."""

    meta: PlaybookMeta
    _pending: ContainerEvent
    _severity: Severity | None
    _auto_resolved: bool
    _records: list[ActionRecord]
    _index: int

    if TYPE_CHECKING:
        @property
        def inp(self) -> PlaybookInput: ...

        @property
        def container_id(self) -> str: ...

    _moved = False  # set by `container_moved`

    # ---- the container moving on --------------------------------------------------------------------
    @workflow.signal
    def container_moved(self) -> None:
        """The container continued-as-new while this run was in flight (workflows/container_runs.py): the
        run's result would reach the closed container run, so the run reports its end by signal."""
        self._moved = True

    async def reporting(self, inp: PlaybookInput, run: Awaitable[PlaybookOutcome]) -> PlaybookOutcome:
        """Await the run; tell a container that moved on how it ended (succeeded, failed or cancelled)."""
        wid = workflow.info().workflow_id
        try:
            out = await run
        except asyncio.CancelledError:
            await self._report(inp, RunEnded(workflow_id=wid, status=RunStatus.CANCELLED))
            raise
        except FailureError as e:
            await self._report(inp, RunEnded(workflow_id=wid, status=RunStatus.FAILED, error=str(e)))
            raise
        await self._report(inp, RunEnded(workflow_id=wid, status=out.status, outcome=out))
        return out

    async def _report(self, inp: PlaybookInput, e: RunEnded) -> None:
        if not self._moved:
            return  # the container awaits this run's result
        try:
            await workflow.get_external_workflow_handle(inp.container_workflow_id).signal("run_ended", e)
        except Exception as err:  # an analyst closed the container meanwhile: it cancelled this run
            workflow.logger.warning("could not tell %s how this run ended: %s", inp.container_workflow_id, err)

    # ---- container changes, in the analyst's words ---------------------------------------------------
    def comment(self, text: str) -> None:
        """Comment on the container."""
        if text:
            self._pending.comments.append(text)

    def set_severity(self, severity: Severity | str) -> None:
        """Set the container's severity (high, medium, low)."""
        self._pending.severity = self._severity = Severity(str(severity).lower())

    def set_status(self, status: Status | str) -> None:
        """Set the container's status (new, open, closed); closing ends the container once runs finish."""
        self._pending.status = Status(str(status).lower())

    def set_disposition(self, disposition: str) -> None:
        """Record the verdict ("True Positive - Escalated to IR")."""
        self._pending.disposition = disposition

    def promote(self, template: str) -> None:
        """Promote the container to a case with a workbook template ("Phishing Investigation")."""
        self._pending.promote_template = template

    def add_artifacts(self, *artifacts: Artifact) -> None:
        """Add artifacts (enrichment results, new indicators)."""
        self._pending.artifacts.extend(artifacts)

    def resolve(self, disposition: str, comment: str | None = None) -> None:
        """Close the container as resolved by automation (counts as auto-resolved in the metrics)."""
        if comment:
            self.comment(comment)
        self.set_status(Status.CLOSED)
        self.set_disposition(disposition)
        self._pending.auto_resolved = True
        self._auto_resolved = True

    def _stage(self, *, awaiting_prompt: bool | None = None, prompts_opened: list[Prompt] | None = None,
               prompts_closed: list[str] | None = None) -> None:
        """Prompt bookkeeping that travels with the container changes."""
        e = self._pending
        if awaiting_prompt is not None:
            e.awaiting_prompt = awaiting_prompt
        e.prompts_opened.extend(prompts_opened or [])
        e.prompts_closed.extend(prompts_closed or [])

    async def flush(self) -> None:
        """Send the queued changes to the container now, as ONE signal (each signal costs it a workflow task)."""
        if self._is_empty(self._pending):
            return
        event, self._pending = self._pending, ContainerEvent(author=self.meta.name)
        event.run = workflow.info().workflow_id
        handle = workflow.get_external_workflow_handle(self.inp.container_workflow_id)
        opened = event.prompts_opened if publishes_to_board(self.inp.version) else []
        announced = sorted({p.workflow_id for p in event.prompts_opened}) \
            if self.inp.version >= ANNOUNCES_PROMPTS else []
        await asyncio.gather(handle.signal("apply_event", event), board.publish(opened, []),  # one task for all
                             _announce(announced))

    @staticmethod
    def _is_empty(e: ContainerEvent) -> bool:
        return e == ContainerEvent(author=e.author)

    # ---- nested playbooks ---------------------------------------------------------------------------
    async def run_playbook(self, other: type[Playbook], **params: str) -> PlaybookOutcome | None:
        """Run another playbook as a child of this one; its records and changes join this run's.

        Returns:
            Its outcome, or None when it failed (a comment says why).
        """
        # v1 (workflows/versions.py): the changes so far go out in the task that starts the run, not a task before.
        flushed = asyncio.create_task(self.flush()) if self.inp.version >= NESTED_IN_ONE_TASK else None
        if flushed is None:
            await self.flush()
        name = other.meta.name
        suffix = f"from-{self.meta.name.replace('_', '-')}"
        inp = self.inp.model_copy(update={"suffix": suffix, "params": params, "playbook": name})
        try:
            out: PlaybookOutcome = await workflow.execute_child_workflow(
                other.__name__, inp, id=playbook_workflow_id(name, self.container_id, suffix),
                result_type=PlaybookOutcome,
                static_summary=f"{name} · {self.container_id} (from {self.meta.title})",
                search_attributes=playbook_search_attributes(name, self.container_id),
            )
        except ChildWorkflowError as e:
            self.comment(f"{name} failed: {e.cause or e}")
            return None
        finally:
            if flushed is not None:
                await flushed
        for rec in out.actions:
            self._index += 1
            self._records.append(rec.model_copy(update={"index": self._index}))
        if out.final is not None:
            self._merge(out.final)
        return out

    def _merge(self, f: ContainerEvent) -> None:
        e = self._pending
        e.comments.extend(f.comments)
        e.artifacts.extend(f.artifacts)
        e.prompts_closed.extend(f.prompts_closed)
        # A nested run's last prompt events (decided, timed out: notifications) and audit events travel too.
        e.prompt_events.extend(f.prompt_events)
        e.audit.extend(f.audit)
        for key in ("severity", "status", "disposition", "promote_template"):
            if getattr(f, key) is not None:
                setattr(e, key, getattr(f, key))
