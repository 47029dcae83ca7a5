"""Automation statistics of playbook runs: pure functions over `Run` records (no I/O, no clock, no
Temporal, no FastAPI). The API reads the runs from Temporal (`api/runs.py`); the execution report
(`api/report.py`) shares the duration and time-saved arithmetic.

The counting rules:

- Nested runs (`playbook/<name>/<container>/from-<parent>`, started by another playbook) are counted in the
  run totals, statuses and durations of their own playbook, but never add analyst time saved: their
  parent's baseline already covers the whole manual triage, and their records are part of the parent's
  report.
- Prompts are counted once, by prompt id, under the playbook that asked (a parent's outcome repeats the
  prompt records of its nested runs).
- Analyst time saved is counted for successful runs only (a failed or cancelled run leaves the triage to an
  analyst), and the auto-resolved share is over finished top-level runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from core.models import PlaybookOutcome, RunStatus


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
        """Measured duration (the run's own clock when its result is known); None while running."""
        return duration_s(self.started, self.ended)


class AskedPrompt(NamedTuple):
    """One analyst prompt, counted once: the playbook that asked, its record's summary, the wait, when asked."""

    playbook: str
    summary: dict[str, Any]
    waited_s: float
    asked: datetime | None = None


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


# ---- arithmetic shared with the execution report ------------------------------------------------------
def duration_s(started: datetime, ended: datetime | None) -> float | None:
    """`ended - started` in seconds (never negative); None while the run has not ended."""
    return None if ended is None else max(0.0, (ended - started).total_seconds())


def time_saved(baseline_minutes: float, duration_s: float) -> float:
    """max(0, baseline - duration) in minutes."""
    return max(0.0, baseline_minutes - duration_s / 60.0)


def saved_minutes(status: RunStatus, baseline_minutes: float | None, duration_s: float) -> float:
    """Analyst minutes a finished run saved: `time_saved` for a successful run with a baseline, else 0."""
    if status != RunStatus.SUCCESS or baseline_minutes is None:
        return 0.0
    return time_saved(baseline_minutes, duration_s)


# ---- statistics ---------------------------------------------------------------------------------------
def p95(values: list[float]) -> float | None:
    """95th percentile (nearest rank); None for no values."""
    if not values:
        return None
    s = sorted(values)
    return s[max(0, math.ceil(0.95 * len(s)) - 1)]


def mean(values: list[float]) -> float | None:
    """Arithmetic mean; None for no values."""
    return sum(values) / len(values) if values else None


def prompts_of(runs: Iterable[Run], asked_by: Callable[[str], str | None] = lambda _: None,
               ) -> dict[str, AskedPrompt]:
    """Unique prompt records of `runs`: prompt id -> the prompt (the first record seen wins).

    `asked_by(prompt_id)` names the playbook that asked (prompt ids name it); when it gives None the
    prompt is counted under the run whose record it is.
    """
    out: dict[str, AskedPrompt] = {}
    for r in runs:
        for rec in r.outcome.actions if r.outcome else []:
            if rec.kind != "prompt":
                continue
            pid = str(rec.summary.get("prompt_id") or f"{r.workflow_id}#{rec.index}")
            out.setdefault(pid, AskedPrompt(asked_by(pid) or r.playbook, rec.summary, rec.duration_s, rec.started))
    return out


def _count_runs(s: Stats, runs: list[Run], baselines: Mapping[str, float]) -> None:
    durations: list[float] = []
    top_finished = 0
    for r in runs:
        s.succeeded += r.status == RunStatus.SUCCESS
        s.failed += r.status == RunStatus.FAILED
        s.cancelled += r.status == RunStatus.CANCELLED
        s.running += r.status == RunStatus.RUNNING
        s.nested_runs += r.nested
        took = r.duration_s
        if r.status == RunStatus.RUNNING or took is None:
            continue
        durations.append(took)
        if r.nested:
            continue
        top_finished += 1
        s.auto_resolved += bool(r.outcome and r.outcome.auto_resolved)
        baseline = r.outcome.baseline_minutes if r.outcome else baselines.get(r.playbook, 0.0)
        s.time_saved_minutes += saved_minutes(r.status, baseline, took)
    s.duration_mean_s, s.duration_p95_s = mean(durations), p95(durations)
    if top_finished:
        s.auto_resolved_share = s.auto_resolved / top_finished
    s.time_saved_minutes = round(s.time_saved_minutes, 2)


def _count_prompts(s: Stats, prompts: Iterable[AskedPrompt]) -> None:
    waits = []
    for p in prompts:
        if p.summary.get("timed_out"):
            s.prompts_timed_out += 1
        elif p.summary.get("responder"):
            waits.append(p.waited_s)
    s.prompts_answered = len(waits)
    s.analyst_response_mean_s = mean(waits)


def stats(runs: list[Run], prompts: Iterable[AskedPrompt], baselines: Mapping[str, float] | None = None) -> Stats:
    """Figures of `runs` and of the (already deduplicated) `prompts`.

    `baselines` (playbook -> manual-triage minutes) stands in for a run whose result could not be read.
    """
    s = Stats(runs_total=len(runs))
    _count_runs(s, runs, baselines or {})
    _count_prompts(s, prompts)
    return s


def by_playbook(runs: list[Run], prompts: Mapping[str, AskedPrompt],
                baselines: Mapping[str, float] | None = None) -> dict[str, Stats]:
    """`stats` per playbook (sorted by name); each playbook counts the prompts it asked."""
    groups: dict[str, list[Run]] = {}
    for r in runs:
        groups.setdefault(r.playbook, []).append(r)
    return {name: stats(rs, [p for p in prompts.values() if p.playbook == name], baselines)
            for name, rs in sorted(groups.items())}


# ---- per day and distributions (the console's charts) -------------------------------------------------
class Day(BaseModel):
    """The figures of one calendar day (in the reader's time zone): runs started that day, prompts asked."""

    day: date
    runs: int = 0
    finished: int = Field(default=0, description="Finished top-level runs")
    auto_resolved: int = 0
    prompts_answered: int = 0
    prompts_timed_out: int = 0
    time_saved_minutes: float = 0.0

    @property
    def auto_resolved_share(self) -> float | None:
        """Auto-resolved over finished top-level runs (None on a day without any)."""
        return self.auto_resolved / self.finished if self.finished else None


def daily(runs: Iterable[Run], prompts: Iterable[AskedPrompt], tz: tzinfo, first: date, last: date,
          baselines: Mapping[str, float] | None = None) -> list[Day]:
    """One `Day` per calendar day from `first` to `last` (inclusive), by the run's start in `tz`, with the same
    counting rules as `stats` (nested runs save no time; prompts once each, on the day they were asked)."""
    days = {first + timedelta(days=i): Day(day=first + timedelta(days=i)) for i in range((last - first).days + 1)}
    for r in runs:
        d = days.get(r.started.astimezone(tz).date())
        if d is None:
            continue
        d.runs += 1
        took = r.duration_s
        if r.nested or r.status == RunStatus.RUNNING or took is None:
            continue
        d.finished += 1
        d.auto_resolved += bool(r.outcome and r.outcome.auto_resolved)
        baseline = r.outcome.baseline_minutes if r.outcome else (baselines or {}).get(r.playbook, 0.0)
        d.time_saved_minutes += saved_minutes(r.status, baseline, took)
    for p in prompts:
        d = days.get(p.asked.astimezone(tz).date()) if p.asked else None
        if d is not None:
            d.prompts_timed_out += bool(p.summary.get("timed_out"))
            d.prompts_answered += bool(p.summary.get("responder")) and not p.summary.get("timed_out")
    return list(days.values())


def durations_by_playbook(runs: Iterable[Run]) -> dict[str, list[float]]:
    """Finished runs' durations per playbook (sorted by name; values sorted)."""
    out: dict[str, list[float]] = {}
    for r in runs:
        took = r.duration_s
        if r.status != RunStatus.RUNNING and took is not None:
            out.setdefault(r.playbook, []).append(took)
    return {k: sorted(v) for k, v in sorted(out.items())}


def response_times(prompts: Iterable[AskedPrompt]) -> list[float]:
    """How long answered prompts waited for their answer (seconds, sorted)."""
    return sorted(p.waited_s for p in prompts if p.summary.get("responder") and not p.summary.get("timed_out"))


def quantile(values: list[float], q: float) -> float:
    """The `q` quantile of sorted `values` (linear interpolation); 0 for none."""
    if not values:
        return 0.0
    pos = (len(values) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)
