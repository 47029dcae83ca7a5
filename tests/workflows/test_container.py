"""The container entity workflow on the real dev server: dedup, analyst changes, manual runs, closing."""

from __future__ import annotations

import uuid

import pytest
from temporalio.client import WorkflowUpdateFailedError

from core.models import Artifact, Container, Severity, Status
from tests.helpers.stack import run_stack
from workflows.messages import AnalystChange, ChangeAck, RunPlaybookRequest


@pytest.fixture
def assets_file(tmp_path):
    """No assets: these tests exercise the container itself."""
    p = tmp_path / "assets.json"
    p.write_text("[]")
    return p


def container(label: str = "misc", **cef: str) -> Container:
    return Container(name="Test alert", label=label, severity=Severity.LOW,
                     source_data_identifier=f"test-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="a", cef=cef)] if cef else [])


async def test_same_alert_twice_makes_one_container(dev_env, task_queue, assets_file):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        c = container()
        first = await stack.start(c.model_copy(deep=True))
        second = await stack.start(c.model_copy(deep=True))
        assert first.container_id == second.container_id
        assert (first.duplicate, second.duplicate) == (False, True)
        v = await stack.wait_for(first.container_id, lambda v: v.state.container.status == Status.NEW)
        assert v.state.runs == []  # label "misc" matches no trigger
        await stack.handle(first.container_id).execute_update(
            "change", AnalystChange(user="bob", status=Status.CLOSED, comment="noise"), result_type=ChangeAck)
        done = await stack.result(first.container_id)
        assert done.state.container.status == Status.CLOSED
        assert [c.text for c in done.state.comments] == ["noise", "Status set to closed"]
        assert done.state.comments[0].author == "bob"
        # the same alert after closing still maps to the closed container
        third = await stack.start(c.model_copy(deep=True))
        assert third.duplicate and third.container_id == first.container_id


async def test_analyst_changes_are_validated_and_recorded(dev_env, task_queue, assets_file):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(container())
        h = stack.handle(r.container_id)
        await stack.wait_for(r.container_id, lambda v: True)
        ack = await h.execute_update("change", AnalystChange(user="alice", severity=Severity.HIGH, owner="alice",
                                                             artifacts=[Artifact(cef={"sourceAddress": "10.0.0.1"})]),
                                     result_type=ChangeAck)
        assert (ack.severity, ack.owner, ack.container_id) == (Severity.HIGH, "alice", r.container_id)
        v = await stack.view(r.container_id)
        assert v.state.container.severity == Severity.HIGH and v.state.container.owner == "alice"
        assert v.state.container.artifacts[-1].cef["sourceAddress"] == "10.0.0.1"
        with pytest.raises(WorkflowUpdateFailedError) as e:
            await h.execute_update("run_playbook", RunPlaybookRequest(playbook="../../etc/passwd", user="alice"),
                                   result_type=str)
        assert e.value.cause.type == "UnknownPlaybook"
        await h.execute_update("change", AnalystChange(user="alice", status=Status.CLOSED), result_type=ChangeAck)
        await stack.result(r.container_id)
