"""Playbook runs read from Temporal: visibility lists them (`core.visibility.playbook_runs`), a closed run's
result (its `PlaybookOutcome`) gives status, measured duration, records and prompts. Closed results never
change, so they are cached per run id (`OutcomeCache`, one per app).

Also the Prometheus refresh: run totals and pending prompts are counted from visibility at scrape time
(`refresh_prometheus`), never incremented in workflow code.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from datetime import timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus
from temporalio.service import RPCError

from api.errors import rpc_error
from core.metrics import Run
from core.models import PlaybookOutcome, RunStatus
from core.prometheus import set_playbook_run_counts, set_prompts_pending
from core.temporal import SA_CONTAINER_ID, SA_PLAYBOOK, SA_STATUS
from core.visibility import EXECUTION_STATUS, Filter, pending_prompts, playbook_runs
from workflows.ids import PLAYBOOK_PREFIX, PROMPT_ID_RE
from workflows.registry import PLAYBOOKS

MAX_RUNS = 2000
FETCH_CONCURRENCY = 16
CACHE_MAX = 20_000
RESULT_TIMEOUT = timedelta(seconds=10)
PLAYBOOK_NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
BASELINES = {name: p.baseline_minutes for name, p in PLAYBOOKS.items()}
_WS = WorkflowExecutionStatus
_STATUS = {_WS.RUNNING: RunStatus.RUNNING, _WS.COMPLETED: RunStatus.SUCCESS, _WS.FAILED: RunStatus.FAILED,
           _WS.TIMED_OUT: RunStatus.FAILED, _WS.CANCELED: RunStatus.CANCELLED,
           _WS.TERMINATED: RunStatus.CANCELLED}


def asked_by(prompt_id: str) -> str | None:
    """The playbook that asked a prompt (prompt ids name it), or None for an id of another form."""
    m = PROMPT_ID_RE.match(prompt_id)
    return m.group(2) if m else None


class OutcomeCache:
    """Results of closed playbook runs by run id, trimmed to what the figures and rows use (bounded, oldest
    entries dropped first)."""

    def __init__(self, max_entries: int = CACHE_MAX) -> None:
        self.max_entries = max_entries
        self._outcomes: dict[str, PlaybookOutcome] = {}

    def get(self, run_id: str) -> PlaybookOutcome | None:
        """The cached outcome of a run, if any."""
        return self._outcomes.get(run_id)

    def put(self, run_id: str, out: PlaybookOutcome) -> PlaybookOutcome:
        """Cache a run's outcome (prompt records whole, other records without their data); returns it."""
        out = out.model_copy(update={"final": None, "actions": [
            a if a.kind == "prompt" else a.model_copy(update={"summary": {}, "message": "", "target": ""})
            for a in out.actions]})
        while len(self._outcomes) >= self.max_entries:
            self._outcomes.pop(next(iter(self._outcomes)))
        self._outcomes[run_id] = out
        return out

    def __len__(self) -> int:
        return len(self._outcomes)


async def _outcome(client: Client, w: WorkflowExecution, cache: OutcomeCache,
                   sem: asyncio.Semaphore) -> PlaybookOutcome | None:
    if (hit := cache.get(w.run_id)) is not None:
        return hit
    async with sem:
        try:
            h = client.get_workflow_handle(w.id, run_id=w.run_id, result_type=PlaybookOutcome)
            out = await h.result(follow_runs=False, rpc_timeout=RESULT_TIMEOUT)
        except Exception:  # an unreadable result: the visibility facts still count
            return None
    return cache.put(w.run_id, out)


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


async def list_runs(client: Client, query: Filter, cache: OutcomeCache,
                    limit: int = MAX_RUNS) -> tuple[list[Run], bool]:
    """Runs matching `query` (newest first) with their outcomes, and whether the cap truncated them.

    Raises:
        HTTPException: 503 when Temporal cannot answer.
    """
    found: list[WorkflowExecution] = []
    try:
        async for w in client.list_workflows(str(query), limit=limit + 1, page_size=min(1000, limit + 1)):
            if w.status in _STATUS:  # continued-as-new runs are superseded by their successor
                found.append(w)
    except RPCError as e:
        raise rpc_error(e, "playbook runs") from None
    truncated = len(found) > limit
    found = found[:limit]
    sem = asyncio.Semaphore(FETCH_CONCURRENCY)
    done = [w for w in found if w.status == _WS.COMPLETED]
    outcomes = dict(zip((w.run_id for w in done),
                        await asyncio.gather(*(_outcome(client, w, cache, sem) for w in done)), strict=True))
    runs = [_run(w, outcomes.get(w.run_id)) for w in found]
    runs.sort(key=lambda r: (r.started, r.workflow_id), reverse=True)
    return runs, truncated


# ---- Prometheus ---------------------------------------------------------------------------------------
SCRAPE_MIN_INTERVAL_S = 10.0
REFRESH_TIMEOUT_S = 5.0
_GROUP_STATUS = {"Running": "running", "Completed": "success", "Failed": "failed", "TimedOut": "failed",
                 "Canceled": "cancelled", "Terminated": "cancelled"}


async def refresh_from_temporal(client: Client) -> None:
    """Set the playbook run totals and the pending prompts from visibility (counts only: cheap)."""
    counts: dict[tuple[str, str], int] = {}
    for name in PLAYBOOKS:
        q = playbook_runs(playbook=name)
        res = await client.count_workflows(q.group_by(EXECUTION_STATUS))
        for g in res.groups:
            status = _GROUP_STATUS.get(str(g.group_values[0]) if g.group_values else "", "")
            if status:
                counts[(name, status)] = counts.get((name, status), 0) + g.count
        # a run that completed with a failed outcome marks itself SoarStatus='failed' (when playbooks do)
        moved = (await client.count_workflows(
            str(q.where(EXECUTION_STATUS, "Completed").where(SA_STATUS, RunStatus.FAILED)))).count
        if moved:
            counts[(name, "success")] = counts.get((name, "success"), 0) - moved
            counts[(name, "failed")] = counts.get((name, "failed"), 0) + moved
    pending = await client.count_workflows(str(pending_prompts()))
    set_playbook_run_counts(counts)
    set_prompts_pending(pending.count)


class PrometheusRefresh:
    """Refreshes the Temporal-derived series at most every `SCRAPE_MIN_INTERVAL_S` (one per app), so
    several Prometheus servers scraping one API cost one set of visibility counts."""

    def __init__(self, min_interval_s: float = SCRAPE_MIN_INTERVAL_S) -> None:
        self.min_interval_s = min_interval_s
        self._lock: asyncio.Lock | None = None  # made on first use, in the loop that serves the app
        self._refreshed = -math.inf

    async def __call__(self, client: Client) -> None:
        """Refresh when the last refresh is older than the interval; a Temporal failure keeps the last
        figures (Prometheus alerts on their staleness, not on a 500 from the scrape)."""
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._refreshed < self.min_interval_s:
                return
            try:
                await asyncio.wait_for(refresh_from_temporal(client), timeout=REFRESH_TIMEOUT_S)
                self._refreshed = time.monotonic()
            except (RPCError, TimeoutError):
                pass

