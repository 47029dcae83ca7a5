"""The container continues-as-new when Temporal suggests it, keeping its state (a dev server with a low
suggestion threshold stands in for a container with a very long history)."""

from __future__ import annotations

import uuid

import pytest_asyncio
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.models import Container, Status
from core.temporal import SEARCH_ATTRIBUTES, dev_server_path
from tests.helpers.stack import run_stack
from workflows.messages import AnalystChange, ChangeAck


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def small_history_env():
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()), search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter, dev_server_log_level="error",
        dev_server_extra_args=["--dynamic-config-value", "limit.historyCount.suggestContinueAsNew=60"],
    ) as env:
        yield env


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
