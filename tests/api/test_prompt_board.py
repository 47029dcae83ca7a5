"""The prompt board and the list: `GET /api/v1/prompts` merges what the board's history says (the API follows
it, api/board_follower.py) into the visibility listing (new prompts first, closed ones left out). Runs of
version 1 told the board of their prompts; version 2 runs do not (workflows/versions.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from core.models import Artifact, Container, Prompt, Severity
from tests.helpers.api import auth, http, run_api
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually
from workflows.board import BoardChange, PromptBoard, board_id

MAL_HASH = "deadbeef" + "3" * 56


def edr(host: str) -> Container:
    return Container(name="EDR detection", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"board-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="host", cef={"sourceHostName": host, "sourceUserName": "jdoe"})])


async def board(client, queue: str):
    return await client.get_workflow_handle(board_id(queue)).query(PromptBoard.view)


async def test_runs_of_today_leave_the_board_alone_and_their_prompts_are_listed(dev_env, task_queue, assets_file,
                                                                                sim):
    """Playbook runs of version 2 (workflows/versions.py) no longer tell the board (it cost more deadline
    lateness than the freshness it bought); their prompts are listed from visibility, and not once answered."""
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                r = await stack.start(edr("WORKSTATION-201"))
                v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
                p = v.pending_prompts[0]
                rows = await assert_eventually(lambda: _rows(api, p.id), 30, "listed from visibility")
                assert next(row for row in rows if row["id"] == p.id)["role"] == "soc_tier2"
                assert p.id not in {q.id for q in (await board(dev_env.client, task_queue)).opened}
                await answer(dev_env.client, p, "Monitor Only")
                await assert_eventually(lambda: _not(_rows(api, p.id)), 30, "left out once answered")
                view = await board(dev_env.client, task_queue)
                assert p.id not in view.closed and p.id not in {q.id for q in view.opened}


async def test_the_list_leads_with_fresh_prompts_and_leaves_out_closed_ones(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                async def listed(pid: str) -> bool:
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
                    return pid in {row["id"] for row in rows}

                # A prompt only the board knows (as one visibility has not indexed yet): listed, answerable by role.
                now = datetime.now(UTC)
                ghost = Prompt(id=f"SOAR-GHOST{uuid.uuid4().hex[:8].upper()}.containment_decision.1",
                               container_id="SOAR-GHOST0001", playbook="containment_decision",
                               workflow_id="playbook/containment_decision/SOAR-GHOST0001", role="soc_tier2",
                               message="Contain?", options=["Isolate Host", "Monitor Only"], on_timeout="Monitor Only",
                               created=now, deadline=now + timedelta(minutes=15))
                handle = dev_env.client.get_workflow_handle(board_id(task_queue))
                await handle.signal(PromptBoard.change, BoardChange(opened=[ghost]))
                rows = await assert_eventually(lambda: _rows(api, ghost.id), 10, "the board's prompt listed")
                assert rows[0]["id"] == ghost.id and rows[0]["can_respond"] is True  # fresh ones come first

                # A real prompt, once visibility lists it, is left out as soon as the board says it closed.
                r = await stack.start(edr("WORKSTATION-202"))
                v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
                pid = v.pending_prompts[0].id
                await assert_eventually(lambda: listed(pid), 30, "the real prompt listed")
                await handle.signal(PromptBoard.change, BoardChange(closed=[pid, ghost.id]))
                await assert_eventually(lambda: _not(listed(pid)), 10, "a closed prompt left out")
                assert not await listed(ghost.id)


async def _rows(api, pid: str) -> list[dict] | None:
    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
    return rows if pid in {row["id"] for row in rows} else None


async def _has(view_coro, pid: str):
    view = await view_coro
    return next((p for p in view.opened if p.id == pid), None)


async def _closed(view_coro, pid: str):
    view = await view_coro
    return view if pid in view.closed else None


async def _not(coro) -> bool:
    return not await coro



def ghost_prompt() -> Prompt:
    now = datetime.now(UTC)
    cid = f"SOAR-GHOST{uuid.uuid4().hex[:6].upper()}"
    return Prompt(id=f"{cid}.containment_decision.1", container_id=cid, playbook="containment_decision",
                  workflow_id=f"playbook/containment_decision/{cid}", role="soc_tier2", message="Contain?",
                  options=["Isolate Host", "Monitor Only"], on_timeout="Monitor Only", created=now,
                  deadline=now + timedelta(minutes=15))


async def test_the_list_is_fresh_with_no_worker_to_answer(dev_env, task_queue, assets_file, sim):
    """The API follows the board's history (api/board_follower.py), which Temporal writes when a signal is sent:
    with every worker stopped, nothing could answer a query or process the signal, and the prompt is still
    listed at once, then left out once the board is told it closed."""
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings  # the board runs; its worker stops with the stack
    handle = dev_env.client.get_workflow_handle(board_id(task_queue))
    with run_api(settings, dev_env.client) as base:
        async with http(base) as api:
            ghost = ghost_prompt()
            await handle.signal(PromptBoard.change, BoardChange(opened=[ghost]))
            rows = await assert_eventually(lambda: _rows(api, ghost.id), 5, "listed from the board's history")
            assert rows[0]["id"] == ghost.id and rows[0]["can_respond"] is True
            await handle.signal(PromptBoard.change, BoardChange(closed=[ghost.id]))
            await assert_eventually(lambda: _not(_rows(api, ghost.id)), 5, "left out once closed")
            r = await api.get("/api/v1/prompts", headers=auth("tier1"))
            assert r.status_code == 200 and ghost.id not in {row["id"] for row in r.json()["data"]}
