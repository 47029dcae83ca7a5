"""Scenario 7: the prompt list is fresh under load. Clean phishing alerts are POSTed concurrently as in
scenario 1, with EDR alerts spread among them (each opens a containment prompt at once). Two pollers run
meanwhile: one reads `GET /api/v1/prompts` (visibility plus the prompt board, `workflows.board`), the other
reads visibility alone (`core.visibility.pending_prompts`, the query the list used before the board). Per
prompt: seconds from its `created` (the run's clock, same machine) until each first listed it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from temporalio.client import Client

from bench.common import AUTOMATION, TIER2, Section, bounded, clean_phishing, cpu_delta, edr_alert, pct
from bench.stack import Stack
from core.visibility import pending_prompts

POLL_S = 0.25
TARGET_P99_S = 2.0


class Seen:
    """First time each poller listed each prompt (API: by prompt id; visibility: by the run's workflow id)."""

    def __init__(self) -> None:
        self.api: dict[str, float] = {}
        self.created: dict[str, float] = {}
        self.workflow: dict[str, str] = {}
        self.container: dict[str, str] = {}
        self.vis: dict[str, float] = {}
        self.listed: dict[str, float] = {}  # container id -> first in GET /api/v1/containers?awaiting_prompt=true
        self.api_polls = self.vis_polls = self.list_polls = 0
        self.api_ms: list[float] = []


async def _poll_api(http: httpx.AsyncClient, seen: Seen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        t = time.perf_counter()
        r = await http.get("/api/v1/prompts", params={"page_size": 1000}, headers=TIER2)
        now = time.time()  # the answer's arrival: an upper bound of when the prompt was listed
        seen.api_ms.append((time.perf_counter() - t) * 1000)
        seen.api_polls += 1
        if r.status_code == 200:
            for p in r.json()["data"]:
                if p["id"] not in seen.api:
                    seen.api[p["id"]] = now
                    seen.workflow[p["id"]] = p["workflow_id"]
                    seen.container[p["id"]] = p["container_id"]
                    seen.created[p["id"]] = _epoch(p["created"])
        await asyncio.sleep(POLL_S)


async def _poll_containers(http: httpx.AsyncClient, seen: Seen, stop: asyncio.Event) -> None:
    while not stop.is_set():
        r = await http.get("/api/v1/containers", params={"awaiting_prompt": "true", "page_size": 500},
                           headers=TIER2)
        now = time.time()
        seen.list_polls += 1
        if r.status_code == 200:
            for c in r.json()["data"]:
                seen.listed.setdefault(str(c["id"]), now)
        await asyncio.sleep(POLL_S)


async def _poll_visibility(client: Client, seen: Seen, stop: asyncio.Event) -> None:
    query = str(pending_prompts())
    while not stop.is_set():
        ids = [wf.id async for wf in client.list_workflows(query, page_size=1000)]
        now = time.time()
        seen.vis_polls += 1
        for wid in ids:
            seen.vis.setdefault(wid, now)
        await asyncio.sleep(POLL_S)


def _epoch(iso_ts: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_ts.replace("Z", "+00:00")).timestamp()


async def _feed_counts(http: httpx.AsyncClient) -> dict[str, float]:
    """The API's prompt feed counters and lag buckets, from its /metrics."""
    r = await http.get("/metrics", headers=AUTOMATION)
    out: dict[str, float] = {}
    for line in r.text.splitlines() if r.status_code == 200 else []:
        if line.startswith("soar_prompt_feed_hints_total{"):
            out[line.split('outcome="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("soar_prompt_feed_reads_total "):
            out["reads"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("soar_prompt_feed_lag_seconds_bucket{"):
            out["le " + line.split('le="')[1].split('"')[0]] = float(line.rsplit(" ", 1)[1])
    return out


async def freshness(stack: Stack, client: Client, http: httpx.AsyncClient, n: int, n_prompts: int,
                    concurrency: int, tag: str) -> Section:
    """POST n clean alerts and n_prompts EDR alerts (spread evenly) with `concurrency` in flight; measure how
    soon each prompt is listed by the API and by visibility alone; then answer every prompt."""
    sec = Section("7. prompt list freshness")
    (await http.post(f"{stack.sim_url}/_sim/latency", json={"virustotal": 0, "abuseipdb": 0, "maxmind": 0,
                                                             "rdap": 0})).raise_for_status()
    every = max(1, (n + n_prompts) // max(1, n_prompts))
    bodies: list[dict[str, Any]] = []
    edr = 0
    for i in range(n + n_prompts):
        if i % every == every - 1 and edr < n_prompts:
            bodies.append(edr_alert(f"{tag}-fresh", edr))
            edr += 1
        else:
            bodies.append(clean_phishing(f"{tag}-fresh", i))
    while edr < n_prompts:
        bodies.append(edr_alert(f"{tag}-fresh", edr))
        edr += 1
    feed0 = await _feed_counts(http)
    seen, stop = Seen(), asyncio.Event()
    pollers = [asyncio.create_task(_poll_api(http, seen, stop)),
               asyncio.create_task(_poll_visibility(client, seen, stop)),
               asyncio.create_task(_poll_containers(http, seen, stop))]
    cpu0 = stack.cpu()
    t0 = time.time()

    async def post(i: int) -> int:
        r = await http.post("/api/v1/containers", json=bodies[i], headers=AUTOMATION)
        return r.status_code

    statuses = await bounded(len(bodies), concurrency, post)
    posted_s = time.time() - t0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if len(seen.api) >= n_prompts and all(w in seen.vis for w in seen.workflow.values()) \
                and all(c in seen.listed for c in seen.container.values()):
            break
        await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*pollers, return_exceptions=True)
    cpu1 = stack.cpu()
    api_d = [seen.api[p] - seen.created[p] for p in seen.api]
    vis_d = [seen.vis[w] - seen.created[p] for p, w in seen.workflow.items() if w in seen.vis]
    list_d = [seen.listed[c] - seen.created[p] for p, c in seen.container.items() if c in seen.listed]
    load = f"{n} clean alerts + {n_prompts} EDR POSTed, {concurrency} in flight"
    p50, p99, v50, v99 = pct(api_d, 50), pct(api_d, 99), pct(vis_d, 50), pct(vis_d, 99)
    sec.add(f"prompt opened -> in GET /api/v1/prompts, p50 ({len(api_d)}/{n_prompts} prompts; {load})", p50, "s",
            baseline=v50, baseline_label="visibility alone (pending_prompts query), p50",
            ratio=p50 / v50 if p50 is not None and v50 else None,
            note=f"polled every {POLL_S} s by each reader, counted when the answer arrived; GET /api/v1/prompts "
                 f"took p50 {pct(seen.api_ms, 50) or 0:.0f} ms, p99 {pct(seen.api_ms, 99) or 0:.0f} ms under this load")
    sec.add("prompt opened -> in GET /api/v1/prompts, p99", p99, "s", baseline=v99,
            baseline_label="visibility alone, p99", ratio=p99 / v99 if p99 is not None and v99 else None,
            target=f"<= {TARGET_P99_S:.0f} s p99", met=p99 is not None and p99 <= TARGET_P99_S
            and len(api_d) == n_prompts,
            note=f"max {max(api_d, default=0):.2f} s (visibility alone: max {max(vis_d, default=0):.2f} s, "
                 f"{len(vis_d)}/{n_prompts} listed within the wait)")
    sec.add("prompt opened -> in GET /api/v1/containers?awaiting_prompt=true (visibility through the API), p99",
            pct(list_d, 99), "s", baseline=v99, baseline_label="visibility alone, p99",
            note=f"p50 {pct(list_d, 50) or 0:.2f} s; {len(list_d)}/{n_prompts} listed within the wait")
    feed1 = await _feed_counts(http)
    feed = {k: feed1.get(k, 0) - feed0.get(k, 0) for k in feed1}
    within = " / ".join(f"{feed.get(f'le {b}', 0):.0f}" for b in ("0.5", "1.0", "2.0"))
    sec.add("prompts listed from the workers' hints (api/prompt_feed.py), within 0.5 / 1 / 2 s of opening",
            feed.get("listed", 0), "prompts",
            note=f"{within}; hints without a prompt {feed.get('empty', 0):.0f}, gone {feed.get('gone', 0):.0f}, "
                 f"dropped {feed.get('dropped', 0):.0f}; {feed.get('reads', 0):.0f} reads of runs (Describe)")
    answered = await bounded(len(seen.api), 10, lambda i: _answer(http, list(seen.api)[i]))
    sec.details = {"load": load, "post_s": round(posted_s, 1), "statuses": {str(s): statuses.count(s)
                                                                          for s in set(statuses)},
                   "api_delay_s": sorted(round(d, 3) for d in api_d),
                   "visibility_delay_s": sorted(round(d, 3) for d in vis_d),
                   "containers_listing_delay_s": sorted(round(d, 3) for d in list_d),
                   "get_prompts_ms": {"p50": pct(seen.api_ms, 50), "p99": pct(seen.api_ms, 99),
                                      "max": max(seen.api_ms, default=None)},
                   "polls": {"api": seen.api_polls, "visibility": seen.vis_polls, "containers": seen.list_polls},
                   "answered": sum(answered), "cpu_s": cpu_delta(cpu0, cpu1)}
    return sec


async def _answer(http: httpx.AsyncClient, prompt_id: str) -> int:
    """Close a prompt (Monitor Only) so nothing of this scenario waits into the next ones."""
    r = await http.post(f"/api/v1/prompts/{prompt_id}/response", json={"option": "Monitor Only"}, headers=TIER2)
    return int(r.status_code == 200)
