"""The live side of the execution report: what a running playbook run has done and is doing, read from
Temporal while it goes on (the container's own view only learns a run's actions when it finishes).

Per running run: its `records` query (the actions finished so far) and its `describe()` (pending activities:
attempt, last failure, next attempt time; pending children: nested runs, read the same way). A run that
cannot be read (no worker to answer the query, a Phantom run without the query) shows what could be read.
Finished containers cost nothing here: only running runs are described.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Literal

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.api.workflow.v1 import PendingActivityInfo
from temporalio.client import Client, WorkflowExecutionDescription

from api.report import Report, RunLive, RunningLine, build_report, title_case
from core.models import ActionRecord, Prompt, PromptState, RunStatus
from workflows.messages import ContainerView

LIVE_DEPTH = 3  # nested runs followed (a playbook that runs a playbook that runs one)
RPC_TIMEOUT = timedelta(seconds=5)


TimeField = Literal["next_attempt_schedule_time", "scheduled_time", "last_started_time"]


def _when(pa: PendingActivityInfo, field: TimeField) -> datetime | None:
    if not pa.HasField(field):
        return None
    when: datetime = getattr(pa, field).ToDatetime(tzinfo=UTC)
    return when


def running_line(pa: PendingActivityInfo, workflow_id: str, view: ContainerView, now: datetime) -> RunningLine:
    """One pending activity as the report shows it (`crowdstrike.quarantine_device` -> Quarantine Device)."""
    connector, _, name = pa.activity_type.name.partition(".")
    vendor = next((r.title for r in view.state.routes.values() if r.connector == connector), connector)
    last_error = pa.last_failure.message if pa.HasField("last_failure") and pa.last_failure.message else None
    next_at = _when(pa, "next_attempt_schedule_time")
    waiting = next_at is not None and next_at > now and pa.state != PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    started = pa.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
    state: Literal["scheduled", "running", "retrying"] = "retrying" if waiting else (
        "running" if started else "scheduled")
    since = _when(pa, "scheduled_time") or _when(pa, "last_started_time") or now
    return RunningLine(action=title_case(name or connector), vendor=vendor, connector=connector,
                       workflow_id=workflow_id, state=state, attempt=max(1, pa.attempt), last_error=last_error,
                       next_attempt_in_s=round((next_at - now).total_seconds(), 1) if waiting and next_at else None,
                       running_for_s=max(0.0, (now - since).total_seconds()))


async def _read(client: Client, wid: str, view: ContainerView, now: datetime, depth: int) -> RunLive:
    h = client.get_workflow_handle(wid)
    records: list[ActionRecord] | BaseException
    desc: WorkflowExecutionDescription | BaseException
    records, desc = await asyncio.gather(
        h.query("records", result_type=list[ActionRecord], rpc_timeout=RPC_TIMEOUT),
        h.describe(rpc_timeout=RPC_TIMEOUT), return_exceptions=True)
    out = RunLive(workflows=[wid])
    if isinstance(records, list):
        out.records = sorted(records, key=lambda a: a.index)
    if not isinstance(desc, WorkflowExecutionDescription):
        return out
    raw = desc.raw_description
    out.running = [running_line(pa, wid, view, now) for pa in raw.pending_activities]
    if depth < LIVE_DEPTH:
        children = await asyncio.gather(*(_read(client, c.workflow_id, view, now, depth + 1)
                                          for c in raw.pending_children))
        for sub in children:  # as the parent will merge them when the nested run finishes: numbered on
            base = max((a.index for a in out.records), default=0)
            out.records += [a.model_copy(update={"index": base + i + 1}) for i, a in enumerate(sub.records)]
            out.running += sub.running
            out.workflows += sub.workflows
    return out


async def still_pending(client: Client, prompts: list[Prompt]) -> list[Prompt]:
    """The prompts that still wait, asked of their runs (the container hears of a decision only with the run's
    next changes, so its own list can lag behind an answer)."""
    runs = sorted({p.workflow_id for p in prompts})
    found = await asyncio.gather(*(client.get_workflow_handle(wid).query("prompts", result_type=list[Prompt],
                                                                          rpc_timeout=RPC_TIMEOUT)
                                   for wid in runs), return_exceptions=True)
    state = {q.id: q for rows in found if isinstance(rows, list) for q in rows}
    return [state.get(p.id, p) for p in prompts if state.get(p.id, p).state == PromptState.PENDING]


async def live_runs(client: Client, view: ContainerView, now: datetime) -> dict[str, RunLive]:
    """The live state of every running run of the container, by run workflow id."""
    running = [r.workflow_id for r in view.state.runs if r.status == RunStatus.RUNNING]
    found = await asyncio.gather(*(_read(client, wid, view, now, 0) for wid in running))
    return dict(zip(running, found, strict=True))


async def live_report(client: Client, view: ContainerView) -> Report:
    """The report of the container as it stands now (running runs included)."""
    now = datetime.now(UTC)
    live = await live_runs(client, view, now)
    if view.pending_prompts:
        view = view.model_copy(update={"pending_prompts": await still_pending(client, view.pending_prompts)})
    return build_report(view, live, now)
