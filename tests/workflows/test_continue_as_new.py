"""The container continues-as-new when Temporal suggests it, keeping its state (a dev server with a low
suggestion threshold stands in for a container with a very long history)."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus

from core.models import Container, RunStatus, Status
from tests.helpers.stack import changes_until_continued, run_stack, runs_of
from tests.helpers.wait import assert_eventually
from tests.workflows.test_prompts import edr_alert
from workflows.messages import AnalystChange, ChangeAck


async def test_container_continues_as_new_and_keeps_state(small_history_env, task_queue, tmp_path):
    assets = tmp_path / "assets.json"
    assets.write_text("[]")
    env = small_history_env
    async with run_stack(env.client, task_queue, assets) as stack:
        r = await stack.start(Container(name="long-lived case", label="misc",
                                        source_data_identifier=f"can-{uuid.uuid4().hex}"))
        h = stack.handle(r.container_id)
        first_run = (await h.describe()).run_id
        for i in range(40):
            await h.execute_update("change", AnalystChange(user="alice", comment=f"note {i}"),
                                   result_type=ChangeAck)
        v = await stack.view(r.container_id)
        assert [c.text for c in v.state.comments] == [f"note {i}" for i in range(40)]
        first = env.client.get_workflow_handle(h.id, run_id=first_run)
        events = [e.event_type async for e in first.fetch_history_events()]
        assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        assert (await h.describe()).run_id != first_run
        await h.execute_update("change", AnalystChange(user="alice", status=Status.CLOSED), result_type=ChangeAck)
        done = await stack.result(r.container_id)
        assert done.state.container.status == Status.CLOSED and len(done.state.comments) == 41


async def waiting_container(stack):
    """An EDR container (tests/workflows/test_prompts.py) whose containment prompt waits: its start, the
    prompt, and the container's handle."""
    r = await stack.start(edr_alert())
    v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60, what="the prompt")
    return r, v.pending_prompts[0], stack.handle(r.container_id)


async def test_a_prompt_waiting_across_continue_as_new_is_answered_in_the_next_run(small_history_env, task_queue,
                                                                                   assets_file, sim):
    """The run waiting on the analyst is handed to the container's next run: the prompt stays listed, the
    answer isolates the host, and the run's outcome lands in the new run (issue 15)."""
    env = small_history_env
    async with run_stack(env.client, task_queue, assets_file) as stack:
        r, p, h = await waiting_container(stack)
        sent = await changes_until_continued(env.client, h, 2)
        first = env.client.get_workflow_handle(h.id, run_id=(await runs_of(env.client, h.id))[0])
        events = [e.event_type async for e in first.fetch_history_events()]
        assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        v = await stack.view(r.container_id)
        assert [q.id for q in v.pending_prompts] == [p.id] and v.state.awaiting_prompt
        assert [run.status for run in v.state.runs] == [RunStatus.RUNNING]
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
        await stack.answer(p.workflow_id, p.id, "Isolate Host")
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != RunStatus.RUNNING,
                                 timeout=60, what="the run's end in the container's latest run")
        assert v.state.runs[0].status == RunStatus.SUCCESS and v.state.runs[0].outcome is not None
        assert any(a.kind == "prompt" and a.summary["option"] == "Isolate Host"
                   for a in v.state.runs[0].outcome.actions)
        assert "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"]["contained"]
        assert v.pending_prompts == [] and not v.state.awaiting_prompt
        assert "Analyst approved: Isolate Host (by bob)" in [c.text for c in v.state.comments]
        assert [c.text for c in v.state.comments if c.author == "alice"] == [f"note {i}" for i in range(sent)]
        await h.execute_update("change", AnalystChange(user="alice", status=Status.CLOSED), result_type=ChangeAck)
        done = await stack.result(r.container_id)
        assert done.state.container.status == Status.CLOSED


async def test_closing_a_container_cancels_the_run_it_was_handed(small_history_env, task_queue, assets_file, sim):
    """An analyst closes the container while a handed-over run still waits: the run is cancelled by id and
    nothing is isolated."""
    env = small_history_env
    async with run_stack(env.client, task_queue, assets_file) as stack:
        r, p, h = await waiting_container(stack)
        await changes_until_continued(env.client, h, 1)
        await h.execute_update("change", AnalystChange(user="alice", status=Status.CLOSED), result_type=ChangeAck)
        done = await stack.result(r.container_id)
        assert done.state.container.status == Status.CLOSED and done.pending_prompts == []
        assert [run.status for run in done.state.runs] == [RunStatus.CANCELLED]
        top = env.client.get_workflow_handle(done.state.runs[0].workflow_id)

        async def cancelled() -> bool:  # the request reaches the run within moments of the close
            return (await top.describe()).status == WorkflowExecutionStatus.CANCELED
        await assert_eventually(cancelled, 30, "the handed-over run cancelled")
        with pytest.raises(Exception):
            await stack.answer(p.workflow_id, p.id, "Isolate Host")
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
