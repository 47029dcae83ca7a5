"""Vendor trouble seen through the real worker process: a two-minute VirusTotal outage (503) and a 429
storm with Retry-After. Retries are counted from the simulator's own records."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.reliability.conftest import call_log, comments, phishing, tag

pytestmark = pytest.mark.slow

OUTAGE_S = 120


async def test_virustotal_outage_two_minutes(make_rig, sim, figures):
    rig = await make_rig()
    url = f"https://intranet.example.com/{tag()}/outage"
    sim.fault(vendor="virustotal", status=503, duration_s=OUTAGE_S)
    t0 = time.monotonic()
    res = await rig.start(phishing({"requestURL": url}))

    await rig.wait_for(res.container_id, lambda v: bool(v.state.runs), what="playbook started")
    # During the outage the clean-URL container must stay open: a failed lookup is never "clean".
    polls = 0
    while time.monotonic() - t0 < OUTAGE_S - 5:
        v = await rig.view(res.container_id)
        assert v.state.container.status.value != "closed", "closed during the outage"
        assert v.state.runs and v.state.runs[0].status == "running"
        polls += 1
        await asyncio.sleep(3)
    during = sim.state()["statuses"].get("virustotal:503", 0)
    assert during >= 5, f"only {during} attempts during the outage: not retrying"

    h = rig.client.get_workflow_handle(f"container/{res.container_id}")
    done = await asyncio.wait_for(h.result(), timeout=OUTAGE_S + 90)
    closed_after = time.monotonic() - t0
    assert done["state"]["container"]["status"] == "closed" and done["state"]["auto_resolved"] is True
    v = await rig.view(res.container_id)  # queries answer on a completed workflow too
    texts = comments(v)
    assert "URL clean: 0/90 engines flagged." in texts
    assert "Every lookup came back clean. Auto-closed." in texts
    assert not any(t.startswith("Lookup failed") for t in texts)

    statuses = sim.state()["statuses"]
    log = call_log(sim, "virustotal")
    times = [e["t"] for e in log]
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
    assert statuses.get("virustotal:200", 0) == 1 and [e["status"] for e in log][-1] == 200
    assert all(e["status"] == 503 for e in log[:-1])
    # Backoff: the gaps grow (1 s doubling, capped at 30 s) instead of hammering the vendor.
    assert max(gaps) <= 45 and gaps[-2] >= 10, gaps
    figures.update(outage_s=OUTAGE_S, retries_503=statuses.get("virustotal:503", 0), gaps_s=gaps,
                   closed_after_s=round(closed_after, 1),
                   closed_after_outage_end_s=round(closed_after - OUTAGE_S, 1),
                   polls_while_open=polls)


async def test_virustotal_429_storm_honours_retry_after(make_rig, sim, figures):
    rig = await make_rig()
    url = f"https://intranet.example.com/{tag()}/quota"
    sim.fault(vendor="virustotal", status=429, count=3, retry_after=3)
    t0 = time.monotonic()
    res = await rig.start(phishing({"requestURL": url}))
    h = rig.client.get_workflow_handle(f"container/{res.container_id}")
    done = await asyncio.wait_for(h.result(), timeout=120)
    assert done["state"]["container"]["status"] == "closed" and done["state"]["auto_resolved"] is True

    log = call_log(sim, "virustotal")
    assert [e["status"] for e in log] == [429, 429, 429, 200], log  # exactly 4 calls: no retry storm
    assert len({e["path"] for e in log}) == 1  # all for the same lookup
    gaps = [round(b["t"] - a["t"], 2) for a, b in zip(log, log[1:], strict=False)]
    assert all(g >= 2.8 for g in gaps), gaps  # waited as told (Retry-After: 3)
    assert all(g <= 15 for g in gaps), gaps  # ... and not VirusTotal's one-minute default
    figures.update(calls=len(log), gaps_s=gaps, closed_after_s=round(time.monotonic() - t0, 1))
