"""Restarts with analyst prompts waiting: the Temporal dev server restarted on the same SQLite file, and a
prompt whose deadline passes while the worker is down. Real processes, real API, real simulator."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest

from tests.helpers.api import auth
from tests.helpers.wait import assert_eventually
from tests.reliability.conftest import comments, edr, runs_done, tag

pytestmark = pytest.mark.slow

OUTAGE_S = 10


async def test_dev_server_restart_keeps_waiting_prompt(make_rig, sim, figures):
    rig = await make_rig(api=True)
    assert rig.api is not None
    host, user = f"WORKSTATION-{tag()[:4].upper()}", "mallory"
    async with httpx.AsyncClient(base_url=rig.api.url, timeout=60) as api:
        body = edr(host, user).model_dump(mode="json", exclude_none=True)
        r = await api.post("/api/v1/containers", json=body, headers=auth("automation"))
        assert r.status_code == 202, r.text
        cid = r.json()["container_id"]
        assert r.json()["playbooks"] == ["containment_decision"]

        async def listed() -> list[dict]:
            rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
            return [p for p in rows if p["container_id"] == cid]
        before = (await assert_eventually(listed, 60, "prompt listed by the API"))[0]
        v = await rig.wait_for(cid, lambda v: bool(v.pending_prompts), what="prompt pending")
        assert v.pending_prompts[0].id == before["id"]

        # Stop the server (SIGTERM) while the prompt waits; restart it on the same SQLite file and port.
        t0 = time.monotonic()
        code = await asyncio.to_thread(rig.temporal.terminate, 30)
        figures["server_stop_s"] = round(time.monotonic() - t0, 1)
        figures["server_exit_code"] = code
        down = await api.get("/readyz")
        figures["api_readyz_while_down"] = down.status_code
        assert down.status_code == 503
        await asyncio.sleep(OUTAGE_S)  # the worker's polls and the API's client see the server gone
        assert rig.worker.alive(), f"worker died while the server was down:\n{rig.worker.tail()}"
        t1 = time.monotonic()
        await asyncio.to_thread(rig.temporal.start)
        figures["server_down_s"] = round(time.monotonic() - t0, 1)
        figures["server_restart_ready_s"] = round(time.monotonic() - t1, 1)

        # The prompt is still there: the query (test client, reconnecting) and the API's list.
        v = await rig.wait_for(cid, lambda v: bool(v.pending_prompts), timeout=120,
                               what="prompt after restart")
        figures["query_ok_after_restart_s"] = round(time.monotonic() - t1, 1)
        p = v.pending_prompts[0]
        assert p.id == before["id"] and p.role == "soc_tier2" and "Isolate Host" in p.options
        after = (await assert_eventually(listed, 120, "prompt listed after restart"))[0]
        assert after["id"] == before["id"] and after["time_left_s"] > 0
        figures["api_list_ok_after_restart_s"] = round(time.monotonic() - t1, 1)
        assert (await api.get("/readyz")).status_code == 200

        # The answer after the restart is accepted and acted on.
        url = f"/api/v1/prompts/{after['id']}/response"
        ok = await assert_eventually(lambda: _respond(api, url), 60, "answer accepted")
        assert ok.status_code == 200, ok.text
        assert host in ok.json()["next_step"]
        done = await rig.wait_for(cid, runs_done, timeout=120, what="containment finished")
        figures["answer_to_contained_s"] = round(time.monotonic() - t1, 1)
        assert done.state.disposition == "True Positive - Escalated to IR"
        assert "Analyst approved: Isolate Host (by bob)" in comments(done)
        cs = sim.state()["effects"]["crowdstrike"]
        assert host in cs["contained"] and cs["contain_calls"][host] == 1
        assert rig.worker.starts == 1 and rig.worker.alive()  # the worker rode the outage out


async def _respond(api: httpx.AsyncClient, url: str) -> httpx.Response | None:
    r = await api.post(url, json={"option": "Isolate Host", "comment": "after restart"},
                       headers={"Authorization": "Bearer demo-tier2-token"})
    return r if r.status_code != 503 else None  # 503 only while the API's client reconnects


async def test_prompt_deadline_passes_while_worker_down(make_rig, sim, figures):
    rig = await make_rig()
    host = f"WORKSTATION-{tag()[:4].upper()}"
    res = await rig.start(edr(host, "jdoe"), respond_in_s=5)
    v = await rig.wait_for(res.container_id, lambda v: bool(v.pending_prompts), what="prompt pending")
    deadline = v.pending_prompts[0].deadline

    t0 = time.monotonic()
    code = await asyncio.to_thread(rig.worker.terminate, 30)
    figures["worker_stop_s"] = round(time.monotonic() - t0, 1)
    figures["worker_exit_code"] = code
    # Wait until the deadline is well past while no worker runs (the timer fires on the server).
    await assert_eventually(lambda: _after(deadline, 3), 30, "deadline passed")
    desc = await rig.client.get_workflow_handle(v.pending_prompts[0].workflow_id).describe()
    assert desc.status is not None and desc.status.name == "RUNNING"  # nothing ran the timeout yet
    figures["worker_down_s"] = round(time.monotonic() - t0, 1)

    t1 = time.monotonic()
    await asyncio.to_thread(rig.worker.start)
    done = await rig.wait_for(res.container_id, runs_done, timeout=120, what="on_timeout branch")
    figures["restart_to_timeout_branch_s"] = round(time.monotonic() - t1, 1)
    texts = comments(done)
    assert "No response from soc_tier2 within 5s; took the default: Monitor Only." in texts
    assert "Containment not performed; the container stays open for review." in texts
    assert done.state.disposition == "Pending Review - No Analyst Response"
    assert done.state.container.status.value == "open" and not done.pending_prompts
    prompt = [a for a in done.state.runs[0].outcome.actions if a.kind == "prompt"][0]
    assert prompt.summary["timed_out"] is True and prompt.summary["option"] == "Monitor Only"
    assert host not in sim.state()["effects"].get("crowdstrike", {}).get("contained", [])


async def _after(deadline: datetime, margin_s: float) -> bool:
    return (datetime.now(UTC) - deadline).total_seconds() > margin_s
