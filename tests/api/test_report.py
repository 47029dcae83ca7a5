"""The execution report, built from ContainerView objects (pure unit tests, exact text)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.report import build_report, fmt_duration, fmt_saved, render_text, title_case
from core.models import ActionRecord, Container, PlaybookOutcome, PlaybookRun, RunStatus, Status
from workflows.messages import ContainerState, ContainerView

T0 = datetime(2024, 8, 21, 9, 30, tzinfo=UTC)
CID = "SOAR-2024-08921"


def rec(index: int, action: str, title: str, message: str, at: float, duration: float, *,
        connector: str = "x", status: str = "success", **kw) -> ActionRecord:
    return ActionRecord(index=index, action=action, connector=connector, title=title, asset=connector,
                        started=T0 + timedelta(seconds=at), duration_s=duration, status=status,
                        message=message, **kw)


def prompt_rec(index: int, at: float, waited: float, option: str, responder: str | None,
               timed_out: bool = False) -> ActionRecord:
    msg = (f'No response in {int(waited) // 60}m {int(waited) % 60}s; default "{option}"' if timed_out
           else f'Response: "{option}" by {responder}')
    return ActionRecord(index=index, action="prompt", connector="soar", title="Prompt Analyst (soc_tier2)",
                        asset="", started=T0 + timedelta(seconds=at), duration_s=waited,
                        status="skipped" if timed_out else "success", message=msg, kind="prompt",
                        summary={"option": option, "responder": responder, "timed_out": timed_out,
                                 "prompt_id": f"{CID}.containment_decision.1"})


def phishing_outcome(total_s: float = 262.0) -> PlaybookOutcome:
    return PlaybookOutcome(
        playbook="phishing_triage_automation", title="Phishing Triage Automation", version="2.3",
        baseline_minutes=35.0, status=RunStatus.SUCCESS, started=T0, ended=T0 + timedelta(seconds=total_s),
        actions=[
            rec(7, "quarantine device", "CrowdStrike", "WORKSTATION-042 isolated", 258, 3.2,
                connector="crowdstrike"),
            rec(1, "url reputation", "VirusTotal", "14/90 engines malicious", 0, 2.1, connector="virustotal"),
            rec(3, "block url", "Palo Alto", "Blocked on PA-5260", 2.2, 0.8, connector="panos"),
            rec(5, "create ticket", "ServiceNow", "INC0012345 created", 2.2, 1.5, connector="servicenow"),
            prompt_rec(6, 5.0, 252.0, "Isolate Host", "bob"),
        ],
    )


def view(*runs: PlaybookRun, disposition: str | None = None, status: Status = Status.OPEN) -> ContainerView:
    c = Container(id=CID, name="Reported phishing: invoice", label="phishing", status=status)
    return ContainerView(id=CID, state=ContainerState(container=c, runs=list(runs), disposition=disposition))


def finished(out: PlaybookOutcome, suffix: str = "") -> PlaybookRun:
    return PlaybookRun(playbook=out.playbook, workflow_id=f"playbook/{out.playbook}/{CID}{suffix}",
                       status=out.status, started=out.started, ended=out.ended, outcome=out)


EXAMPLE = """\
SOAR PLAYBOOK EXECUTION REPORT
Playbook: Phishing Triage Automation v2.3     Container: SOAR-2024-08921
  [1] URL Reputation (VirusTotal) - 14/90 engines malicious [2.1s]
  [3] Block URL (Palo Alto) - Blocked on PA-5260 [0.8s]
  [5] Create Ticket (ServiceNow) - INC0012345 created [1.5s]
  [6] Prompt Analyst (soc_tier2) - Response: "Isolate Host" [4m 12s]
  [7] Quarantine Device (CrowdStrike) - WORKSTATION-042 isolated [3.2s]
Total Duration: 4m 22s (vs 35min avg manual triage)   Time Saved: ~31 minutes
Disposition: True Positive - Escalated to IR
"""


def test_the_example_report_exactly():
    v = view(finished(phishing_outcome()), disposition="True Positive - Escalated to IR")
    assert render_text(build_report(v)) == EXAMPLE


def test_json_form_has_the_same_facts():
    v = view(finished(phishing_outcome()), disposition="True Positive - Escalated to IR")
    data = build_report(v).model_dump(mode="json")
    assert data["container_id"] == CID and data["status"] == "open" and data["auto_resolved"] is False
    assert data["disposition"] == "True Positive - Escalated to IR"
    (run,) = data["runs"]
    keys = ("playbook", "title", "version", "status", "duration_s", "baseline_minutes")
    assert {k: run[k] for k in keys} == {
        "playbook": "phishing_triage_automation", "title": "Phishing Triage Automation", "version": "2.3",
        "status": "success", "duration_s": 262.0, "baseline_minutes": 35.0}
    assert run["started"] == "2024-08-21T09:30:00Z" and run["ended"] == "2024-08-21T09:34:22Z"
    assert run["time_saved_minutes"] == pytest.approx(35 - 262 / 60)
    assert data["time_saved_minutes"] == pytest.approx(35 - 262 / 60)
    assert [a["index"] for a in run["actions"]] == [1, 3, 5, 6, 7]
    prompt = run["actions"][3]
    assert (prompt["kind"], prompt["option"], prompt["responder"], prompt["timed_out"]) == (
        "prompt", "Isolate Host", "bob", False)
    assert run["actions"][0] | {"started": None} == {
        "index": 1, "kind": "action", "action": "URL Reputation", "vendor": "VirusTotal",
        "connector": "virustotal", "asset": "virustotal", "target": "", "status": "success",
        "message": "14/90 engines malicious", "started": None, "duration_s": 2.1,
        "option": None, "responder": None, "timed_out": None, "cached_at": None, "cached_age_s": None}


def test_a_cached_answer_says_so_and_how_old_it_was():
    out = phishing_outcome()
    first = out.actions[1]
    out.actions[1] = first.model_copy(update={"cached_at": first.started - timedelta(minutes=3, seconds=10)})
    report = build_report(view(finished(out)))
    text = render_text(report)
    assert "  [1] URL Reputation (VirusTotal) - 14/90 engines malicious (cached 3 min ago) [2.1s]" in text
    assert "[3] Block URL (Palo Alto) - Blocked on PA-5260 [0.8s]" in text  # its own call: no mark
    line = next(a for a in report.runs[0].actions if a.index == 1)
    assert line.cached_age_s == 190.0 and line.cached_at == first.started - timedelta(seconds=190)


@pytest.mark.parametrize(("action", "title"), [
    ("url reputation", "URL Reputation"), ("quarantine device", "Quarantine Device"),
    ("ip reputation", "IP Reputation"), ("whois ip", "Whois IP"), ("disable user", "Disable User"),
    ("test connectivity", "Test Connectivity"), ("block url", "Block URL"),
    ("file reputation", "File Reputation"),
])
def test_action_titles_keep_acronyms(action, title):
    assert title_case(action) == title


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0.0s"), (2.1, "2.1s"), (0.84, "0.8s"), (59.9, "59.9s"), (59.97, "1m 0s"), (60, "1m 0s"),
    (252, "4m 12s"), (262.4, "4m 22s"), (3780, "1h 3m 0s"),
])
def test_durations(seconds, text):
    assert fmt_duration(seconds) == text


def test_time_saved_is_never_negative_and_says_minute_or_minutes():
    assert (fmt_saved(-3), fmt_saved(0.4), fmt_saved(1.2), fmt_saved(30.6)) == (
        "~0 minutes", "~0 minutes", "~1 minute", "~31 minutes")
    slow = phishing_outcome(total_s=40 * 60)
    text = render_text(build_report(view(finished(slow), disposition="Benign")))
    assert "Total Duration: 40m 0s (vs 35min avg manual triage)   Time Saved: ~0 minutes\n" in text
    assert build_report(view(finished(slow))).runs[0].time_saved_minutes == 0.0


def test_running_run_shows_running_and_no_total():
    run = PlaybookRun(playbook="containment_decision", workflow_id=f"playbook/containment_decision/{CID}",
                      started=T0)
    r = build_report(view(run))
    assert (r.runs[0].duration_s, r.runs[0].time_saved_minutes, r.runs[0].ended) == (None, None, None)
    assert (r.runs[0].title, r.runs[0].version, r.runs[0].baseline_minutes) == (
        "Containment Decision", "1.2", 25.0)  # from the registry while the run has no outcome yet
    assert render_text(r) == (
        "SOAR PLAYBOOK EXECUTION REPORT\n"
        f"Playbook: Containment Decision v1.2     Container: {CID}\n"
        "Total Duration: (running)\n"
        "Disposition: Open - awaiting analyst\n")


def test_several_runs_give_one_block_each_and_one_disposition():
    enrich = PlaybookOutcome(
        playbook="universal_alert_enrichment", title="Universal Alert Enrichment", version="1.4",
        baseline_minutes=15.0, started=T0, ended=T0 + timedelta(seconds=3.25), auto_resolved=False,
        actions=[rec(1, "ip reputation", "VirusTotal", "IP 203.0.113.7: 0/94 engines malicious", 0, 1.2),
                 rec(2, "geolocate ip", "MaxMind", "Request failed:\n HTTP 503\n  upstream", 0, 3.1,
                     status="failed")])
    timed_out = PlaybookOutcome(
        playbook="containment_decision", title="Containment Decision", version="1.2", baseline_minutes=25.0,
        started=T0 + timedelta(minutes=1), ended=T0 + timedelta(minutes=16, seconds=1),
        actions=[prompt_rec(1, 60, 900.0, "Monitor Only", None, timed_out=True)])
    v = view(finished(enrich), finished(timed_out, "/manual-1"), status=Status.CLOSED)
    assert render_text(build_report(v)) == (
        "SOAR PLAYBOOK EXECUTION REPORT\n"
        f"Playbook: Universal Alert Enrichment v1.4     Container: {CID}\n"
        "  [1] IP Reputation (VirusTotal) - IP 203.0.113.7: 0/94 engines malicious [1.2s]\n"
        "  [2] Geolocate IP (MaxMind) - FAILED: Request failed: HTTP 503 upstream [3.1s]\n"
        "Total Duration: 3.2s (vs 15min avg manual triage)   Time Saved: ~15 minutes\n"
        "\n"
        f"Playbook: Containment Decision v1.2     Container: {CID}\n"
        '  [1] Prompt Analyst (soc_tier2) - No response in 15m 0s; default "Monitor Only" [15m 0s]\n'
        "Total Duration: 15m 1s (vs 25min avg manual triage)   Time Saved: ~10 minutes\n"
        "Disposition: Closed\n")
    report = build_report(v)
    assert report.time_saved_minutes == pytest.approx((15 - 3.25 / 60) + (25 - 901 / 60))
    assert report.runs[1].actions[0].timed_out is True and report.runs[1].actions[0].responder is None


def test_failed_run_saves_no_time_and_says_why():
    out = phishing_outcome(total_s=5.0).model_copy(update={"status": RunStatus.FAILED, "actions": [],
                                                           "error": "no asset configured for virustotal"})
    crashed = PlaybookRun(playbook="universal_alert_enrichment", status=RunStatus.FAILED,
                          workflow_id=f"playbook/universal_alert_enrichment/{CID}", started=T0,
                          ended=T0 + timedelta(seconds=1.5))
    r = build_report(view(finished(out), crashed))
    assert [x.time_saved_minutes for x in r.runs] == [0.0, 0.0]
    text = render_text(r)
    assert "Total Duration: 5.0s (failed: no asset configured for virustotal)\n" in text
    assert "Playbook: Universal Alert Enrichment v1.4     Container: SOAR-2024-08921\n" \
           "Total Duration: 1.5s (failed)\n" in text


def test_container_without_runs():
    r = build_report(view(status=Status.NEW))
    assert render_text(r) == (f"SOAR PLAYBOOK EXECUTION REPORT\nContainer: {CID}\nNo playbook runs.\n"
                              "Disposition: Open - awaiting analyst\n")
    assert r.time_saved_minutes == 0 and r.runs == []


def test_a_running_run_shows_what_it_did_what_it_does_and_what_it_waits_for():
    from api.report import RunLive, RunningLine
    from core.models import Prompt, PromptPolicy

    wid = f"playbook/containment_decision/{CID}"
    run = PlaybookRun(playbook="containment_decision", workflow_id=wid, started=T0)
    live = RunLive(workflows=[wid, f"{wid}/nested"], records=[rec(1, "ip reputation", "VirusTotal", "0/94", 0, 1.2)],
                   running=[RunningLine(action="Disable User", vendor="Active Directory", connector="active_directory",
                                        workflow_id=wid, state="retrying", attempt=6, next_attempt_in_s=30,
                                        last_error="Active Directory at ldaps://dc01:636: connection refused",
                                        running_for_s=95)])
    p = Prompt(id=f"{CID}.containment_decision.1", container_id=CID, playbook="containment_decision",
               workflow_id=f"{wid}/nested", role="soc_tier2", message="Contain?", options=["Isolate Host", "Monitor"],
               on_timeout="Monitor", created=T0, deadline=T0 + timedelta(minutes=15),
               policy=PromptPolicy(quorum=2))
    v = view(run)
    v.pending_prompts = [p]
    now = T0 + timedelta(minutes=2, seconds=3)
    r = build_report(v, {wid: live}, now)
    assert r.runs[0].elapsed_s == 123 and r.runs[0].waiting[0].time_left_s == 777
    assert render_text(r) == (
        "SOAR PLAYBOOK EXECUTION REPORT\n"
        f"Playbook: Containment Decision v1.2     Container: {CID}\n"
        "  [1] IP Reputation (VirusTotal) - 0/94 [1.2s]\n"
        "  [2] Disable User (Active Directory) - RETRYING: attempt 6, last error: Active Directory at "
        "ldaps://dc01:636: connection refused, next try in 30.0s [1m 35s so far]\n"
        "  [?] Prompt Analyst (soc_tier2) - WAITING: 12m 57s left, 0 of 2 approvals; options: Isolate Host, Monitor\n"
        "Total Duration: (running, 2m 3s so far)\n"
        "Disposition: Open - awaiting analyst\n")
    assert build_report(v).runs[0].waiting == []  # without `now` the report stays as it was (pure, no clock)
