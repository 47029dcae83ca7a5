"""The brief's containment decision: a `phantom.prompt` to soc_tier2 with four options, answered through the
API (or signed as the API does) or left to time out on the time-skipping server."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from api.report import build_report, render_text
from tests.helpers.api import auth, http, run_api
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually
from tests.phantom.conftest import container, done, texts

CONTAINMENT = "brief_containment_decision"
OPTIONS = ["Isolate Host", "Disable Account", "Both", "Monitor Only"]


def edr(host: str) -> object:
    return container("edr", {"sourceHostName": host, "sourceUserName": "jdoe", "sourceAddress": "10.1.2.3"},
                     {"fileHash": "deadbeef" + "3" * 56}, name="EDR: credential dumping")


def effects(sim) -> tuple[list[str], list[str]]:
    e = sim.state()["effects"]
    return e.get("crowdstrike", {}).get("contained", []), e.get("active_directory", {}).get("disabled_users", [])


@pytest.mark.parametrize(("option", "isolated", "disabled"), [
    ("Isolate Host", True, False), ("Disable Account", False, True), ("Both", True, True),
    ("Monitor Only", False, False)])
async def test_each_answer_does_what_the_code_says(dev_env, task_queue, phantom_assets_file, sim, option, isolated,
                                                   disabled):
    host = f"WORKSTATION-{uuid.uuid4().hex[:6].upper()}"
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(edr(host), playbooks=[CONTAINMENT])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        assert p.role == "soc_tier2" and p.options == OPTIONS
        assert p.message.startswith("Confirmed malicious activity detected.\nHost: 10.1.2.3\nThreat: None\n")
        assert [(t.kind, t.value) for t in p.targets] == [("host", host), ("user", "jdoe"), ("ip", "10.1.2.3")]
        assert p.deadline - p.created == timedelta(minutes=15)
        granted = {(a.action, a.target) for a in p.authorizes[option]}
        assert {("quarantine device", host), ("disable user", "jdoe")} <= granted
        ack = await answer(dev_env.client, p, option)
        assert ack.option == option
        v = await stack.wait_for(r.container_id, done)
    contained, disabled_users = effects(sim)
    assert (host in contained, disabled_users == ["jdoe"]) == (isolated, disabled)
    assert f"Analyst approved: {option}" in texts(v)
    records = sorted(v.state.runs[0].outcome.actions, key=lambda a: a.index)
    # the acts descend from the analyst's answer: no second (Approve/Deny) prompt
    assert [a.kind for a in records].count("prompt") == 1
    prompt = next(a for a in records if a.kind == "prompt")
    assert prompt.summary["option"] == option and prompt.summary["responder"] == "bob"
    assert f'Prompt Analyst (soc_tier2) - Response: "{option}"' in render_text(build_report(v))


async def test_answered_through_the_api(dev_env, task_queue, phantom_assets_file, sim):
    host = f"WORKSTATION-{uuid.uuid4().hex[:6].upper()}"
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                r = await stack.start(edr(host), playbooks=[CONTAINMENT])

                async def listed():
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
                    return [p for p in rows if p["container_id"] == r.container_id]

                [p] = await assert_eventually(listed)
                assert p["role"] == "soc_tier2" and p["options"] == OPTIONS and p["can_respond"] is True
                url = f"/api/v1/prompts/{p['id']}/response"
                refused = await api.post(url, json={"option": "Both"}, headers=auth("tier1"))
                assert refused.status_code == 403, refused.text
                bad = await api.post(url, json={"option": "Nuke It"}, headers=auth("tier2"))
                assert bad.status_code == 422, bad.text
                ok = await api.post(url, json={"option": "Isolate Host"}, headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
                again = await api.post(url, json={"option": "Both"}, headers=auth("tier2"))
                assert again.status_code in (404, 409), again.text
        v = await stack.wait_for(r.container_id, done)
    contained, disabled = effects(sim)
    assert host in contained and disabled == []
    assert "Analyst approved: Isolate Host" in texts(v)


async def test_timeout_takes_the_codes_safe_default(ts_env, task_queue, phantom_assets_file, sim):
    async with run_stack(ts_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(edr("WORKSTATION-042"), playbooks=[CONTAINMENT])
        await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        await ts_env.sleep(timedelta(minutes=15, seconds=5))
        v = await stack.wait_for(r.container_id, done, timeout=60)
    assert effects(sim) == ([], [])
    comments = texts(v)
    assert "Analyst approved: Monitor Only" in comments  # the brief's results.get("response", "Monitor Only")
    assert any(c.startswith("No response from soc_tier2 within 15m 0s") for c in comments)
    prompt = next(a for a in v.state.runs[0].outcome.actions if a.kind == "prompt")
    assert prompt.summary["timed_out"] is True and prompt.status == "skipped" and prompt.duration_s >= 15 * 60


async def test_answer_at_minute_14_still_contains(ts_env, task_queue, phantom_assets_file, sim):
    async with run_stack(ts_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(edr("WORKSTATION-042"), playbooks=[CONTAINMENT])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        await ts_env.sleep(timedelta(minutes=14))
        await answer(ts_env.client, v.pending_prompts[0], "Both")
        v = await stack.wait_for(r.container_id, done, timeout=60)
    assert effects(sim) == (["WORKSTATION-042"], ["jdoe"])
    prompt = next(a for a in v.state.runs[0].outcome.actions if a.kind == "prompt")
    assert prompt.duration_s >= 14 * 60 and prompt.summary["option"] == "Both"
