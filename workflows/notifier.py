"""Prompt notifications, dispatched by the container workflow.

Why the container and not the playbook run that asks:
- every prompt event already reaches it (`ContainerEvent.prompt_events`: opened and reminders at once,
  escalations at once, timeouts with the run's next changes), from native and Phantom playbooks alike, so
  there is one dispatcher for both engines;
- it outlives the run: a timeout is announced, and a failing channel keeps being retried, after the playbook
  has finished; nothing the playbook awaits depends on a channel, so a dead webhook cannot delay or fail it;
- the failure belongs on the container (an audit event and a comment), which is the workflow holding them.

Each (event, channel) is one `soar.notify` activity with its own retries, so a dead webhook never resends
the Slack message that went through. Only channel names enter history; the activity resolves the secrets.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.models import (
        AuditEvent,
        AuditKind,
        Container,
        ContainerEvent,
        NotifyInput,
        NotifyResult,
        NotifyRule,
        Prompt,
        PromptEvent,
    )
    from core.models.notifications import NOTIFIED_EVENTS, PromptNotice, channels_for

PATCH_ID = "prompt-notifications"
# One attempt is one HTTP request or SMTP session; the activity itself gives up after the channel's
# `retry_for_s` (notifications.json), the budget is only the outer bound.
NOTIFY_ATTEMPT = timedelta(seconds=60)
NOTIFY_BUDGET = timedelta(hours=24)
NOTIFY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), backoff_coefficient=2.0,
                           maximum_interval=timedelta(seconds=60), maximum_attempts=0,
                           non_retryable_error_types=["NotificationFailed"])
# A closing container waits this long for notifications still being retried (a timeout notice is sent as the
# run that timed out finishes), then gives them up and says so.
DRAIN_ON_CLOSE = timedelta(seconds=30)
MAX_TRACKED_PROMPTS = 200

Failed = Callable[[AuditEvent, str], None]  # the audit event and the comment to record on the container


def notice(pe: PromptEvent, p: Prompt, c: Container) -> PromptNotice:
    """The notice of one prompt event (the prompt as it was opened or last changed)."""
    return PromptNotice(kind=pe.kind, at=pe.at, prompt_id=p.id, container_id=p.container_id,
                        container_name=c.name, severity=c.severity.value, playbook=p.playbook, role=pe.role,
                        message=p.message, options=p.options, high_impact=[o for o in p.options if p.approving(o)],
                        on_timeout=p.on_timeout, deadline=pe.deadline, detail=pe.detail, started_by=p.started_by,
                        targets=p.targets)


class PromptNotifier:
    """Starts a `soar.notify` activity per channel for each prompt event the rules route somewhere.

    Args:
        failed: called (in the workflow) with an audit event and a comment when a channel finally fails.
    """

    def __init__(self, failed: Failed) -> None:
        self._prompts: dict[str, Prompt] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._failed = failed

    def observe(self, e: ContainerEvent, container: Container, rules: list[NotifyRule]) -> None:
        """Notify the channels `rules` name for the prompt events in `e`."""
        if not rules or not (e.prompt_events or e.prompts_opened):
            return
        for p in e.prompts_opened:
            self._prompts[p.id] = p
        for pe in e.prompt_events:
            if pe.prompt is not None:
                self._prompts[pe.prompt_id] = pe.prompt
            asked = self._prompts.get(pe.prompt_id)
            if asked is not None and pe.kind in NOTIFIED_EVENTS:
                for channel in channels_for(rules, pe.kind, pe.role, asked.playbook):
                    self._start(NotifyInput(channel=channel, notice=notice(pe, asked, container)))
            if pe.kind in ("decided", "timed_out"):
                self._prompts.pop(pe.prompt_id, None)
        while len(self._prompts) > MAX_TRACKED_PROMPTS:  # runs cancelled while waiting send no "decided"
            self._prompts.pop(next(iter(self._prompts)))

    def idle(self) -> bool:
        """No notification is being sent or retried."""
        return not self._tasks

    async def drain(self) -> None:
        """Wait (bounded) for notifications still in flight; give up the rest, recording each."""
        if not self._tasks:
            return
        try:
            await workflow.wait_condition(self.idle, timeout=DRAIN_ON_CLOSE,
                                          timeout_summary="notifications still being sent")
        except TimeoutError:
            pending = list(self._tasks)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _start(self, inp: NotifyInput) -> None:
        if not workflow.patched(PATCH_ID):
            return
        task = asyncio.create_task(self._send(inp))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, inp: NotifyInput) -> None:
        n = inp.notice
        try:
            await workflow.execute_activity(
                "soar.notify", inp, result_type=NotifyResult, start_to_close_timeout=NOTIFY_ATTEMPT,
                schedule_to_close_timeout=NOTIFY_BUDGET, retry_policy=NOTIFY_RETRY,
                summary=f"notify {inp.channel}: {n.kind} {n.prompt_id}"[:200])
        except ActivityError as e:
            cause = e.cause
            self._fail(inp, cause.message if isinstance(cause, ApplicationError) else str(cause or e))
        except asyncio.CancelledError:
            self._fail(inp, "not sent: the container closed while it was still being retried")
            raise

    def _fail(self, inp: NotifyInput, why: str) -> None:
        n = inp.notice
        audit = AuditEvent(time=workflow.now(), kind=AuditKind.NOTIFICATION_FAILED, actor="notifications",
                           container_id=n.container_id, prompt_id=n.prompt_id, action=f"notify:{inp.channel}",
                           source="activity", outcome="failed", detail=why[:2000])
        self._failed(audit, f"Notification to {inp.channel} ({n.kind} of prompt {n.prompt_id}) failed: {why[:500]}")
