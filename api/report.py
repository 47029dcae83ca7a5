"""The execution report of a container: one block per playbook run, every action and prompt numbered,
the measured duration against the playbook's manual-triage baseline, and the disposition.

Pure functions (no I/O, no clock): `build_report(view)` gives the JSON form, `render_text(report)` the
text an analyst reads. While a run goes on, `build_report(view, live, now)` adds what `api/live.py` read from
Temporal: the actions finished so far, the ones running (attempt, last error, next try) and the prompts
waiting (time left):

    SOAR PLAYBOOK EXECUTION REPORT
    Playbook: Phishing Triage Automation v2.3     Container: SOAR-2024-08921
      [1] URL Reputation (VirusTotal) - 14/90 engines malicious [2.1s]
      [6] Prompt Analyst (soc_tier2) - Response: "Isolate Host" [4m 12s]
    Total Duration: 4m 22s (vs 35min avg manual triage)   Time Saved: ~31 minutes
    Disposition: True Positive - Escalated to IR
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.metrics import duration_s, saved_minutes
from core.models import ActionRecord, PlaybookRun, Prompt, RunStatus, Status
from workflows.messages import ContainerView

HEADER = "SOAR PLAYBOOK EXECUTION REPORT"
ACRONYMS = frozenset({
    "ad", "api", "cve", "dns", "edr", "id", "ioc", "ip", "ir", "md5", "mfa", "sha1", "sha256", "siem", "soar",
    "ssl", "tls", "url", "vpn",
})
MESSAGE_MAX = 160


class ActionLine(BaseModel):
    """One numbered step of a run: a connector action or an analyst prompt."""

    index: int
    kind: Literal["action", "prompt"] = "action"
    action: str = Field(description="Display title, e.g. 'URL Reputation' or 'Prompt Analyst'")
    vendor: str = Field(description="Connector title, or the prompted role for prompts")
    connector: str
    asset: str = ""
    target: str = ""
    status: Literal["success", "failed", "skipped"]
    message: str = Field(description="The vendor's one-line message (or the analyst's response)")
    started: datetime
    duration_s: float
    option: str | None = None
    responder: str | None = None
    timed_out: bool | None = None
    cached_at: datetime | None = Field(default=None, description="Answered from the cache: when it was fetched")
    cached_age_s: float | None = Field(default=None, description="How old the cached answer was when used")


class RunningLine(BaseModel):
    """A connector action still running (or waiting for its next attempt), from the run's pending activities."""

    action: str = Field(description="Display title, e.g. 'Quarantine Device'")
    vendor: str
    connector: str
    workflow_id: str = Field(description="The run (or nested run) it belongs to")
    state: Literal["scheduled", "running", "retrying"]
    attempt: int
    last_error: str | None = None
    next_attempt_in_s: float | None = Field(default=None, description="While waiting to retry")
    running_for_s: float = Field(description="Since it was first scheduled")


class WaitingLine(BaseModel):
    """A prompt of the run waiting for an analyst."""

    prompt_id: str
    role: str = Field(description="Who is asked now (the escalation role once escalated)")
    message: str
    options: list[str]
    deadline: datetime
    time_left_s: float
    approvals: int = 0
    quorum: int = 1
    escalated: bool = False


class RunLive(BaseModel):
    """What a running run has done and is doing (gathered by `api/live.py`)."""

    records: list[ActionRecord] = Field(default_factory=list)
    running: list[RunningLine] = Field(default_factory=list)
    workflows: list[str] = Field(default_factory=list, description="The run and its running nested runs")


class RunReport(BaseModel):
    """One playbook run of the container."""

    playbook: str
    title: str
    version: str
    workflow_id: str
    run_as: str
    status: RunStatus
    started: datetime
    ended: datetime | None = None
    duration_s: float | None = Field(default=None, description="ended - started; None while running")
    baseline_minutes: float | None = Field(default=None, description="Average manual triage of this playbook")
    time_saved_minutes: float | None = Field(
        default=None, description="max(0, baseline - duration) for successful runs; 0 otherwise")
    auto_resolved: bool = False
    error: str | None = None
    actions: list[ActionLine] = Field(default_factory=list)
    running: list[RunningLine] = Field(default_factory=list, description="While running: actions in flight")
    waiting: list[WaitingLine] = Field(default_factory=list, description="While running: prompts waiting")
    elapsed_s: float | None = Field(default=None, description="While running: time since it started")


class Report(BaseModel):
    """The execution report of one container (the JSON form of the text report)."""

    container_id: str
    container_name: str
    status: Status
    disposition: str = Field(description="The disposition line: the container's disposition, or its state")
    auto_resolved: bool
    closed_at: datetime | None = None
    runs: list[RunReport] = Field(default_factory=list)
    time_saved_minutes: float = Field(description="Sum over the runs")


# ---- formatting ---------------------------------------------------------------------------------------
def title_case(action: str) -> str:
    """`url reputation` -> `URL Reputation`, `quarantine device` -> `Quarantine Device` (acronyms kept)."""
    words = []
    for w in action.replace("_", " ").split():
        words.append(w.upper() if w.lower() in ACRONYMS else w[:1].upper() + w[1:])
    return " ".join(words)


def fmt_duration(seconds: float) -> str:
    """`2.1s` under a minute, else `4m 12s` (and `1h 3m 0s` past an hour)."""
    seconds = max(0.0, seconds)
    if round(seconds, 1) < 60:
        return f"{seconds:.1f}s"
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h {m}m {s}s" if h else f"{m}m {s}s"


def fmt_age(seconds: float) -> str:
    """`just now`, `40 s ago`, `3 min ago`, `2 h ago`: how old a cached answer was."""
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    return f"{int(seconds // 3600)} h ago"


def fmt_minutes(minutes: float) -> str:
    """`35min`, `12.5min`."""
    return f"{minutes:g}min"


def fmt_saved(minutes: float) -> str:
    """`~31 minutes`, `~1 minute`, `~0 minutes` (never negative)."""
    n = max(0, int(round(minutes)))
    return f"~{n} minute" if n == 1 else f"~{n} minutes"


def one_line(text: str, limit: int = MESSAGE_MAX) -> str:
    """The text on one line, whitespace collapsed, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


# ---- building -----------------------------------------------------------------------------------------
def _line(rec: ActionRecord) -> ActionLine:
    common: dict[str, Any] = dict(index=rec.index, kind=rec.kind, connector=rec.connector, asset=rec.asset,
                                  target=rec.target, status=rec.status, started=rec.started,
                                  duration_s=rec.duration_s)
    if rec.kind == "prompt":
        option, responder = rec.summary.get("option"), rec.summary.get("responder")
        timed_out = bool(rec.summary.get("timed_out", False))
        role = rec.title.removeprefix("Prompt Analyst (").removesuffix(")") if rec.title else ""
        message = one_line(rec.message) if timed_out or not option else f'Response: "{option}"'
        return ActionLine(action="Prompt Analyst", vendor=role, message=message,
                          option=option, responder=responder, timed_out=timed_out, **common)
    message = one_line(rec.message) or rec.status
    age = max(0.0, (rec.started - rec.cached_at).total_seconds()) if rec.cached_at is not None else None
    return ActionLine(action=title_case(rec.action), vendor=rec.title or rec.connector, message=message,
                      cached_at=rec.cached_at, cached_age_s=age, **common)


def _waiting(p: Prompt, now: datetime) -> WaitingLine:
    role = p.policy.escalate_to if p.escalated and p.policy.escalate_to else p.role
    return WaitingLine(prompt_id=p.id, role=role, message=p.message, options=p.options, deadline=p.deadline,
                       time_left_s=max(0.0, round((p.deadline - now).total_seconds(), 1)),
                       approvals=len(p.approvals), quorum=p.policy.quorum, escalated=p.escalated)


def _add_live(r: RunReport, live: RunLive | None, prompts: list[Prompt], now: datetime) -> None:
    """Fill a running run's report with what it has done, is doing and waits for."""
    r.elapsed_s = duration_s(r.started, now)
    ids = set(live.workflows if live else []) | {r.workflow_id}
    r.waiting = [_waiting(p, now) for p in prompts if p.workflow_id in ids]
    if live is not None:
        r.actions = [_line(a) for a in live.records]
        r.running = live.running


def _run(run: PlaybookRun) -> RunReport:
    from workflows.registry import PLAYBOOKS  # imported here: the registry imports every playbook module

    out = run.outcome
    info = PLAYBOOKS.get(run.playbook)
    title = out.title if out else (info.title if info else run.playbook)
    version = out.version if out else (info.version if info else "")
    baseline = out.baseline_minutes if out else (info.baseline_minutes if info else None)
    started = out.started if out else run.started
    ended = out.ended if out else run.ended
    r = RunReport(playbook=run.playbook, title=title, version=version, workflow_id=run.workflow_id,
                  run_as=run.run_as, status=run.status, started=started, ended=ended,
                  baseline_minutes=baseline,
                  auto_resolved=bool(out and out.auto_resolved), error=out.error if out else None,
                  actions=[_line(a) for a in sorted(out.actions, key=lambda a: a.index)] if out else [])
    took = duration_s(started, ended)
    if run.status != RunStatus.RUNNING and took is not None:
        r.duration_s, r.time_saved_minutes = took, saved_minutes(run.status, baseline, took)
    return r


def disposition_text(view: ContainerView) -> str:
    """The container's disposition, or `Closed` / `Open - awaiting analyst` when none was recorded."""
    if view.state.disposition:
        return view.state.disposition
    if view.state.container.status == Status.CLOSED:
        return "Closed"
    return "Open - awaiting analyst"


def build_report(view: ContainerView, live: Mapping[str, RunLive] | None = None,
                 now: datetime | None = None) -> Report:
    """The report of a container, from its view (query or final result); with `now`, running runs show the
    prompts they wait for, and with `live` (by run workflow id) also their actions so far and in flight."""
    runs = [_run(r) for r in view.state.runs]
    if now is not None:
        for r in runs:
            if r.status == RunStatus.RUNNING:
                _add_live(r, (live or {}).get(r.workflow_id), view.pending_prompts, now)
    c = view.state.container
    return Report(
        container_id=view.id or c.id or "", container_name=c.name, status=c.status,
        disposition=disposition_text(view), auto_resolved=view.state.auto_resolved, closed_at=view.closed_at,
        runs=runs, time_saved_minutes=sum(r.time_saved_minutes or 0.0 for r in runs),
    )


# ---- rendering ----------------------------------------------------------------------------------------
def _render_action(a: ActionLine) -> str:
    message = a.message
    if a.kind == "action" and a.status == "failed":
        message = f"FAILED: {message}"
    cached = f" (cached {fmt_age(a.cached_age_s)})" if a.cached_age_s is not None else ""
    return f"  [{a.index}] {a.action} ({a.vendor}) - {message}{cached} [{fmt_duration(a.duration_s)}]"


def _render_running(a: RunningLine, index: int) -> str:
    what = {"scheduled": "RUNNING (queued)", "running": "RUNNING", "retrying": "RETRYING"}[a.state]
    parts = [f"attempt {a.attempt}"] if a.attempt > 1 or a.last_error else []
    if a.last_error:
        parts.append(f"last error: {one_line(a.last_error, 120)}")
    if a.next_attempt_in_s is not None:
        parts.append(f"next try in {fmt_duration(a.next_attempt_in_s)}")
    detail = f": {', '.join(parts)}" if parts else ""
    return f"  [{index}] {a.action} ({a.vendor}) - {what}{detail} [{fmt_duration(a.running_for_s)} so far]"


def _render_waiting(w: WaitingLine) -> str:
    quorum = f", {w.approvals} of {w.quorum} approvals" if w.quorum > 1 else ""
    escalated = ", escalated" if w.escalated else ""
    return (f"  [?] Prompt Analyst ({w.role}) - WAITING: {fmt_duration(w.time_left_s)} left{quorum}{escalated}; "
            f"options: {', '.join(w.options)}")


def _render_total(r: RunReport) -> str:
    if r.status == RunStatus.RUNNING or r.duration_s is None:
        return "Total Duration: (running)" if r.elapsed_s is None else \
            f"Total Duration: (running, {fmt_duration(r.elapsed_s)} so far)"
    total = f"Total Duration: {fmt_duration(r.duration_s)}"
    if r.status != RunStatus.SUCCESS:
        reason = f": {one_line(r.error, 120)}" if r.error else ""
        return f"{total} ({r.status.value}{reason})"
    if r.baseline_minutes is None:
        return total
    return (f"{total} (vs {fmt_minutes(r.baseline_minutes)} avg manual triage)   "
            f"Time Saved: {fmt_saved(r.time_saved_minutes or 0.0)}")


def render_text(report: Report) -> str:
    """The text report (one block per run, the disposition last)."""
    lines = [HEADER]
    if not report.runs:
        lines += [f"Container: {report.container_id}", "No playbook runs."]
    for n, r in enumerate(report.runs):
        if n:
            lines.append("")
        version = f" v{r.version}" if r.version else ""
        lines.append(f"Playbook: {r.title}{version}     Container: {report.container_id}")
        lines += [_render_action(a) for a in r.actions]
        nxt = max((a.index for a in r.actions), default=0) + 1
        lines += [_render_running(a, nxt + i) for i, a in enumerate(r.running)]
        lines += [_render_waiting(w) for w in r.waiting]
        lines.append(_render_total(r))
    lines.append(f"Disposition: {report.disposition}")
    return "\n".join(lines) + "\n"
