"""Durable analyst prompts on the time-skipping server: answered at minute 14, unanswered for 15 minutes,
and validation that rejects without writing history."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError

from core.models import Artifact, Container, PromptResponse, Severity, Status
from tests.helpers.prompts import answer, signed_response
from tests.helpers.stack import run_stack


def edr_alert() -> Container:
    return Container(name="EDR: credential dumping", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"edr-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="host", cef={"sourceHostName": "WORKSTATION-042",
                                                           "sourceUserName": "jdoe",
                                                           "sourceAddress": "10.1.2.3"})])


async def pending_prompt(stack, cid):
    v = await stack.wait_for(cid, lambda v: v.pending_prompts, timeout=60)
    return v.pending_prompts[0]


async def test_answer_at_minute_14_proceeds(ts_env, task_queue, assets_file, sim):
    async with run_stack(ts_env.client, task_queue, assets_file) as stack:
        r = await stack.start(edr_alert())
        p = await pending_prompt(stack, r.container_id)
        await ts_env.sleep(timedelta(minutes=14))
        await answer(ts_env.client, p, "Isolate Host")
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", timeout=60)
        effects = sim.state()["effects"]
        assert "WORKSTATION-042" in effects["crowdstrike"]["contained"]
        assert "Analyst approved: Isolate Host (by bob)" in [c.text for c in v.state.comments]
        prompt_rec = next(a for a in v.state.runs[0].outcome.actions if a.kind == "prompt")
        assert prompt_rec.summary["option"] == "Isolate Host" and prompt_rec.duration_s >= 14 * 60


async def test_unanswered_for_15_minutes_takes_monitor_only(ts_env, task_queue, assets_file, sim):
    async with run_stack(ts_env.client, task_queue, assets_file) as stack:
        r = await stack.start(edr_alert())
        p = await pending_prompt(stack, r.container_id)
        await ts_env.sleep(timedelta(minutes=15, seconds=5))
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", timeout=60)
        comments = [c.text for c in v.state.comments]
        assert "No response from soc_tier2 within 15m 0s; took the default: Monitor Only." in comments
        assert v.state.container.status == Status.OPEN
        assert v.state.disposition == "Pending Review - No Analyst Response"
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
        # an answer after the deadline is refused (the run is over)
        h = ts_env.client.get_workflow_handle(p.workflow_id)
        with pytest.raises(Exception):
            await h.execute_update("respond", signed_response(p, "Isolate Host"))


async def test_invalid_answers_are_rejected_without_history(ts_env, task_queue, assets_file, sim):
    async with run_stack(ts_env.client, task_queue, assets_file) as stack:
        r = await stack.start(edr_alert())
        p = await pending_prompt(stack, r.container_id)
        h = ts_env.client.get_workflow_handle(p.workflow_id)

        async def update_events() -> int:
            hist = await h.fetch_history()
            return sum(e.event_type in (EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                                        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
                       for e in hist.events)

        unsigned = PromptResponse(prompt_id=p.id, option="Both", responder="bob", responder_roles=["soc_tier2"])
        bad = [
            (signed_response(p, "Nuke It"), "OptionNotOffered"),
            (signed_response(p, "Both", "alice", ("soc_tier1",)), "RoleNotAllowed"),
            (signed_response(p, "Both").model_copy(update={"prompt_id": p.id + "9"}), "PromptNotFound"),
            (unsigned, "ApprovalInvalid"),  # the payload's responder and roles count for nothing
        ]
        for resp, kind in bad:
            with pytest.raises(WorkflowUpdateFailedError) as e:
                await h.execute_update("respond", resp)
            assert e.value.cause.type == kind
        assert await update_events() == 0
        await h.execute_update("respond", signed_response(p, "Monitor Only"))
        with pytest.raises(Exception):  # second answer: rejected (or the run has already finished)
            await h.execute_update("respond", signed_response(p, "Both", "carol"))
        await asyncio.sleep(0)
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", timeout=60)
        assert "Analyst approved: Monitor Only (by bob)" in [c.text for c in v.state.comments]
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
