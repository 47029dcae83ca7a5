"""A burst of 500 alerts POSTed concurrently to the real API process: every one accepted, one container
each, each processed exactly once; 50 of them sent again are flagged duplicates and start nothing."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from tests.helpers.wait import assert_eventually
from tests.reliability.conftest import tag

pytestmark = pytest.mark.slow

N, CONCURRENCY, RESEND = 500, 50, 50
INGEST = {"ph-auth-token": "demo-automation-token"}


async def post_all(api: httpx.AsyncClient, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body with at most CONCURRENCY requests in flight."""
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(body: dict) -> httpx.Response:
        async with sem:
            return await api.post("/api/v1/containers", json=body, headers=INGEST)
    return await asyncio.gather(*(one(b) for b in bodies))


async def resend_duplicates(api: httpx.AsyncClient, bodies: list[dict], ids: list[str]) -> None:
    """The first RESEND alerts again: accepted as duplicates of the existing containers; nothing starts."""
    again = await post_all(api, bodies[:RESEND])
    assert Counter(r.status_code for r in again) == {202: RESEND}
    assert all(r.json()["duplicate"] and r.json()["playbooks"] == [] for r in again)
    assert [r.json()["container_id"] for r in again] == ids[:RESEND]


async def test_burst_of_500_alerts(make_rig, sim, figures):
    t = tag()
    label = f"burst-{t}"
    triggers = [{"playbook_name": "phishing_triage_automation",
                 "trigger": {"type": "event_created", "conditions": {"label": [label]}},
                 "active": True, "run_as": "automation_user"}]
    rig = await make_rig(api=True, triggers=triggers)
    assert rig.api is not None
    urls = [f"https://intranet.example.com/{t}/{i}" for i in range(N)]
    bodies = [{"name": f"Burst alert {i}", "label": label, "severity": "low",
               "source_data_identifier": f"{label}-{i}",
               "artifacts": [{"name": "url", "cef": {"requestURL": u}}]} for i, u in enumerate(urls)]
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=rig.api.url, timeout=120, limits=limits) as api:
        t0 = time.monotonic()
        resps = await post_all(api, bodies)
        post_s = time.monotonic() - t0
        codes = Counter(r.status_code for r in resps)
        assert codes == {202: N}, (codes, next((r.text for r in resps if r.status_code != 202), ""))
        accepted = [r.json() for r in resps]
        assert not any(a["duplicate"] for a in accepted)
        assert all(a["playbooks"] == ["phishing_triage_automation"] for a in accepted)
        ids = [a["container_id"] for a in accepted]
        assert len(set(ids)) == N
        await resend_duplicates(api, bodies, ids)  # while they are still being processed

        query = f"WorkflowType='ContainerWorkflow' AND SoarLabel='{label}'"

        async def count(q: str, want: int) -> bool:
            return (await rig.client.count_workflows(q)).count == want
        await assert_eventually(lambda: count(query, N), 120, f"{N} containers in visibility")
        visible_s = time.monotonic() - t0
        await assert_eventually(lambda: count(f"{query} AND ExecutionStatus='Completed'", N), 420,
                   f"{N} containers closed", interval=2)
        closed_s = time.monotonic() - t0
        await assert_eventually(lambda: count(f"{query} AND SoarStatus='closed' AND SoarAutoResolved=true", N), 60,
                   "every container auto-closed")

        lookups = sim.state()["effects"]["virustotal"]["lookups"]
        ours = {k: v for k, v in lookups.items() if f"/{t}/" in k}
        assert len(ours) == N and set(ours.values()) == {1}, Counter(ours.values())  # each processed once

        await resend_duplicates(api, bodies, ids)  # and once they are closed
        await asyncio.sleep(2)  # give a wrongly started workflow time to show up in visibility
        assert (await rig.client.count_workflows(query)).count == N
        # this dev server is the test's own: every playbook run in it is ours, one per container
        assert (await rig.client.count_workflows("WorkflowType='PhishingTriageAutomation'")).count == N
        lookups = sim.state()["effects"]["virustotal"]["lookups"]
        assert sum(v for k, v in lookups.items() if f"/{t}/" in k) == N

    figures.update(alerts=N, concurrency=CONCURRENCY, post_all_s=round(post_s, 1),
                   post_rate_per_s=round(N / post_s, 1), all_visible_s=round(visible_s, 1),
                   all_closed_s=round(closed_s, 1), containers_per_s=round(N / closed_s, 1),
                   vt_lookups=sum(ours.values()), duplicates_resent=f"{RESEND} while running + {RESEND} after closing")
