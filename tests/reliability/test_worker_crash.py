"""kill -9 of the worker process, four times in one run of six phishing containers: while VirusTotal
lookups are in flight, while a ServiceNow insert is in flight, while playbooks wait between actions
(analyst prompts pending), and while a CrowdStrike `contain` is in flight. After each restart every
container finishes and every side effect happened exactly once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from activities.panos.objects import url_entry
from tests.helpers.wait import assert_eventually
from tests.reliability.conftest import (
    MAL_HASH,
    Rig,
    call_log,
    comments,
    in_flight,
    phishing,
    runs_done,
    tag,
)

pytestmark = pytest.mark.slow

VENDORS = ("virustotal", "servicenow", "panos", "crowdstrike")


async def crash_when(rig: Rig, figures: dict[str, Any], name: str, cond: Any, within: float = 120,
                     then_wait: float = 0.0) -> None:
    """Wait until `cond()` holds (and `then_wait` seconds more), then kill -9 the worker and start it again."""
    async def ready() -> bool:
        return bool(cond())
    await assert_eventually(ready, within, f"{name}: crash condition", interval=0.05)
    await asyncio.sleep(then_wait)
    busy = {v: n for v in VENDORS if (n := in_flight(rig.sim, v)) > 0}
    rig.worker.kill()
    figures[f"{name}_requests_in_flight"] = busy
    figures[f"{name}_killed_at_s"] = round(time.monotonic() - figures["_t0"], 1)
    await asyncio.to_thread(rig.worker.start)
    figures[f"{name}_restart_ready_s"] = round(rig.worker.last_ready_s, 1)


async def test_worker_kill9_between_and_during_actions(make_rig, sim, figures):
    sim.latency(virustotal=3000, servicenow=2000, crowdstrike=1500)
    rig = await make_rig()
    t = tag()
    shared = f"http://malicious-{t}.example/shared"
    unique = f"http://malicious-{t}-b.example/login"
    host = f"WORKSTATION-{t[:4].upper()}"
    endpoint = {"sourceHostName": host, "sourceUserName": "jdoe"}
    intranet = f"https://intranet.example.com/{t}"
    containers = {
        "A1": phishing({"requestURL": shared}), "A2": phishing({"requestURL": shared}),
        "B1": phishing({"requestURL": unique}),
        "C1": phishing({"requestURL": f"{intranet}/c1"}, {"fileHash": MAL_HASH}, endpoint),
        "C2": phishing({"requestURL": f"{intranet}/c2"}, {"fileHash": MAL_HASH}, endpoint),
        "D1": phishing({"requestURL": f"{intranet}/d1"}),
    }
    figures["_t0"] = time.monotonic()
    ids = {k: (await rig.start(c)).container_id for k, c in containers.items()}

    # 1. VirusTotal lookups in flight (3 s latency): kill -9.
    await crash_when(rig, figures, "kill1_vt", lambda: in_flight(sim, "virustotal") >= 3)

    # 2. A ServiceNow insert in flight: the first correlation-id query has come back, so its insert is on
    # the wire (2 s latency); kill -9 half a second later. The simulator completes the insert anyway.
    await crash_when(rig, figures, "kill2_snow", lambda: len(call_log(sim, "servicenow")) >= 1,
                     within=180, then_wait=0.5)

    # 3. Between actions: A/B/D finished, C1 and C2 wait for an analyst; nothing in flight: kill -9.
    async def settled() -> bool:
        views = {k: await rig.view(cid) for k, cid in ids.items()}
        return (all(runs_done(views[k]) for k in ("A1", "A2", "B1"))
                and views["D1"].state.container.status.value == "closed"
                and all(views[k].pending_prompts for k in ("C1", "C2")))
    await assert_eventually(settled, 180, "A/B/D finished and C prompts pending")
    assert all(in_flight(sim, v) <= 0 for v in VENDORS)
    await crash_when(rig, figures, "kill3_between", lambda: True)

    # 4. C1 answered; its CrowdStrike `contain` in flight (device already looked up): kill -9.
    v1 = await rig.wait_for(ids["C1"], lambda v: bool(v.pending_prompts), what="C1 prompt after restart")
    await rig.answer(v1.pending_prompts[0].workflow_id, v1.pending_prompts[0].id, "Isolate Host")

    def contain_in_flight() -> bool:
        log = call_log(sim, "crowdstrike")
        looked_up = any(e["path"].endswith("/devices/entities/devices/v2") for e in log)
        return looked_up and in_flight(sim, "crowdstrike") >= 1
    await crash_when(rig, figures, "kill4_contain", contain_in_flight)
    c1 = await rig.wait_for(ids["C1"], runs_done, timeout=120, what="C1 containment done")

    # C2 asks to isolate the host C1 already isolated: not an error, no second `contain`.
    v2 = await rig.wait_for(ids["C2"], lambda v: bool(v.pending_prompts), what="C2 prompt")
    await rig.answer(v2.pending_prompts[0].workflow_id, v2.pending_prompts[0].id, "Isolate Host")
    c2 = await rig.wait_for(ids["C2"], runs_done, timeout=120, what="C2 containment done")
    figures["all_done_s"] = round(time.monotonic() - figures.pop("_t0"), 1)
    figures["worker_starts"] = rig.worker.starts

    views = {k: await rig.view(cid) for k, cid in ids.items()}
    views["C1"], views["C2"] = c1, c2
    for k, v in views.items():  # every container completed its playbooks without a failed action
        assert runs_done(v), k
        assert all(r.status == "success" for r in v.state.runs), (k, [r.status for r in v.state.runs])
        failed = [(a.action, a.message) for r in v.state.runs for a in r.outcome.actions
                  if a.status == "failed"]
        assert not failed, (k, failed)
    assert views["D1"].state.auto_resolved and views["D1"].state.container.status.value == "closed"
    for k in ("A1", "A2", "B1"):
        assert views[k].state.disposition == "True Positive - Escalated to Tier 2"
    for k in ("C1", "C2"):
        assert views[k].state.disposition == "True Positive - Escalated to IR"
        assert "Analyst approved: Isolate Host (by bob)" in comments(views[k])

    st = sim.state()
    eff = st["effects"]
    # PAN-OS: each blocked URL is in the running config exactly once (two containers blocked `shared`).
    running = eff["panos"]["running"]
    for url in (shared, unique):
        assert running.count(f"<member>{url_entry(url)}</member>") == 1, url
    # ServiceNow: one incident per escalated container, whatever the retries.
    incidents = list(eff["servicenow"]["incidents"].values())
    per_container = {k: sum(ids[k] in i["description"] for i in incidents) for k in ("A1", "A2", "B1")}
    assert per_container == {"A1": 1, "A2": 1, "B1": 1}, per_container
    assert len({i["correlation_id"] for i in incidents}) == len(incidents) == 3
    # CrowdStrike: contained once; the second containment found it contained and succeeded.
    cs = eff["crowdstrike"]
    assert host in cs["contained"] and cs["contain_calls"][host] == 1
    quarantine = {k: [a for r in views[k].state.runs for a in r.outcome.actions
                      if a.action == "quarantine device"] for k in ("C1", "C2")}
    assert [a.status for a in quarantine["C1"] + quarantine["C2"]] == ["success", "success"]
    assert quarantine["C2"][0].message == f"{host} already isolated"
    figures["c1_quarantine_message"] = quarantine["C1"][0].message
    figures["vt_lookups"] = sum(eff["virustotal"]["lookups"].values())
    lookups = eff["virustotal"]["lookups"]
    figures["vt_lookups_repeated_by_crash"] = sum(n - 1 for n in lookups.values() if n > 1)
    figures["snow_requests"] = st["calls"].get("servicenow", 0)
    figures["snow_incidents"] = len(incidents)
    # the retried `create ticket` found the incident its killed attempt had inserted (by correlation id)
    creates = [a.message for k in ("A1", "A2", "B1") for r in views[k].state.runs for a in r.outcome.actions
               if a.action == "create ticket"]
    figures["snow_retry_found_existing"] = sum(m.endswith(" exists") for m in creates)
    assert figures["snow_retry_found_existing"] >= 1, creates
    figures["contain_calls"] = cs["contain_calls"][host]
