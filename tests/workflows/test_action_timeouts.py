"""An action runs with its connector's declared timeouts: a PAN-OS commit that outlasts the old fixed
5-minute cap finishes in one attempt, and the history shows the declared start-to-close and budget."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.worker import Worker

from activities import discover_connectors
from core.models import Artifact, Container, PlaybookInput, PlaybookOutcome, RunStatus
from tests.helpers.stack import run_stack
from tests.workflows.playbooks.names import NamesFromParams


async def _block_ip(dev_env, task_queue, assets_file, ip: str) -> tuple[PlaybookOutcome, list]:
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        c = Container(id="SOAR-TIMEOUTS", name="timeouts", artifacts=[Artifact(cef={"sourceAddress": ip})])
        inp = PlaybookInput(container=c, container_workflow_id="container/SOAR-TIMEOUTS", routes=stack.store.routes(),
                            params={"asset": "panos", "action": "block ip", "param": "ip", "value": ip})
        wid = f"timeouts-{uuid.uuid4().hex[:8]}"
        async with Worker(dev_env.client, task_queue=f"{task_queue}-pb", workflows=[NamesFromParams]):
            out = await dev_env.client.execute_workflow("NamesFromParams", inp, id=wid, task_queue=f"{task_queue}-pb",
                                                        result_type=PlaybookOutcome,
                                                        execution_timeout=timedelta(minutes=20))
        history = await dev_env.client.get_workflow_handle(wid).fetch_history()
    return out, list(history.events)


def _assert_one_attempt_with_declared_timeouts(events: list) -> None:
    spec = discover_connectors()["panos"].find("block ip")
    scheduled = [e.activity_task_scheduled_event_attributes for e in events
                 if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    assert [s.activity_type.name for s in scheduled] == ["panos.block_ip"]
    assert scheduled[0].start_to_close_timeout.ToTimedelta() == spec.timeout == timedelta(minutes=15)
    assert scheduled[0].schedule_to_close_timeout.ToTimedelta() == spec.budget
    started = [e.activity_task_started_event_attributes for e in events
               if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert [s.attempt for s in started] == [1], "the commit finished in its first attempt"


async def test_a_slow_commit_finishes_in_one_attempt_with_the_declared_timeouts(dev_env, task_queue, assets_file,
                                                                               sim):
    sim.job_seconds(panos=8)
    out, events = await _block_ip(dev_env, task_queue, assets_file, "203.0.113.77")
    assert out.status == RunStatus.SUCCESS and out.actions[0].status == "success", out.actions
    assert out.actions[0].duration_s >= 8
    assert "203.0.113.77" in sim.state()["effects"]["panos"]["blocked_ips"]
    _assert_one_attempt_with_declared_timeouts(events)


@pytest.mark.long
async def test_a_commit_longer_than_five_minutes_finishes_in_one_attempt(dev_env, task_queue, assets_file, sim):
    sim.job_seconds(panos=330)
    out, events = await _block_ip(dev_env, task_queue, assets_file, "203.0.113.78")
    assert out.actions[0].status == "success" and out.actions[0].duration_s > 300, out.actions
    assert "203.0.113.78" in sim.state()["effects"]["panos"]["blocked_ips"]
    _assert_one_attempt_with_declared_timeouts(events)
