"""Automation metrics, Splunk SOAR's `/rest/playbook_run` list and the Prometheus endpoint.

Every figure comes from Temporal: visibility lists the playbook runs (`SoarKind='playbook'`), and a
closed run's result (its `PlaybookOutcome`) gives status, measured duration, records and prompts. Closed
results never change, so they are cached per run id.

Nested runs (`playbook/<name>/<container>/from-<parent>`, started by another playbook) are counted in
the run totals, statuses and durations of their own playbook, but never add analyst time saved: their
parent's baseline already covers the whole manual triage, and their records are part of the parent's
report. Prompts are counted once, by prompt id, under the playbook that asked.

Analyst time saved is counted for successful runs only (a failed or cancelled run leaves the triage to an
analyst), and the auto-resolved share is over finished top-level runs.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import math
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from api.auth import Reader
from api.deps import ClientDep
from api.errors import rpc_error
from api.prom import metrics_response, set_playbook_run_counts, set_prompts_pending
from core.models import PlaybookOutcome, RunStatus
from core.report import time_saved
from core.temporal import SA_CONTAINER_ID, SA_PLAYBOOK
from workflows.ids import CONTAINER_ID_RE, PLAYBOOK_PREFIX, PROMPT_ID_RE
from workflows.registry import PLAYBOOKS

router = APIRouter(tags=["metrics"])

MAX_RUNS = 2000
FETCH_CONCURRENCY = 16
CACHE_MAX = 20_000
DEFAULT_WINDOW = timedelta(days=30)
NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
SCRAPE_MIN_INTERVAL_S = 10.0
_WS = WorkflowExecutionStatus
_STATUS = {_WS.RUNNING: RunStatus.RUNNING, _WS.COMPLETED: RunStatus.SUCCESS, _WS.FAILED: RunStatus.FAILED,
           _WS.TIMED_OUT: RunStatus.FAILED, _WS.CANCELED: RunStatus.CANCELLED,
           _WS.TERMINATED: RunStatus.CANCELLED}


# ---- runs from Temporal -------------------------------------------------------------------------------
class Run(BaseModel):
    """One playbook run as visibility and its result describe it."""

    workflow_id: str
    run_id: str
    playbook: str
    container: str
    status: RunStatus
    started: datetime
    ended: datetime | None = None
    nested: bool = False
    parent_id: str | None = None
    outcome: PlaybookOutcome | None = None

    @property
    def duration_s(self) -> float | None:
        """Measured duration (the run's own clock when its result is known)."""
        return None if self.ended is None else max(0.0, (self.ended - self.started).total_seconds())


def utc(dt: datetime) -> datetime:
    """`dt` in UTC (naive datetimes are taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def rfc3339(dt: datetime) -> str:
    """A visibility-query timestamp."""
    return utc(dt).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _outcome_cache(request: Request) -> dict[str, PlaybookOutcome]:
    cache: dict[str, PlaybookOutcome] | None = getattr(request.app.state, "playbook_outcomes", None)
    if cache is None:
        cache = request.app.state.playbook_outcomes = {}
    return cache


async def _outcome(client: Client, w: WorkflowExecution, cache: dict[str, PlaybookOutcome],
                   sem: asyncio.Semaphore) -> PlaybookOutcome | None:
    if w.run_id in cache:
        return cache[w.run_id]
    async with sem:
        try:
            h = client.get_workflow_handle(w.id, run_id=w.run_id, result_type=PlaybookOutcome)
            out = await h.result(follow_runs=False, rpc_timeout=timedelta(seconds=10))
        except Exception:  # an unreadable result: the visibility facts still count
            return None
    # keep what the figures and rows use: prompt records whole, other records without their data
    out = out.model_copy(update={"final": None, "actions": [
        a if a.kind == "prompt" else a.model_copy(update={"summary": {}, "message": "", "target": ""})
        for a in out.actions]})
    while len(cache) >= CACHE_MAX:
        cache.pop(next(iter(cache)))
    cache[w.run_id] = out
    return out


def _run(w: WorkflowExecution, out: PlaybookOutcome | None) -> Run:
    sa = w.typed_search_attributes
    playbooks = sa.get(SA_PLAYBOOK) or []
    playbook = out.playbook if out else (playbooks[0] if playbooks else w.id.split("/")[1])
    status = _STATUS[w.status] if w.status is not None else RunStatus.RUNNING
    if out is not None and w.status == WorkflowExecutionStatus.COMPLETED:
        status = out.status
    parent = w.parent_id
    return Run(workflow_id=w.id, run_id=w.run_id, playbook=playbook, container=sa.get(SA_CONTAINER_ID) or "",
               status=status, started=out.started if out else w.start_time,
               ended=out.ended if out else w.close_time, outcome=out, parent_id=parent,
               nested=bool(parent and parent.startswith(PLAYBOOK_PREFIX)) or "/from-" in w.id)


async def list_runs(request: Request, client: Client, query: str,
                    limit: int = MAX_RUNS) -> tuple[list[Run], bool]:
    """Runs matching `query` (newest first) with their outcomes, and whether the cap truncated them.

    Raises:
        HTTPException: 503 when Temporal cannot answer.
    """
    found: list[WorkflowExecution] = []
    try:
        async for w in client.list_workflows(query, limit=limit + 1, page_size=min(1000, limit + 1)):
            if w.status in _STATUS:  # continued-as-new runs are superseded by their successor
                found.append(w)
    except RPCError as e:
        raise rpc_error(e, "playbook runs") from None
    truncated = len(found) > limit
    found = found[:limit]
    cache, sem = _outcome_cache(request), asyncio.Semaphore(FETCH_CONCURRENCY)
    done = [w for w in found if w.status == _WS.COMPLETED]
    outcomes = dict(zip((w.run_id for w in done),
                        await asyncio.gather(*(_outcome(client, w, cache, sem) for w in done)), strict=True))
    runs = [_run(w, outcomes.get(w.run_id)) for w in found]
    runs.sort(key=lambda r: (r.started, r.workflow_id), reverse=True)
    return runs, truncated


def base_query(*, since: datetime | None = None, until: datetime | None = None, playbook: str | None = None,
               container: str | None = None, running: bool | None = None) -> str:
    """The visibility query of playbook runs (values are validated by the callers: no quoting issues)."""
    parts = ["SoarKind = 'playbook'"]
    if since is not None:
        parts.append(f"StartTime >= '{rfc3339(since)}'")
    if until is not None:
        parts.append(f"StartTime < '{rfc3339(until)}'")
    if playbook is not None:
        parts.append(f"SoarPlaybook = '{playbook}'")
    if container is not None:
        parts.append(f"SoarContainerId = '{container}'")
    if running is not None:
        parts.append("ExecutionStatus = 'Running'" if running else "ExecutionStatus != 'Running'")
    return " AND ".join(parts)


# ---- automation metrics -------------------------------------------------------------------------------
class Stats(BaseModel):
    """Automation figures of a set of runs."""

    runs_total: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    running: int = 0
    nested_runs: int = Field(default=0, description="Runs started by another playbook (in runs_total)")
    duration_mean_s: float | None = Field(default=None, description="Over finished runs")
    duration_p95_s: float | None = None
    auto_resolved: int = 0
    auto_resolved_share: float | None = Field(default=None, description="Of finished top-level runs")
    prompts_answered: int = 0
    analyst_response_mean_s: float | None = Field(default=None, description="Over answered prompts")
    prompts_timed_out: int = 0
    time_saved_minutes: float = Field(
        default=0.0, description="Sum over successful top-level runs of max(0, baseline - duration)")


class AutomationMetrics(BaseModel):
    """`GET /api/v1/metrics/automation`."""

    since: datetime
    until: datetime | None
    playbook: str | None
    truncated: bool = Field(description=f"More than {MAX_RUNS} runs matched; figures cover the newest")
    max_runs: int = MAX_RUNS
    overall: Stats
    playbooks: dict[str, Stats]


def p95(values: list[float]) -> float | None:
    """95th percentile (nearest rank)."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def prompts_of(runs: Iterable[Run]) -> dict[str, tuple[str, dict[str, Any], float]]:
    """Unique prompt records: prompt id -> (playbook that asked, summary, waited seconds)."""
    out: dict[str, tuple[str, dict[str, Any], float]] = {}
    for r in runs:
        for rec in r.outcome.actions if r.outcome else []:
            if rec.kind != "prompt":
                continue
            pid = str(rec.summary.get("prompt_id") or f"{r.workflow_id}#{rec.index}")
            m = PROMPT_ID_RE.match(pid)
            out.setdefault(pid, (m.group(2) if m else r.playbook, rec.summary, rec.duration_s))
    return out


def stats(runs: list[Run], prompts: Iterable[tuple[str, dict[str, Any], float]]) -> Stats:
    """Figures of `runs` and of the (already deduplicated) `prompts`."""
    s = Stats(runs_total=len(runs))
    durations, top_finished = [], 0
    for r in runs:
        s.succeeded += r.status == RunStatus.SUCCESS
        s.failed += r.status == RunStatus.FAILED
        s.cancelled += r.status == RunStatus.CANCELLED
        s.running += r.status == RunStatus.RUNNING
        s.nested_runs += r.nested
        if r.status == RunStatus.RUNNING or r.duration_s is None:
            continue
        durations.append(r.duration_s)
        if r.nested:
            continue
        top_finished += 1
        s.auto_resolved += bool(r.outcome and r.outcome.auto_resolved)
        info = PLAYBOOKS.get(r.playbook)
        baseline = r.outcome.baseline_minutes if r.outcome else (info.baseline_minutes if info else 0.0)
        if r.status == RunStatus.SUCCESS:
            s.time_saved_minutes += time_saved(baseline, r.duration_s)
    if durations:
        s.duration_mean_s, s.duration_p95_s = sum(durations) / len(durations), p95(durations)
    if top_finished:
        s.auto_resolved_share = s.auto_resolved / top_finished
    waits = []
    for _, summary, waited in prompts:
        if summary.get("timed_out"):
            s.prompts_timed_out += 1
        elif summary.get("responder"):
            waits.append(waited)
    s.prompts_answered = len(waits)
    if waits:
        s.analyst_response_mean_s = sum(waits) / len(waits)
    s.time_saved_minutes = round(s.time_saved_minutes, 2)
    return s


@router.get("/api/v1/metrics/automation", response_model=AutomationMetrics)
async def automation_metrics(
    request: Request, user: Reader, client: ClientDep,
    since: Annotated[datetime | None, Query(description="ISO datetime (default: 30 days ago)")] = None,
    until: Annotated[datetime | None, Query(description="ISO datetime (exclusive)")] = None,
    playbook: Annotated[str | None, Query(description="Only this playbook")] = None,
) -> AutomationMetrics:
    """Runs, outcomes, durations, auto-resolution, analyst response, time saved: overall and per playbook."""
    if playbook is not None and not NAME_RE.match(playbook):
        raise HTTPException(400, f"invalid playbook name {playbook[:80]!r}; "
                                 f"known: {', '.join(sorted(PLAYBOOKS))}")
    since = utc(since) if since else datetime.now(UTC) - DEFAULT_WINDOW
    until = utc(until) if until else None
    if until is not None and until <= since:
        raise HTTPException(400, "'until' must be after 'since'")
    query = base_query(since=since, until=until, playbook=playbook)
    runs, truncated = await list_runs(request, client, query)
    prompts = prompts_of(runs)
    by_pb: dict[str, list[Run]] = {}
    for r in runs:
        by_pb.setdefault(r.playbook, []).append(r)
    return AutomationMetrics(
        since=since, until=until, playbook=playbook, truncated=truncated,
        overall=stats(runs, prompts.values()),
        playbooks={name: stats(rs, [p for p in prompts.values() if p[0] == name])
                   for name, rs in sorted(by_pb.items())},
    )


# ---- Splunk SOAR: /rest/playbook_run -------------------------------------------------------------------
ROW_FIELDS = ("id", "workflow_id", "run_id", "playbook", "version", "container", "status", "create_time",
              "start_time", "end_time", "update_time", "duration_s", "auto_resolved", "nested", "parent_run",
              "message")
OPERATORS = ("in", "gt", "gte", "lt", "lte", "icontains", "contains", "ne")


class FilterError(ValueError):
    """A filter or sort the caller sent cannot be applied (answered as Splunk's 400 envelope)."""


def stable_id(workflow_id: str) -> int:
    """A stable integer id (48 bits: exact in JSON numbers) derived from the workflow id."""
    return int.from_bytes(hashlib.sha256(workflow_id.encode("utf-8")).digest()[:6], "big")


def _message(r: Run) -> str:
    if r.status == RunStatus.RUNNING:
        return f"Playbook '{r.playbook}' is running"
    out = r.outcome
    if out is None:
        return f"Playbook '{r.playbook}' {r.status.value}"
    if out.error:
        return f"Playbook '{r.playbook}' failed: {out.error}"
    prompts = sum(a.kind == "prompt" for a in out.actions)
    failed = sum(a.status == "failed" for a in out.actions)
    return (f"Playbook '{r.playbook}' {r.status.value}: {len(out.actions) - prompts} action(s), "
            f"{failed} failed, {prompts} prompt(s)")


def row(r: Run) -> dict[str, Any]:
    """A run as a Splunk SOAR `playbook_run` row (epoch seconds in start_time/end_time)."""
    return {
        "id": stable_id(r.workflow_id), "workflow_id": r.workflow_id, "run_id": r.run_id,
        "playbook": r.playbook, "version": r.outcome.version if r.outcome else None,
        "container": r.container, "status": r.status.value, "create_time": r.started.isoformat(),
        "start_time": r.started.timestamp(), "end_time": r.ended.timestamp() if r.ended else None,
        "update_time": (r.ended or r.started).isoformat(), "duration_s": r.duration_s,
        "auto_resolved": bool(r.outcome and r.outcome.auto_resolved), "nested": r.nested,
        "parent_run": stable_id(r.parent_id) if r.nested and r.parent_id else None, "message": _message(r),
    }


def _literal(value: str) -> Any:
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return value  # Splunk wants Python literals; a bare word is taken as the string it obviously is


def parse_filters(filter_json: str | None, params: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """`filter={"status": "success"}` and `_filter_status="success"` -> `{"status": "success"}`.

    Raises:
        FilterError: bad JSON, not an object, or an unknown field/operator.
    """
    out: dict[str, Any] = {}
    if filter_json:
        try:
            parsed = json.loads(filter_json)
        except json.JSONDecodeError as e:
            raise FilterError(f"'filter' is not valid JSON ({e.msg} at position {e.pos})") from None
        if not isinstance(parsed, dict):
            raise FilterError("'filter' must be a JSON object, e.g. {\"status\": \"success\"}")
        out.update(parsed)
    for k, v in params:
        if k.startswith("_filter_") and len(k) > 8:
            out[k[8:]] = _literal(v)
    for key in out:
        field, _, op = key.partition("__")
        if field not in ROW_FIELDS:
            raise FilterError(f"unknown filter field '{field[:60]}'; filterable: {', '.join(ROW_FIELDS)}")
        if op and op not in OPERATORS:
            raise FilterError(f"unknown filter operator '__{op[:20]}'; one of: {', '.join(OPERATORS)}")
    return out


def _match(value: Any, op: str, want: Any) -> bool:
    try:
        if op == "":
            return bool(value == want)
        if op == "ne":
            return bool(value != want)
        if op == "in":
            return value in (want if isinstance(want, (list, tuple, set)) else [want])
        if op in ("contains", "icontains"):
            a, b = str(value or ""), str(want)
            return (b.lower() in a.lower()) if op == "icontains" else b in a
        if value is None:
            return False
        return {"gt": value > want, "gte": value >= want, "lt": value < want, "lte": value <= want}[op]
    except TypeError:
        raise FilterError(f"cannot compare {type(value).__name__} with {type(want).__name__} "
                          f"({want!r:.60})") from None


def apply_filters(rows: list[dict[str, Any]], filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows matching every filter."""
    out = rows
    for key, want in filters.items():
        field, _, op = key.partition("__")
        out = [r for r in out if _match(r.get(field), op, want)]
    return out


def push_down(filters: dict[str, Any]) -> dict[str, Any]:
    """Exact filters visibility can answer (the rest, and these again, are applied to the rows)."""
    kw: dict[str, Any] = {}
    pb, cid, st = filters.get("playbook"), filters.get("container"), filters.get("status")
    if isinstance(pb, str) and NAME_RE.match(pb):
        kw["playbook"] = pb
    if isinstance(cid, str) and CONTAINER_ID_RE.match(cid):
        kw["container"] = cid
    if isinstance(st, str):
        kw["running"] = st == RunStatus.RUNNING.value
    return kw


def _failed(status: int, message: str) -> JSONResponse:
    return JSONResponse({"failed": True, "message": message}, status_code=status)


@router.get("/rest/playbook_run", tags=["splunk-soar"])
async def playbook_runs(
    request: Request, user: Reader, client: ClientDep,
    page: Annotated[int, Query(ge=0)] = 0,
    page_size: Annotated[int, Query(ge=0, le=MAX_RUNS, description="0 = every matching run")] = 10,
    filter: Annotated[str | None, Query(description='JSON, e.g. {"status": "success"}')] = None,  # noqa: A002
    sort: str = "create_time",
    order: str = "desc",
) -> JSONResponse:
    """Splunk SOAR's playbook run list `{"count", "num_pages", "data"}`; also `_filter_<field>=<literal>`."""
    try:
        filters = parse_filters(filter, request.query_params.multi_items())
        if sort not in ROW_FIELDS:
            raise FilterError(f"cannot sort by '{sort[:60]}'; sortable: {', '.join(ROW_FIELDS)}")
        if order not in ("asc", "desc"):
            raise FilterError("'order' must be 'asc' or 'desc'")
    except FilterError as e:
        return _failed(400, str(e))
    try:
        runs, truncated = await list_runs(request, client, base_query(**push_down(filters)))
        rows = apply_filters([row(r) for r in runs], filters)
    except HTTPException as e:
        return _failed(e.status_code, str(e.detail))
    except FilterError as e:
        return _failed(400, str(e))
    present = sorted((r for r in rows if r[sort] is not None), key=lambda r: (r[sort], r["workflow_id"]),
                     reverse=order == "desc")
    rows = present + [r for r in rows if r[sort] is None]
    count = len(rows)
    if page_size == 0:
        data, pages = (rows, 1) if page == 0 else ([], 1)
    else:
        data, pages = rows[page * page_size: (page + 1) * page_size], math.ceil(count / page_size)
    return JSONResponse({"count": count, "num_pages": pages, "data": data, "truncated": truncated})


# ---- Prometheus ---------------------------------------------------------------------------------------
_GROUP_STATUS = {"Running": "running", "Completed": "success", "Failed": "failed", "TimedOut": "failed",
                 "Canceled": "cancelled", "Terminated": "cancelled"}


async def refresh_from_temporal(client: Client) -> None:
    """Set the playbook run totals and the pending prompts from visibility (counts only: cheap)."""
    counts: dict[tuple[str, str], int] = {}
    for name in PLAYBOOKS:
        q = base_query(playbook=name)
        res = await client.count_workflows(f"{q} GROUP BY ExecutionStatus")
        for g in res.groups:
            status = _GROUP_STATUS.get(str(g.group_values[0]) if g.group_values else "", "")
            if status:
                counts[(name, status)] = counts.get((name, status), 0) + g.count
        # a run that completed with a failed outcome marks itself SoarStatus='failed' (when playbooks do)
        moved = (await client.count_workflows(
            f"{q} AND ExecutionStatus = 'Completed' AND SoarStatus = 'failed'")).count
        if moved:
            counts[(name, "success")] = counts.get((name, "success"), 0) - moved
            counts[(name, "failed")] = counts.get((name, "failed"), 0) + moved
    pending = await client.count_workflows(f"{base_query(running=True)} AND SoarAwaitingPrompt = true")
    set_playbook_run_counts(counts)
    set_prompts_pending(pending.count)


@router.get("/metrics", tags=["metrics"], response_class=Response)
async def prometheus(request: Request, user: Reader, client: ClientDep) -> Response:
    """Prometheus text format (run totals and pending prompts are read from Temporal, at most every 10 s)."""
    state = request.app.state
    lock: asyncio.Lock | None = getattr(state, "prom_lock", None)
    if lock is None:
        lock = state.prom_lock = asyncio.Lock()
    async with lock:
        if time.monotonic() - getattr(state, "prom_refreshed", -math.inf) >= SCRAPE_MIN_INTERVAL_S:
            try:
                await asyncio.wait_for(refresh_from_temporal(client), timeout=5)
                state.prom_refreshed = time.monotonic()
            except (RPCError, TimeoutError):
                pass  # serve the last figures; Prometheus alerts on their staleness, not on a 500 here
    return metrics_response()
