"""Scenario c (`--only c`, not part of `make bench`): what each Temporal operation of an alert costs on this
server. The plain workflow (4 no-op activities) against the same with one change each: plus one search-
attribute upsert, the lookups as local activities, run as the child of a parent, and both. Server CPU per
workflow, worker CPU, workflow tasks, events; docs/capacity.md is built on these figures."""

from __future__ import annotations

import httpx
from temporalio.client import Client

from bench.baseline import COST_TYPES
from bench.common import Section
from bench.stack import Stack
from bench.throughput import _baseline, _cpu_per_alert

LABELS = {
    "BenchAlert": "plain: 4 activities",
    "BenchAlertUpsert": "plain + 1 search-attribute upsert",
    "BenchAlertLocal": "4 local activities instead",
    "BenchParent": "parent + child (4 activities)",
    "BenchParentLocal": "parent + child (4 local activities)",
}


async def costs(stack: Stack, client: Client, http: httpx.AsyncClient, n: int, concurrency: int) -> Section:
    """Run each variant n times (one after another) and price it against the plain workflow."""
    sec = Section("c. per-operation costs")
    runs = {t: await _baseline(stack, client, n, concurrency, t) for t in COST_TYPES}
    plain = _cpu_per_alert(runs["BenchAlert"])
    for t in COST_TYPES:
        r, cpu = runs[t], _cpu_per_alert(runs[t])
        ev = r["events_per_alert"]
        sec.add(f"{LABELS[t]}: server CPU per alert", cpu["server"], "ms", baseline=plain["server"],
                baseline_label="plain", ratio=cpu["server"] / plain["server"] if plain["server"] else None,
                note=f"{r['per_s']:.1f}/s; worker {cpu['worker']:.0f} ms; workflow tasks "
                     f"{ev.get('WORKFLOW_TASK_COMPLETED', 0):.1f}; events {ev.get('EVENTS', 0):.0f}; "
                     f"other load {r['cpu_s']['other']}s")
    sec.details = runs
    return sec
