"""Scenario 5: quota efficiency. VirusTotal lookups through an asset limited to 60/min (its own task queue,
server-enforced rate) against a simulator quota of 60/min: makespan vs the ideal, 429s. Then the same number
of lookups over a quarter as many indicators on an asset with `cache_ttl_s`, twice: as activities dispatched
straight to the asset's queue (the cache answers inside the activity, after its turn in the queue: how it
was), and as the alerts of as many containers, whose playbook runs ask the cache before dispatch (only the
misses take a turn in the queue). Last, the severity part (bench/priority.py): a high-severity alert behind a
backlog of low ones on the asset limited to the brief's 4/min (or `--quota-rate`)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from bench.common import Section, bounded, result_once_started
from bench.priority import priority
from bench.stack import PLAYBOOK_QUEUE, RL_ASSET, RL_CACHED_ASSET, RL_PER_MINUTE, Stack
from core.models import ActionInput, ActionResult, Artifact, Container, Severity
from core.temporal import CONNECTOR_RETRY, asset_task_queue
from workflows.starter import start_container

QUEUE = "bench-quota"


class LookupsInput(BaseModel):
    """Which asset, and the URLs to look up (all at once)."""

    asset: str
    urls: list[str]


@workflow.defn(name="BenchQuotaLookups", sandboxed=False)
class QuotaLookups:
    """Every lookup scheduled at once on the asset's rate-limited queue, with the connector retry policy."""

    @workflow.run
    async def run(self, inp: LookupsInput) -> list[str]:
        """Run the lookups."""
        results = await asyncio.gather(*(
            workflow.execute_activity(
                "virustotal.url_reputation", ActionInput(asset=inp.asset, params={"url": u}),
                task_queue=asset_task_queue(inp.asset), start_to_close_timeout=timedelta(minutes=2),
                retry_policy=CONNECTOR_RETRY, result_type=ActionResult)
            for u in inp.urls))
        return [r.status for r in results]


async def _sim(http: httpx.AsyncClient, stack: Stack) -> dict[str, int]:
    st = (await http.get(f"{stack.sim_url}/_sim/state")).json()
    return {"calls": int(st["calls"].get("virustotal", 0)), "429": int(st["statuses"].get("virustotal:429", 0))}


async def _run(client: Client, http: httpx.AsyncClient, stack: Stack, asset: str,
               urls: list[str]) -> dict[str, float]:
    before = await _sim(http, stack)
    t0 = time.monotonic()
    statuses = await client.execute_workflow(QuotaLookups.run, LookupsInput(asset=asset, urls=urls),
                                             id=f"bench-quota-{uuid.uuid4().hex[:8]}", task_queue=QUEUE,
                                             execution_timeout=timedelta(minutes=10))
    makespan = time.monotonic() - t0
    after = await _sim(http, stack)
    return {"makespan_s": round(makespan, 2), "vendor_calls": after["calls"] - before["calls"],
            "http_429": after["429"] - before["429"], "succeeded": statuses.count("success"),
            "lookups": len(urls), "distinct": len(set(urls))}


async def _containers(client: Client, http: httpx.AsyncClient, stack: Stack, urls: list[str],
                      tag: str) -> dict[str, float]:
    """One container per URL, all at once, each running the bench playbook that looks its URL up on the
    cached rate-limited asset (bench/phantom/bench_cached_lookup.py): until every run has finished."""
    before = await _sim(http, stack)
    t0 = time.monotonic()

    async def start(i: int) -> str:
        c = Container(name=f"bench cached lookup {i}", label="bench", severity=Severity.MEDIUM,
                      source_data_identifier=f"bench-{tag}-cache-{i}",
                      artifacts=[Artifact(name="url", cef={"requestURL": urls[i]})])
        return (await start_container(client, c, task_queue=PLAYBOOK_QUEUE, playbooks=["bench_cached_lookup"])
                ).container_id

    ids = await bounded(len(urls), len(urls), start)
    runs = [client.get_workflow_handle(f"playbook/bench_cached_lookup/{cid}") for cid in ids]
    await asyncio.gather(*(result_once_started(h, 600) for h in runs))
    makespan = time.monotonic() - t0
    after = await _sim(http, stack)
    queued = 0
    for h in runs:
        async for ev in h.fetch_history_events():
            queued += ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    return {"makespan_s": round(makespan, 2), "vendor_calls": after["calls"] - before["calls"],
            "http_429": after["429"] - before["429"], "queue_tasks": queued, "lookups": len(urls),
            "distinct": len(set(urls))}


async def quota(stack: Stack, client: Client, api: httpx.AsyncClient, n: int, n_low: int, tag: str) -> Section:
    """Run the four parts of scenario 5 (`api`: the client of the API under test, for the severity part)."""
    sec = Section("5. quota efficiency")
    ideal = n * 60.0 / RL_PER_MINUTE
    distinct_n = max(1, n // 4)
    async with httpx.AsyncClient(timeout=30) as http:
        (await http.post(f"{stack.sim_url}/_sim/latency", json={"virustotal": 0})).raise_for_status()
        (await http.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": RL_PER_MINUTE})).raise_for_status()
        try:
            async with Worker(client, task_queue=QUEUE, workflows=[QuotaLookups]):
                distinct = [f"https://quota-{tag}-{i}.example.com/" for i in range(n)]
                plain = await _run(client, http, stack, RL_ASSET, distinct)
                repeated = [f"https://quota-{tag}-rep-{i % distinct_n}.example.com/" for i in range(n)]
                queued = await _run(client, http, stack, RL_CACHED_ASSET, repeated)
            fresh = [f"https://quota-{tag}-pre-{i % distinct_n}.example.com/" for i in range(n)]
            before = await _containers(client, http, stack, fresh, tag)
        finally:
            (await http.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": 0})).raise_for_status()
    sec.add(f"makespan of {n} lookups at {RL_PER_MINUTE}/min", plain["makespan_s"], "s", baseline=ideal,
            baseline_label=f"ideal {n} x 60/{RL_PER_MINUTE} s", ratio=plain["makespan_s"] / ideal,
            target=f"close to {ideal:.0f} s", note=f"{plain['succeeded']}/{n} succeeded")
    sec.add("vendor 429 answers", plain["http_429"] + before["http_429"], "", baseline=0, baseline_label="ideal",
            target="0", met=plain["http_429"] + before["http_429"] == 0)
    sec.add(f"makespan, {n} lookups of {distinct_n} indicators, cache on (containers, cache before the quota)",
            before["makespan_s"], "s", baseline=queued["makespan_s"],
            baseline_label="same lookups dispatched to the queue (cache inside the activity)",
            ratio=before["makespan_s"] / queued["makespan_s"] if queued["makespan_s"] else None,
            target="<= 12 s", met=before["makespan_s"] <= 12,
            note=f"ideal {distinct_n * 60 / RL_PER_MINUTE:.0f} s ({distinct_n} misses at {RL_PER_MINUTE}/min)")
    sec.add("vendor calls / tasks on the rate-limited queue (cache before the quota)", before["vendor_calls"],
            "calls", baseline=distinct_n, baseline_label="ideal (distinct indicators)",
            ratio=before["vendor_calls"] / distinct_n, target=f"{distinct_n}",
            met=before["vendor_calls"] <= distinct_n and before["queue_tasks"] <= distinct_n,
            note=f"{before['queue_tasks']} tasks queued for {n} lookups; dispatched straight to the queue: "
                 f"{queued['vendor_calls']} calls, {n} tasks")
    prio = await priority(stack, client, api, sec, n_low, tag)
    sec.details = {"rate_limited": plain, "cached_in_activity": queued, "cached_before_dispatch": before,
                   "severity": prio}
    return sec
