"""What the scenarios share: result rows, alert builders, percentiles, visibility waits, history counts."""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

T = TypeVar("T")
AUTOMATION = {"Authorization": "Bearer demo-automation-token"}
TIER2 = {"Authorization": "Bearer demo-tier2-token"}


@dataclass
class Row:
    """One measured figure, its same-run baseline and its target."""

    section: str
    metric: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


@dataclass
class Section:
    """The rows of one scenario plus the raw data that explains them (profile, counts)."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, metric: str, value: float | None, unit: str, **kw: Any) -> Row:
        """Append a row."""
        r = Row(self.name, metric, value, unit, **kw)
        self.rows.append(r)
        return r


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two `Stack.cpu()` readings; `other` is what processes
    outside the benchmark used on this machine meanwhile (other people's tests skew every figure)."""
    d = {k: round(after.get(k, 0.0) - v, 1) for k, v in before.items()}
    machine = d.pop("machine", 0.0)
    d["other"] = round(max(0.0, machine - sum(d.values())), 1)
    return d


def pct(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (nearest rank) of `values`, None when empty."""
    v = sorted(values)
    if not v:
        return None
    k = max(0, min(len(v) - 1, math.ceil(p / 100 * len(v)) - 1))
    return v[k]


def run_tag() -> str:
    """A tag that keeps this run's source ids apart from any other run's."""
    return datetime.now(UTC).strftime("%H%M%S") + hashlib.sha256(str(time.time_ns()).encode()).hexdigest()[:6]


def clean_hash(seed: str) -> str:
    """A SHA-256 the simulator calls clean (not deadbeef/badc0de/0000...)."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    return "a" + h[1:] if h.startswith(("0000", "deadbeef", "badc0de")) else h


def clean_phishing(tag: str, i: int) -> dict[str, Any]:
    """A reported phishing email whose URL, attachment hash and sender IP are all clean (4 lookups)."""
    return {"name": f"bench phishing {i}", "label": "phishing", "severity": "medium",
            "source_data_identifier": f"bench-{tag}-clean-{i}",
            "artifacts": [{"cef": {"requestURL": f"https://login{i}.example.com/account"}},
                          {"cef": {"fileHash": clean_hash(f"{tag}-{i}")}},
                          {"cef": {"sourceAddress": f"203.0.113.{i % 250 + 1}"}}]}


def malicious_hash_phishing(tag: str, i: int) -> dict[str, Any]:
    """A phishing email whose attachment hash is malicious, with host and user: containment prompt."""
    digest = hashlib.sha256(f"{tag}-mal-{i}".encode()).hexdigest()
    return {"name": f"bench malicious attachment {i}", "label": "phishing", "severity": "medium",
            "source_data_identifier": f"bench-{tag}-mal-{i}",
            "artifacts": [{"cef": {"fileHash": "deadbeef" + digest[8:]}},
                          {"cef": {"sourceHostName": f"WORKSTATION-{i:04d}", "sourceUserName": f"jdoe{i}"}}]}


def edr_alert(tag: str, i: int) -> dict[str, Any]:
    """A high-severity EDR alert: starts the containment decision directly (one prompt)."""
    return {"name": f"bench edr {i}", "label": "edr", "severity": "high",
            "source_data_identifier": f"bench-{tag}-edr-{i}",
            "artifacts": [{"cef": {"sourceHostName": f"WORKSTATION-{i:04d}", "sourceUserName": f"svc{i}"}}]}


def misc_alert(tag: str, i: int) -> dict[str, Any]:
    """A small container no trigger matches (no playbook runs)."""
    return {"name": f"bench misc {i}", "label": "misc", "severity": "low",
            "source_data_identifier": f"bench-{tag}-misc-{i}",
            "artifacts": [{"cef": {"sourceAddress": f"203.0.113.{i % 250 + 1}"}}]}


async def bounded(n: int, limit: int, fn: Callable[[int], Awaitable[T]]) -> list[T]:
    """Run fn(0..n-1) with at most `limit` in flight."""
    sem = asyncio.Semaphore(limit)

    async def one(i: int) -> T:
        async with sem:
            return await fn(i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


def iso(ts: float) -> str:
    """Epoch seconds as the RFC 3339 form visibility queries take."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def wait_count(client: Client, query: str, want: int, within_s: float, every: float = 0.5) -> int:
    """Poll count_workflows(query) until it reaches `want` or `within_s` passes; returns the last count."""
    deadline = time.monotonic() + within_s
    n = 0
    while True:
        n = (await client.count_workflows(query)).count
        if n >= want or time.monotonic() > deadline:
            return n
        await asyncio.sleep(every)


async def close_times(client: Client, query: str) -> list[float]:
    """Close times (epoch seconds) of the closed workflows matching `query`."""
    out = []
    async for wf in client.list_workflows(query, page_size=1000):
        if wf.close_time is not None:
            out.append(wf.close_time.timestamp())
    return out


async def history_counts(client: Client, workflow_id: str) -> dict[str, int]:
    """Event counts of one workflow's history (workflow tasks, activities, signals, timers...) and its size."""
    counts: dict[str, int] = {}
    size = 0
    async for ev in client.get_workflow_handle(workflow_id).fetch_history_events():
        name = EventType.Name(ev.event_type).removeprefix("EVENT_TYPE_")
        counts[name] = counts.get(name, 0) + 1
        size += ev.ByteSize()
    counts["EVENTS"] = sum(counts.values())
    counts["BYTES"] = size  # the events' protobuf size: what the history table stores, before compression
    return counts


def add_counts(total: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    """Sum two event-count dicts."""
    for k, v in more.items():
        total[k] = total.get(k, 0) + v
    return total


async def result_once_started(handle: WorkflowHandle[Any, Any], within_s: float) -> Any:
    """The workflow's result, waiting first for it to exist (a container starts its playbook runs a moment
    after its own start, so a run's id can be unknown for a while).

    Raises:
        TimeoutError: no result within `within_s`.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            return await asyncio.wait_for(handle.result(), timeout=max(0.1, deadline - time.monotonic()))
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
