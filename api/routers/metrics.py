"""Automation metrics (`/api/v1/metrics/automation`) and the Prometheus endpoint (`/metrics`).

The runs come from Temporal (`api/runs.py`), the figures from `core/metrics.py`, whose docstring states
the counting rules (nested runs, prompts, time saved).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import Reader
from api.deps import ClientDep, OutcomesDep, PrometheusRefreshDep
from api.runs import BASELINES, MAX_RUNS, PLAYBOOK_NAME_RE, asked_by, list_runs
from core.metrics import Stats, by_playbook, prompts_of, stats
from core.prometheus import CONTENT_TYPE, metrics_text
from core.visibility import playbook_runs, utc
from workflows.registry import PLAYBOOKS

router = APIRouter(tags=["metrics"])

DEFAULT_WINDOW = timedelta(days=30)


class AutomationMetrics(BaseModel):
    """`GET /api/v1/metrics/automation`."""

    since: datetime
    until: datetime | None
    playbook: str | None
    truncated: bool = Field(description=f"More than {MAX_RUNS} runs matched; figures cover the newest")
    max_runs: int = MAX_RUNS
    overall: Stats
    playbooks: dict[str, Stats]


@router.get("/api/v1/metrics/automation", response_model=AutomationMetrics)
async def automation_metrics(
    user: Reader, client: ClientDep, outcomes: OutcomesDep,
    since: Annotated[datetime | None, Query(description="ISO datetime (default: 30 days ago)")] = None,
    until: Annotated[datetime | None, Query(description="ISO datetime (exclusive)")] = None,
    playbook: Annotated[str | None, Query(description="Only this playbook")] = None,
) -> AutomationMetrics:
    """Runs, outcomes, durations, auto-resolution, analyst response, time saved: overall and per playbook."""
    if playbook is not None and not PLAYBOOK_NAME_RE.match(playbook):
        raise HTTPException(400, f"invalid playbook name {playbook[:80]!r}; "
                                 f"known: {', '.join(sorted(PLAYBOOKS))}")
    since = utc(since) if since else datetime.now(UTC) - DEFAULT_WINDOW
    until = utc(until) if until else None
    if until is not None and until <= since:
        raise HTTPException(400, "'until' must be after 'since'")
    query = playbook_runs(since=since, until=until, playbook=playbook)
    runs, truncated = await list_runs(client, query, outcomes)
    prompts = prompts_of(runs, asked_by)
    return AutomationMetrics(
        since=since, until=until, playbook=playbook, truncated=truncated,
        overall=stats(runs, prompts.values(), BASELINES), playbooks=by_playbook(runs, prompts, BASELINES),
    )


@router.get("/metrics", tags=["metrics"], response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "Prometheus text exposition format"}})
async def prometheus(user: Reader, client: ClientDep, refresh: PrometheusRefreshDep) -> Response:
    """Prometheus text format (run totals and pending prompts are read from Temporal, at most every 10 s)."""
    await refresh(client)
    return Response(metrics_text(), media_type=CONTENT_TYPE)
