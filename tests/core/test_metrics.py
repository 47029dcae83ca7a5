"""Automation statistics on hand-built runs (pure unit tests, exact figures)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.metrics import (
    AskedPrompt,
    Run,
    Stats,
    by_playbook,
    duration_s,
    mean,
    p95,
    prompts_of,
    saved_minutes,
    stats,
    time_saved,
)
from core.models import ActionRecord, PlaybookOutcome, RunStatus

T0 = datetime(2024, 8, 21, 9, 30, tzinfo=UTC)
CID = "SOAR-AAAAAAAAAAAA"
PT, CD = "phishing_triage_automation", "containment_decision"


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def prompt(pid: str, waited: float, *, responder: str | None = "bob", timed_out: bool = False,
           index: int = 1) -> ActionRecord:
    return ActionRecord(index=index, action="prompt", connector="soar", title="Prompt Analyst (soc_tier2)",
                        asset="", started=T0, duration_s=waited, status="skipped" if timed_out else "success",
                        message="", kind="prompt",
                        summary={"prompt_id": pid, "responder": None if timed_out else responder,
                                 "timed_out": timed_out, "option": "Isolate Host"})


def action(index: int = 1) -> ActionRecord:
    return ActionRecord(index=index, action="url reputation", connector="virustotal", title="VirusTotal",
                        asset="vt", started=T0, duration_s=2.0, status="success", message="clean")


def run(playbook: str, took: float | None, *, status: RunStatus = RunStatus.SUCCESS, nested: bool = False,
        baseline: float | None = 35.0, auto: bool = False, records: list[ActionRecord] | None = None,
        wid: str | None = None) -> Run:
    """A run; `baseline=None` means its result could not be read (no outcome)."""
    wid = wid or f"playbook/{playbook}/{CID}" + ("/from-phishing-triage-automation" if nested else "")
    ended = None if took is None else at(took)
    out = None
    if baseline is not None and ended is not None:
        out = PlaybookOutcome(playbook=playbook, title=playbook, version="1", baseline_minutes=baseline,
                              status=status, started=T0, ended=ended, auto_resolved=auto,
                              actions=records or [])
    return Run(workflow_id=wid, run_id=f"r-{wid}", playbook=playbook, container=CID, status=status,
               started=T0, ended=ended, nested=nested, outcome=out)


def asker(pid: str) -> str | None:
    return pid.split(".")[1] if pid.count(".") == 2 else None


# ---- arithmetic ---------------------------------------------------------------------------------------
def test_duration_and_time_saved():
    assert duration_s(T0, None) is None
    assert duration_s(T0, at(90)) == 90.0
    assert duration_s(at(5), T0) == 0.0  # clocks never make a run negative
    assert time_saved(35, 262) == pytest.approx(35 - 262 / 60)
    assert time_saved(1, 600) == 0.0
    assert saved_minutes(RunStatus.SUCCESS, 10, 120) == 8.0
    assert saved_minutes(RunStatus.FAILED, 10, 120) == 0.0
    assert saved_minutes(RunStatus.CANCELLED, 10, 120) == 0.0
    assert saved_minutes(RunStatus.SUCCESS, None, 120) == 0.0


def test_p95_nearest_rank_and_mean():
    assert p95([]) is None and mean([]) is None
    assert p95([7.0]) == 7.0
    assert p95([float(x) for x in range(1, 21)]) == 19.0  # ceil(0.95 * 20) = 19th value
    assert p95([float(x) for x in range(100, 0, -1)]) == 95.0
    assert p95([1.0, 2.0]) == 2.0
    assert mean([1.0, 2.0, 6.0]) == 3.0


# ---- prompts ------------------------------------------------------------------------------------------
def test_prompts_counted_once_under_the_playbook_that_asked():
    pid = f"{CID}.{CD}.1"
    nested = run(CD, 60, nested=True, records=[prompt(pid, 30)])
    parent = run(PT, 120, records=[action(), prompt(pid, 31)])  # the parent's outcome repeats it
    got = prompts_of([nested, parent], asker)
    assert got == {pid: AskedPrompt(CD, nested.outcome.actions[0].summary, 30, T0)}
    # without a parser, a prompt counts under the run whose record is seen first
    assert prompts_of([parent, nested])[pid].playbook == PT
    # a record without a prompt id is keyed by its run and index
    anon = run(PT, 10, records=[prompt("", 5, index=4)])
    assert list(prompts_of([anon])) == [f"{anon.workflow_id}#4"]


def test_prompt_figures():
    prompts = [AskedPrompt(CD, {"responder": "bob"}, 30.0), AskedPrompt(CD, {"responder": "eve"}, 90.0),
               AskedPrompt(CD, {"timed_out": True, "responder": None}, 900.0),
               AskedPrompt(CD, {"responder": None}, 5.0)]  # neither answered nor timed out (still open)
    s = stats([], prompts)
    assert (s.prompts_answered, s.prompts_timed_out, s.analyst_response_mean_s) == (2, 1, 60.0)


# ---- runs ---------------------------------------------------------------------------------------------
def test_no_runs():
    assert stats([], []) == Stats()


def test_a_mixed_set_of_runs():
    runs = [
        run(PT, 120, auto=True),                                   # saves 35 - 2 = 33 min
        run(PT, 300),                                              # saves 35 - 5 = 30 min
        run(PT, 600, status=RunStatus.FAILED),                     # no time saved
        run(PT, 60, status=RunStatus.CANCELLED),                   # no time saved
        run(PT, None, status=RunStatus.RUNNING),                   # no duration yet
        run(CD, 30, nested=True, baseline=20.0),                   # nested: duration only
    ]
    s = stats(runs, [])
    assert s.model_dump() == {
        "runs_total": 6, "succeeded": 3, "failed": 1, "cancelled": 1, "running": 1, "nested_runs": 1,
        "duration_mean_s": (120 + 300 + 600 + 60 + 30) / 5, "duration_p95_s": 600.0,
        "auto_resolved": 1, "auto_resolved_share": 0.25,  # of 4 finished top-level runs
        "prompts_answered": 0, "analyst_response_mean_s": None, "prompts_timed_out": 0,
        "time_saved_minutes": 63.0,
    }


def test_time_saved_is_rounded_and_never_negative():
    s = stats([run(PT, 100), run(PT, 3000, baseline=10.0)], [])
    assert s.time_saved_minutes == round(35 - 100 / 60, 2) == 33.33


def test_unreadable_results_fall_back_to_the_registered_baseline():
    closed = run(PT, 240, baseline=None)  # visibility says it completed; its result could not be read
    assert stats([closed], []).time_saved_minutes == 0.0  # no baseline known: nothing claimed
    assert stats([closed], [], {PT: 14.0}).time_saved_minutes == 10.0
    assert stats([closed], [], {PT: 14.0}).auto_resolved == 0


def test_per_playbook_figures():
    pid = f"{CID}.{CD}.1"
    runs = [run(PT, 120, records=[prompt(pid, 40)]), run(CD, 60, nested=True, records=[prompt(pid, 40)]),
            run("universal_alert_enrichment", 30, baseline=15.0)]
    prompts = prompts_of(runs, asker)
    got = by_playbook(runs, prompts)
    assert list(got) == [CD, PT, "universal_alert_enrichment"]  # sorted by name
    assert (got[CD].runs_total, got[CD].nested_runs, got[CD].time_saved_minutes, got[CD].prompts_answered) == (
        1, 1, 0.0, 1)
    assert (got[PT].time_saved_minutes, got[PT].prompts_answered, got[PT].auto_resolved_share) == (33.0, 0, 0.0)
    assert got["universal_alert_enrichment"].time_saved_minutes == 14.5
    overall = stats(runs, prompts.values())
    assert (overall.runs_total, overall.prompts_answered, overall.time_saved_minutes) == (3, 1, 47.5)
    assert overall.duration_mean_s == 70.0


# ---- per day and distributions (the console's charts) -------------------------------------------------
def test_daily_counts_by_the_readers_calendar_day():
    from zoneinfo import ZoneInfo

    from core.metrics import daily, durations_by_playbook, quantile, response_times

    late_start = datetime(2024, 8, 21, 22, 30, tzinfo=UTC)
    late = run(CD, 60, auto=True).model_copy(update={"started": late_start, "ended": late_start + timedelta(minutes=1)})
    runs = [run(PT, 120), run(PT, 300, nested=True), late, run(CD, None, status=RunStatus.RUNNING)]
    prompts = [AskedPrompt(CD, {"responder": "bob"}, 30.0, T0),
               AskedPrompt(CD, {"timed_out": True, "responder": None}, 900.0, T0),
               AskedPrompt(CD, {"responder": "eve"}, 90.0, datetime(2024, 8, 21, 23, 0, tzinfo=UTC))]
    berlin = ZoneInfo("Europe/Berlin")  # 22:30 and 23:00 UTC are the next day in Berlin
    days = daily(runs, prompts, berlin, T0.date(), T0.date() + timedelta(days=1))
    d21, d22 = days
    assert (d21.runs, d21.finished, d21.auto_resolved, d21.prompts_answered, d21.prompts_timed_out) == (3, 1, 0, 1, 1)
    assert d21.time_saved_minutes == pytest.approx(35 - 2)  # the nested run saves nothing
    assert (d22.runs, d22.finished, d22.auto_resolved, d22.prompts_answered, d22.auto_resolved_share) == (1, 1, 1, 1, 1.0)
    assert [d.day for d in daily(runs, prompts, UTC, T0.date(), T0.date())] == [T0.date()]
    assert durations_by_playbook(runs) == {CD: [60.0], PT: [120.0, 300.0]}
    assert response_times(prompts) == [30.0, 90.0]
    assert (quantile([], 0.5), quantile([1.0, 3.0], 0.5), quantile([1.0, 2.0, 10.0], 1.0)) == (0.0, 2.0, 10.0)
