"""Prometheus metrics, defined once for the API and the worker (import-safe in both; never imported by
workflow code, so the workflow sandbox never sees it). No web framework here: the API's `/metrics` route
serves `metrics_text()` with `CONTENT_TYPE`; the worker serves the registry with `start_worker_metrics_server`.

Every metric lives in the private `REGISTRY` (plus the process and platform collectors), so importing this
module twice or next to other libraries never raises "Duplicated timeseries".

Who records what:

- `soar_playbook_runs_total{playbook,status}`: the API at scrape time, from Temporal visibility
  (`set_playbook_run_counts`, called by `api.runs.refresh_prometheus`);
- `soar_prompts_pending`: the API at scrape time, from visibility (`set_prompts_pending`, likewise);
- `soar_action_duration_seconds{connector,action,status}`: the worker, `ActionMetricsInterceptor`
  (every attempt);
- `soar_prompt_response_seconds`: the API when an analyst answers a prompt (`observe_prompt_response`);
- `soar_containers_ingested_total{source}`: the API's ingestion routes (`observe_ingest`);
- `soar_action_cache_total{asset,outcome}`: the worker's result cache (`observe_cache`): `hit` (a cached
  answer), `shared` (the answer of an identical call in flight) or `miss` (a vendor call); the hit rate of an
  asset is `(hit + shared) / all`.

Playbook runs are counted from Temporal rather than incremented in workflow code: workflow code replays,
and many workers may run; visibility is the one place every run is counted exactly once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from threading import Lock, Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

CONTENT_TYPE = CONTENT_TYPE_LATEST
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

ACTION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
PROMPT_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400)
RUN_STATUSES = ("running", "success", "failed", "cancelled")


class PlaybookRunsCollector(Collector):
    """`soar_playbook_runs_total{playbook,status}`: totals read from Temporal (an exporter-style counter)."""

    def __init__(self) -> None:
        self._lock = Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def set(self, counts: Mapping[tuple[str, str], int]) -> None:
        """Replace the totals: `{(playbook, status): runs}`."""
        with self._lock:
            self._counts = dict(counts)

    def get(self, playbook: str, status: str) -> int:
        """The current total of one series (0 when absent)."""
        with self._lock:
            return self._counts.get((playbook, status), 0)

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily("soar_playbook_runs", "Playbook runs by playbook and status (Temporal)",
                                   labels=["playbook", "status"])

    def collect(self) -> Iterable[CounterMetricFamily]:
        """The counter family (no samples until the API has read Temporal once)."""
        fam = self._family()
        with self._lock:
            for (playbook, status), n in sorted(self._counts.items()):
                fam.add_metric([playbook, status], n)
        yield fam

    def describe(self) -> Iterable[CounterMetricFamily]:
        """Described without samples (so registering never calls Temporal)."""
        yield self._family()


PLAYBOOK_RUNS = PlaybookRunsCollector()
REGISTRY.register(PLAYBOOK_RUNS)

ACTION_DURATION = Histogram(
    "soar_action_duration_seconds", "Connector action attempts by connector, action and status",
    ["connector", "action", "status"], buckets=ACTION_BUCKETS, registry=REGISTRY,
)
PROMPTS_PENDING = Gauge("soar_prompts_pending", "Analyst prompts waiting for an answer (from Temporal)",
                        registry=REGISTRY)
PROMPT_RESPONSE = Histogram(
    "soar_prompt_response_seconds", "Time from a prompt being opened to an analyst answering it",
    buckets=PROMPT_BUCKETS, registry=REGISTRY,
)
ACTION_CACHE = Counter("soar_action_cache", "Read-only action answers by asset: hit, shared (in flight) or miss",
                       ["asset", "outcome"], registry=REGISTRY)
PROMPT_FEED = Counter("soar_prompt_feed_hints", "Workers' prompt hints by outcome: listed (the run's memo held the "
                      "prompt), empty (no pending prompt), gone (no such run), dropped (over the bound)",
                      ["outcome"], registry=REGISTRY)
PROMPT_FEED_READS = Counter("soar_prompt_feed_reads", "DescribeWorkflowExecution calls made for workers' prompt "
                            "hints (a hint is read again until the run's memo shows its prompt)", registry=REGISTRY)
PROMPT_FEED_LAG = Histogram("soar_prompt_feed_lag_seconds", "From a prompt's opening to the API listing it from a "
                            "worker's hint", buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10), registry=REGISTRY)
CONTAINERS_INGESTED = Counter("soar_containers_ingested", "Containers created by ingestion, by source",
                              ["source"], registry=REGISTRY)


# ---- recording helpers ----------------------------------------------------------------------------------
def observe_ingest(source: str, count: int = 1) -> None:
    """Count containers ingested from `source` (e.g. `splunk`, `email`, `api`); not duplicates."""
    CONTAINERS_INGESTED.labels(source=source).inc(count)


def observe_prompt_feed(outcome: str, lag_s: float | None = None, reads: int = 0) -> None:
    """Count one prompt hint (`outcome`: listed | empty | gone | dropped), the reads it took and, when listed,
    its lag."""
    PROMPT_FEED.labels(outcome=outcome).inc()
    PROMPT_FEED_READS.inc(reads)
    if lag_s is not None:
        PROMPT_FEED_LAG.observe(max(0.0, lag_s))


def observe_cache(asset: str, outcome: str) -> None:
    """Count one answer of a cacheable action (`outcome`: hit | shared | miss)."""
    ACTION_CACHE.labels(asset=asset, outcome=outcome).inc()


def observe_prompt_response(seconds: float) -> None:
    """Record how long an analyst took to answer a prompt (answered - opened)."""
    PROMPT_RESPONSE.observe(max(0.0, seconds))


def observe_action(connector: str, action: str, status: str, seconds: float) -> None:
    """Record one action attempt (`status`: success | failed | error)."""
    ACTION_DURATION.labels(connector=connector, action=action, status=status).observe(max(0.0, seconds))


def set_prompts_pending(n: int) -> None:
    """Set the number of pending prompts."""
    PROMPTS_PENDING.set(n)


def set_playbook_run_counts(counts: Mapping[tuple[str, str], int]) -> None:
    """Set the playbook run totals: `{(playbook, status): runs}`."""
    PLAYBOOK_RUNS.set(counts)


# ---- exposition ---------------------------------------------------------------------------------------
def metrics_text() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)


def start_worker_metrics_server(port: int, addr: str = "0.0.0.0") -> tuple[WSGIServer, Thread]:
    """Serve this registry on `http://<addr>:<port>/metrics` from a daemon thread (the worker process).

    Stop it with `server.shutdown()`. Use port 0 to pick a free port (`server.server_port`).
    """
    return start_http_server(port, addr=addr, registry=REGISTRY)


# ---- worker: action durations -------------------------------------------------------------------------
class _ActionMetricsInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        connector, _, action = info.activity_type.partition(".")
        if not action or connector == "soar":  # platform activities are not actions (lookups may run local)
            return await self.next.execute_activity(input)
        started = time.monotonic()
        status = "error"
        try:
            result = await self.next.execute_activity(input)
            status = getattr(result, "status", "success")
            if status not in ("success", "failed"):
                status = "success"
            return result
        finally:
            observe_action(connector, action, status, time.monotonic() - started)


class ActionMetricsInterceptor(Interceptor):
    """Worker interceptor recording `soar_action_duration_seconds` for every connector action attempt.

    `status` is the action result's status (`success` / `failed`), or `error` when the attempt raised
    (retryable or not). Wire it with `Worker(..., interceptors=[ActionMetricsInterceptor()])`.
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap the activity inbound chain."""
        return _ActionMetricsInbound(next)
