"""Prompts beyond first-come, on the time-skipping server with the real worker and the simulator: a quorum of
two distinct approvers (one person never counts twice; the action verifies both), reminders at fractions of
the wait, escalation to a second role when the deadline passes, then the safe default; all in the report."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError

from core.models import Artifact, Container, Severity
from tests.helpers.config import example_assets, write_assets
from tests.helpers.prompts import answer, signed_response
from tests.helpers.stack import run_stack


def edr(host: str = "WORKSTATION-042", user: str = "jdoe") -> Container:
    return Container(name="EDR: credential dumping", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"edr-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="host", cef={"sourceHostName": host, "sourceUserName": user})])


def contained(sim) -> list[str]:
    return sim.state()["effects"].get("crowdstrike", {}).get("contained", [])


async def test_isolation_needs_two_distinct_approvers(ts_env, task_queue, tmp_path, sim):
    assets = example_assets(sim.url, sim.ldap_port)
    cs = next(a for a in assets if a["asset_name"] == "crowdstrike")
    cs["configuration"]["approval_quorum"] = {"quarantine device": 2}
    path = write_assets(tmp_path / "assets.json", assets)
    async with run_stack(ts_env.client, task_queue, path, prompt_reminders=[]) as stack:
        r = await stack.start(edr(), predicted=["containment_decision"])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, 60)
        p = v.pending_prompts[0]
        assert p.policy.quorum == 2
        h = ts_env.client.get_workflow_handle(p.workflow_id)
        first = await answer(ts_env.client, p, "Isolate Host", "bob")
        assert (first.decided, first.approvals, first.quorum) == (False, 1, 2)
        with pytest.raises(WorkflowUpdateFailedError) as e:  # bob again does not count twice
            await h.execute_update("respond", signed_response(p, "Isolate Host", "bob"))
        assert e.value.cause.type == "RoleNotAllowed" and "already approved" in e.value.cause.message
        assert contained(sim) == []
        second = await answer(ts_env.client, p, "Isolate Host", "carol", ("soc_manager", "soc_tier2"))
        assert second.decided and second.approvals == 2
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", 60)
        assert contained(sim) == ["WORKSTATION-042"]
        rec = next(a for a in v.state.runs[0].outcome.actions if a.kind == "prompt")
        assert rec.message == 'Response: "Isolate Host" by bob, carol (2 of 2 approvals)'
        kinds = [a.kind.value for a in v.state.audit]
        assert kinds.count("approval_recorded") == 1 and "prompt_answered" in kinds


async def test_a_single_approval_is_not_enough_for_the_action_either(ts_env, task_queue, tmp_path, sim):
    """The activity checks the quorum itself: one signed approval of a quorum action is refused."""
    from activities import discover_connectors
    from core.approvals import load_keyring
    from core.models import ActionInput
    from core.runtime import AssetStore
    from core.settings import get_settings
    from tests.activities.conftest import sign_approval

    assets = example_assets(sim.url, sim.ldap_port)
    cs = next(a for a in assets if a["asset_name"] == "crowdstrike")
    cs["configuration"]["approval_quorum"] = {"quarantine device": 2}
    store = AssetStore.load(write_assets(tmp_path / "a.json", [cs]), discover_connectors(),
                            keyring=load_keyring(get_settings().trusted_keys_path))
    spec = store.connectors["crowdstrike"].find("quarantine device")
    one = sign_approval("quarantine device", "WORKSTATION-042", "crowdstrike", "SOAR-Q")
    from core.errors import ApprovalInvalid
    with pytest.raises(ApprovalInvalid, match="needs 2 different approvers; 1 approved"):
        await store.run(spec, ActionInput(asset="crowdstrike", params={"hostname": "WORKSTATION-042"},
                                          approval=one, approvals=[one], container_id="SOAR-Q"))
    await store.aclose()
    assert contained(sim) == []


async def test_reminders_escalation_then_the_safe_default(ts_env, task_queue, assets_file, sim):
    async with run_stack(ts_env.client, task_queue, assets_file, prompt_reminders=[0.5, 0.8],
                         prompt_escalate_to="soc_manager", prompt_escalate_for_s=600) as stack:
        r = await stack.start(edr(), predicted=["containment_decision"])
        p = (await stack.wait_for(r.container_id, lambda v: v.pending_prompts, 60)).pending_prompts[0]
        await ts_env.sleep(timedelta(minutes=13))  # past 50 % and 80 % of 15 minutes
        v = await stack.wait_for(r.container_id, lambda v: sum(e.kind == "reminder" for e in v.state.prompt_events)
                                 == 2, 60)
        assert [e.detail for e in v.state.prompt_events if e.kind == "reminder"] == [
            "reminder 1: 7m 30s left", "reminder 2: 3m 0s left"]
        await ts_env.sleep(timedelta(minutes=2, seconds=30))  # the deadline passes: escalated to soc_manager
        v = await stack.wait_for(r.container_id, lambda v: any(e.kind == "escalated" for e in v.state.prompt_events),
                                 60)
        esc = v.pending_prompts[0]
        assert esc.escalated and esc.roles_allowed() >= {"soc_tier2", "soc_manager"}
        assert any(a.kind.value == "prompt_escalated" for a in v.state.audit)
        await ts_env.sleep(timedelta(minutes=10, seconds=5))  # nobody answers the manager either
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", 60)
        rec = next(a for a in v.state.runs[0].outcome.actions if a.kind == "prompt")
        assert rec.summary["timed_out"] and rec.summary["reminders"] == 2
        assert rec.summary["escalated_to"] == "soc_manager" and "escalated to soc_manager" in rec.message
        assert v.state.disposition == "Pending Review - No Analyst Response" and contained(sim) == []
        assert any(a.kind.value == "prompt_timed_out" for a in v.state.audit)
        assert p.id == rec.summary["prompt_id"]


async def test_the_escalation_role_may_answer_once_escalated(ts_env, task_queue, assets_file, sim):
    async with run_stack(ts_env.client, task_queue, assets_file, prompt_reminders=[],
                         prompt_escalate_to="soc_manager") as stack:
        r = await stack.start(edr(), predicted=["containment_decision"])
        p = (await stack.wait_for(r.container_id, lambda v: v.pending_prompts, 60)).pending_prompts[0]
        h = ts_env.client.get_workflow_handle(p.workflow_id)
        with pytest.raises(WorkflowUpdateFailedError):  # a manager without tier 2 may not answer yet
            await h.execute_update("respond", signed_response(p, "Isolate Host", "dave", ("soc_manager",)))
        await ts_env.sleep(timedelta(minutes=15, seconds=5))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts and v.pending_prompts[0].escalated, 60)
        await answer(ts_env.client, v.pending_prompts[0], "Isolate Host", "dave", ("soc_manager",))
        await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", 60)
        assert contained(sim) == ["WORKSTATION-042"]
