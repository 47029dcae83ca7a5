"""The brief's three Phantom playbooks, unchanged, end to end: the real worker on the dev server, the
connectors against the simulator over HTTP, prompts answered as the API signs them."""

from __future__ import annotations

import uuid

import pytest
from temporalio.api.enums.v1 import EventType

from api.report import build_report, render_text
from core.models import Severity, Status
from core.settings import ROOT
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack
from tests.phantom.conftest import EXAMPLES, container, done, texts

BRIEF = ROOT.parent / "shared" / "brief" / "phantom"  # the brief beside the checkout, when it is there
PHISHING, ENRICHMENT, CONTAINMENT = ("brief_phishing_triage_automation", "brief_universal_alert_enrichment",
                                     "brief_containment_decision")
MAL_HASH = "deadbeef" + "1" * 56


@pytest.mark.parametrize("stem", ["phishing_triage_automation", "universal_alert_enrichment",
                                  "containment_decision"])
def test_examples_are_the_brief_files_unchanged(stem: str) -> None:
    if not BRIEF.is_dir():
        pytest.skip(f"{BRIEF} is not on this machine; the examples cannot be compared with the brief")
    assert (EXAMPLES / f"brief_{stem}.py").read_bytes() == (BRIEF / f"{stem}.py").read_bytes()


async def activity_summaries(client, workflow_id: str) -> list[str]:
    hist = await client.get_workflow_handle(workflow_id).fetch_history()
    out = []
    for e in hist.events:
        # Lookups run as local activities (their summary is on the marker), the rest as activity tasks.
        kinds = (EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED, EventType.EVENT_TYPE_MARKER_RECORDED)
        if e.event_type in kinds and e.user_metadata.HasField("summary"):
            out.append(e.user_metadata.summary.data.decode().strip('"'))
    return out


async def test_malicious_url_blocks_tickets_and_escalates(dev_env, task_queue, phantom_assets_file, sim):
    url = f"http://malicious-{uuid.uuid4().hex[:6]}.example/login"
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"requestURL": url}), playbooks=[PHISHING])
        v = await stack.wait_for(r.container_id, done)
        summaries = await activity_summaries(dev_env.client, v.state.runs[0].workflow_id)
    assert v.state.runs[0].status == "success"
    assert v.state.container.severity == Severity.HIGH and v.state.container.status == Status.OPEN
    assert "URL flagged by 14/90 engines. Blocked on firewall. Escalating to Tier 2." in texts(v)
    effects = sim.state()["effects"]
    assert url.split("://")[1] in effects["panos"]["blocked_urls"]
    [ticket] = effects["servicenow"]["incidents"].values()
    assert (ticket["short_description"], ticket["urgency"], ticket["impact"]) == (
        "Phishing - Malicious URL detected", "2", "2")
    actions = sorted(v.state.runs[0].outcome.actions, key=lambda a: a.index)
    assert [(a.index, a.action, a.status) for a in actions] == [
        (1, "url reputation", "success"), (2, "block url", "success"), (3, "create ticket", "success")]
    report = render_text(build_report(v))
    assert "[1] URL Reputation (VirusTotal) - 14/90 engines malicious [" in report
    assert "Create Ticket (ServiceNow) - INC" in report
    defanged = url.replace("http", "hxxp", 1).replace(".", "[.]")
    assert f"url_reputation: VirusTotal url reputation: {defanged}" in summaries
    assert f"block_malicious_url: Palo Alto block url: {defanged}" in summaries


async def test_suspicious_url_is_promoted_for_review(dev_env, task_queue, phantom_assets_file, sim):
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"requestURL": "http://suspicious.example/x"}),
                              playbooks=[PHISHING])
        v = await stack.wait_for(r.container_id, done)
    assert v.state.promoted_template == "Phishing Investigation"
    assert "URL flagged by 3/90 engines. Requires analyst review." in texts(v)
    assert v.state.container.status == Status.OPEN
    assert sim.state()["effects"].get("panos", {}).get("blocked_urls", []) == []


async def test_clean_url_auto_closes(dev_env, task_queue, phantom_assets_file, sim):
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"requestURL": "https://intranet.example.com/benefits"}),
                              playbooks=[PHISHING])
        v = await stack.result(r.container_id)
    assert v.state.container.status == Status.CLOSED
    assert "URL clean: 0/90 engines flagged. Auto-closed." in texts(v)


async def test_malicious_hash_asks_before_quarantining(dev_env, task_queue, phantom_assets_file, sim):
    """The brief's hash callback quarantines with no analyst decision: the engine asks first."""
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"fileHash": MAL_HASH},
                                        {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe"}),
                              playbooks=[PHISHING])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        assert (p.role, p.options, p.on_timeout) == ("soc_tier2", ["Approve", "Deny"], "Deny")
        assert "asks to run CrowdStrike quarantine device on WORKSTATION-042 (block isolate_endpoint)" in p.message
        assert [(t.kind, t.value) for t in p.targets] == [("host", "WORKSTATION-042")]
        assert p.deadline - p.created == __import__("datetime").timedelta(minutes=15)
        assert v.state.container.severity == Severity.HIGH  # the callback's other change went ahead
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
        await answer(dev_env.client, p, "Approve")
        v = await stack.wait_for(r.container_id, done)
    assert "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"]["contained"]
    kinds = [(a.kind, a.action, a.status) for a in sorted(v.state.runs[0].outcome.actions, key=lambda a: a.index)]
    assert kinds == [("action", "file reputation", "success"), ("prompt", "prompt", "success"),
                     ("action", "quarantine device", "success")]


async def test_denied_quarantine_does_not_run(dev_env, task_queue, phantom_assets_file, sim):
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"fileHash": MAL_HASH},
                                        {"sourceHostName": "WORKSTATION-042"}), playbooks=[PHISHING])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        await answer(dev_env.client, v.pending_prompts[0], "Deny", responder="carol")
        v = await stack.wait_for(r.container_id, done)
    assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []
    assert any(t.startswith("isolate_endpoint: CrowdStrike quarantine device on WORKSTATION-042 was not run: "
                            "not approved: carol chose Deny") for t in texts(v))
    last = max(v.state.runs[0].outcome.actions, key=lambda a: a.index)
    assert (last.action, last.status) == ("quarantine device", "skipped")
    assert "Quarantine Device (CrowdStrike) - Not run: not approved: carol chose Deny" in render_text(build_report(v))


async def test_enrichment_adds_its_artifacts(dev_env, task_queue, phantom_assets_file, sim):
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("notable", {"sourceAddress": "81.2.69.160"},
                                        {"destinationDnsDomain": "evil.example"}), playbooks=[ENRICHMENT])
        v = await stack.wait_for(r.container_id, done)
    added = {a.name: a for a in v.state.container.artifacts if a.label == "enrichment"}
    assert set(added) == {"VT IP Enrichment", "GeoIP Enrichment"}
    assert added["VT IP Enrichment"].cef == {"vt_malicious": 0, "vt_suspicious": 0, "enrichment_source": "VirusTotal"}
    assert added["GeoIP Enrichment"].cef["geo_city"] == "London" and added["GeoIP Enrichment"].cef["geo_country"]
    assert all(a.added_by == ENRICHMENT for a in added.values())
    actions = {a.action for a in v.state.runs[0].outcome.actions}
    assert actions == {"ip reputation", "geolocate ip", "whois ip", "domain reputation"}
