"""Scenario 5: quota efficiency. VirusTotal lookups through an asset limited to 60/min (its own task queue,
server-enforced rate) against a simulator quota of 60/min: makespan vs the ideal, 429s; then the same
number of lookups over a quarter as many indicators on an asset with `cache_ttl_s`: vendor calls made."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta

import httpx
from pydantic import BaseModel
from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import Worker

from bench.common import Section
from bench.stack import RL_ASSET, RL_CACHED_ASSET, RL_PER_MINUTE, Stack
from core.models import ActionInput, ActionResult
from core.temporal import CONNECTOR_RETRY, asset_task_queue

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


async def quota(stack: Stack, client: Client, n: int, tag: str) -> Section:
    """Run both halves of scenario 5."""
    sec = Section("5. quota efficiency")
    ideal = n * 60.0 / RL_PER_MINUTE
    async with httpx.AsyncClient(timeout=30) as http:
        (await http.post(f"{stack.sim_url}/_sim/latency", json={"virustotal": 0})).raise_for_status()
        (await http.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": RL_PER_MINUTE})).raise_for_status()
        try:
            async with Worker(client, task_queue=QUEUE, workflows=[QuotaLookups]):
                distinct = [f"https://quota-{tag}-{i}.example.com/" for i in range(n)]
                plain = await _run(client, http, stack, RL_ASSET, distinct)
                repeated = [f"https://quota-{tag}-rep-{i % max(1, n // 4)}.example.com/" for i in range(n)]
                cached = await _run(client, http, stack, RL_CACHED_ASSET, repeated)
        finally:
            (await http.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": 0})).raise_for_status()
    sec.add(f"makespan of {n} lookups at {RL_PER_MINUTE}/min", plain["makespan_s"], "s", baseline=ideal,
            baseline_label=f"ideal {n} x 60/{RL_PER_MINUTE} s", ratio=plain["makespan_s"] / ideal,
            target=f"close to {ideal:.0f} s", note=f"{plain['succeeded']}/{n} succeeded")
    sec.add("vendor 429 answers", plain["http_429"], "", baseline=0, baseline_label="ideal", target="0",
            met=plain["http_429"] == 0)
    sec.add(f"vendor calls, {n} lookups of {cached['distinct']} indicators, cache_ttl_s", cached["vendor_calls"],
            "calls", baseline=cached["distinct"], baseline_label="ideal (distinct indicators)",
            ratio=cached["vendor_calls"] / max(1, cached["distinct"]), target=f"{cached['distinct']}",
            met=cached["vendor_calls"] <= cached["distinct"],
            note=f"makespan {cached['makespan_s']} s: cached answers still wait for the queue's rate")
    sec.details = {"rate_limited": plain, "cached": cached}
    return sec
