"""The live report and the metrics pages of the console.

The report is `api.live.live_report`, the view behind `GET /api/v1/containers/{id}/report`; while a run goes on
console.js fetches its fragment every two seconds (without JavaScript, the page reloads itself every five).
The metrics are `core.metrics` over the runs `api.runs` reads, drawn as SVG by `api.console.charts`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import accumulate

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api import container_ops as ops
from api.console import charts
from api.console.render import fragment, page
from api.console.session import ConsoleSession
from api.deps import ClientDep, OutcomesDep
from api.live import live_report
from api.report import Report, fmt_duration, render_text
from api.runs import BASELINES, asked_by, list_runs
from core.metrics import by_playbook, daily, durations_by_playbook, prompts_of, response_times, stats
from core.models import RunStatus
from core.visibility import playbook_runs
from workflows.registry import PLAYBOOKS

router = APIRouter()
RESPONSE_EDGES = [60.0, 120.0, 300.0, 600.0, 900.0]
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


@router.get("/metrics")
async def metrics(request: Request, session: ConsoleSession, client: ClientDep, outcomes: OutcomesDep,
                  days: str = "30", playbook: str = "") -> Response:
    window = int(days) if days.isdigit() and int(days) in WINDOWS else 30
    chosen = playbook if playbook in PLAYBOOKS else None
    now = datetime.now(UTC)
    last = now.astimezone(session.tz).date()
    first = last - timedelta(days=window - 1)
    since = datetime.combine(first, datetime.min.time(), session.tz).astimezone(UTC)
    runs, truncated = await list_runs(client, playbook_runs(since=since, playbook=chosen), outcomes)
    prompts = prompts_of(runs, asked_by)
    overall = stats(runs, prompts.values(), BASELINES)
    per = by_playbook(runs, prompts, BASELINES)
    rows = daily(runs, prompts.values(), session.tz, first, last, BASELINES)
    labels = [d.day.strftime("%b %d") for d in rows]
    other = [float(d.finished - d.auto_resolved) for d in rows]
    unfinished = [float(d.runs - d.finished) for d in rows]
    saved_h = list(accumulate(d.time_saved_minutes / 60 for d in rows))
    figures = {
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
    return page(request, "metrics.html", session, overall=overall, per=per, rows=rows, figures=figures,
                window=window, windows=WINDOWS, playbook=chosen or "", playbooks=sorted(PLAYBOOKS),
                truncated=truncated, fmt_duration=fmt_duration)
