"""The live report and the metrics pages of the console.

The report is `api.live.live_report`, the view behind `GET /api/v1/containers/{id}/report`; while a run goes on
console.js fetches its fragment every two seconds (without JavaScript, the page reloads itself every five).
The metrics are `core.metrics` over the runs `api.runs` reads, drawn as SVG by `api.console.charts`, and kept for
30 seconds (reading every run of the period from visibility is what costs; see bench/console.py).
"""

from __future__ import annotations

import asyncio
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from temporalio.client import Client

from api import container_ops as ops
from api.console import charts
from api.console.render import fragment, page
from api.console.session import ConsoleSession
from api.deps import ClientDep, OutcomesDep
from api.live import live_report
from api.report import Report, fmt_duration, render_text
from api.runs import BASELINES, OutcomeCache, asked_by, list_runs
from core.metrics import by_playbook, daily, durations_by_playbook, prompts_of, response_times, stats
from core.models import RunStatus
from core.visibility import playbook_runs
from workflows.registry import PLAYBOOKS

router = APIRouter()
RESPONSE_EDGES = [60.0, 120.0, 300.0, 600.0, 900.0]
FIGURES_TTL_S = 30.0
COMPUTE_WAIT_S = 0.15  # longer than this, the page says the figures are being read and reloads itself
WINDOWS = (1, 7, 30, 90)


def _running(rep: Report) -> bool:
    return any(r.status == RunStatus.RUNNING for r in rep.runs)


@router.get("/containers/{container_id}/report")
async def report(container_id: str, request: Request, session: ConsoleSession, client: ClientDep) -> Response:
    view = await ops.view_of(client, container_id)
    rep = await live_report(client, view)
    return page(request, "report.html", session, rep=rep, text=render_text(rep), running=_running(rep),
                container_id=container_id, name=view.state.container.name)


@router.get("/containers/{container_id}/report/live")
async def report_live(container_id: str, session: ConsoleSession, client: ClientDep) -> Response:
    rep = await live_report(client, await ops.view_of(client, container_id))
    return fragment("_report.html", session, rep=rep, text=render_text(rep), running=_running(rep),
                    container_id=container_id)


class FiguresCache:
    """The metrics page's figures for a short while (per period, playbook and time zone): reading every run
    from visibility costs far more than drawing it, and a dashboard read by a whole SOC changes slowly."""

    def __init__(self, ttl_s: float = FIGURES_TTL_S, max_entries: int = 64) -> None:
        self.ttl_s, self.max_entries = ttl_s, max_entries
        self._rows: dict[tuple[int, str, str], tuple[float, dict[str, Any]]] = {}
        self._tasks: dict[tuple[int, str, str], asyncio.Future[dict[str, Any]]] = {}

    def get(self, key: tuple[int, str, str]) -> dict[str, Any] | None:
        """Fresh figures for `key`, if any."""
        hit = self._rows.get(key)
        return hit[1] if hit and time.monotonic() - hit[0] < self.ttl_s else None

    def put(self, key: tuple[int, str, str], figures: dict[str, Any]) -> None:
        """Keep `figures` for `key`."""
        if len(self._rows) >= self.max_entries:
            self._rows.clear()
        self._rows[key] = (time.monotonic(), figures)

    async def compute(self, key: tuple[int, str, str], make: Callable[[], Awaitable[dict[str, Any]]],
                      wait_s: float) -> dict[str, Any] | None:
        """The figures of `key`, computed once however many ask; None when they take longer than `wait_s`
        (the computation goes on, and a later request finds them)."""
        task = self._tasks.get(key)
        if task is None:
            task = self._tasks[key] = asyncio.ensure_future(make())

            def done(t: asyncio.Future[dict[str, Any]]) -> None:
                self._tasks.pop(key, None)
                if not t.cancelled() and t.exception() is None:
                    self.put(key, t.result())
            task.add_done_callback(done)
        try:
            return await asyncio.wait_for(asyncio.shield(task), timeout=wait_s)
        except TimeoutError:
            return None


def _cache(request: Request) -> FiguresCache:
    cache: FiguresCache | None = getattr(request.app.state, "console_figures", None)
    if cache is None:
        cache = request.app.state.console_figures = FiguresCache()
    return cache


async def _figures(client: Client, outcomes: OutcomeCache, window: int, playbook: str | None,
                   tz: zoneinfo.ZoneInfo) -> dict[str, Any]:
    now = datetime.now(UTC)
    last = now.astimezone(tz).date()
    first = last - timedelta(days=window - 1)
    since = datetime.combine(first, datetime.min.time(), tz).astimezone(UTC)
    runs, truncated = await list_runs(client, playbook_runs(since=since, playbook=playbook), outcomes)
    prompts = prompts_of(runs, asked_by)
    rows = daily(runs, prompts.values(), tz, first, last, BASELINES)
    labels = [d.day.strftime("%b %d") for d in rows]
    other = [float(d.finished - d.auto_resolved) for d in rows]
    unfinished = [float(d.runs - d.finished) for d in rows]
    saved_h = list(accumulate(d.time_saved_minutes / 60 for d in rows))
    charts_ = {
        "runs": charts.bars("Runs per day and the share auto-resolved", labels,
                            [("auto-resolved", [float(d.auto_resolved) for d in rows]),
                             ("other finished", other), ("running or nested", unfinished)],
                            share=("share auto-resolved", [d.auto_resolved_share for d in rows])),
        "durations": charts.boxes("Run duration per playbook", durations_by_playbook(runs)),
        "responses": charts.histogram("Analyst response time", response_times(prompts.values()), RESPONSE_EDGES,
                                      "answered prompts"),
        "timeouts": charts.bars("Prompts answered and timed out per day", labels,
                                [("answered", [float(d.prompts_answered) for d in rows]),
                                 ("timed out", [float(d.prompts_timed_out) for d in rows])]),
        "saved": charts.line("Analyst time saved (cumulative hours)", labels, saved_h, "hours saved",
                             fmt=lambda v: f"{v:.2g}h"),
    }
    return {"overall": stats(runs, prompts.values(), BASELINES), "per": by_playbook(runs, prompts, BASELINES),
            "rows": rows, "figures": charts_, "truncated": truncated, "as_of": now}


@router.get("/metrics")
async def metrics(request: Request, session: ConsoleSession, client: ClientDep, outcomes: OutcomesDep,
                  days: str = "30", playbook: str = "") -> Response:
    window = int(days) if days.isdigit() and int(days) in WINDOWS else 30
    chosen = playbook if playbook in PLAYBOOKS else None
    key = (window, chosen or "", session.tz.key)
    figures = _cache(request).get(key) or await _cache(request).compute(
        key, lambda: _figures(client, outcomes, window, chosen, session.tz), COMPUTE_WAIT_S)
    if figures is None:  # the first read of a period's runs after start-up: say so rather than hang
        return page(request, "metrics_wait.html", session, window=window, playbook=chosen or "")
    return page(request, "metrics.html", session, window=window, windows=WINDOWS, playbook=chosen or "",
                playbooks=sorted(PLAYBOOKS), fmt_duration=fmt_duration, ttl_s=FIGURES_TTL_S, **figures)
