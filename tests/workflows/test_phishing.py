"""Phishing triage end to end: real worker, real connectors, the simulator over HTTP, the dev server."""

from __future__ import annotations

import uuid

from core.models import Artifact, Container, Severity, Status
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack

MAL_HASH = "deadbeef" + "0" * 56
CLEAN_HASH = "a" * 64


def phish(*cefs: dict[str, str], host: str | None = "WORKSTATION-042", user: str | None = "jdoe") -> Container:
    arts = [Artifact(name=f"a{i}", cef=c) for i, c in enumerate(cefs)]
    extra = {}
    if host:
        extra["sourceHostName"] = host
    if user:
        extra["sourceUserName"] = user
    if extra:
        arts.append(Artifact(name="endpoint", cef=extra))
    return Container(name="Reported phishing", label="phishing", severity=Severity.MEDIUM,
                     source_data_identifier=f"phish-{uuid.uuid4().hex}", artifacts=arts)


def texts(v) -> list[str]:
    return [c.text for c in v.state.comments]


async def test_malicious_url_is_blocked_ticketed_and_escalated(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        url = f"http://malicious-{uuid.uuid4().hex[:6]}.example/login"
        r = await stack.start(phish({"requestURL": url}, host=None, user=None))
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
        assert v.state.container.severity == Severity.HIGH
        assert v.state.container.status == Status.OPEN
        assert "URL flagged by 14/90 engines. Blocked on firewall. Escalating to Tier 2." in texts(v)
        assert v.state.disposition == "True Positive - Escalated to Tier 2"
        st = sim.state()["effects"]
        assert any(url.split("://")[1] in u for u in st["panos"]["blocked_urls"])
        incidents = list(st["servicenow"]["incidents"].values())
        assert len(incidents) == 1 and incidents[0]["short_description"] == "Phishing - Malicious URL detected"
        assert incidents[0]["urgency"] == "2" and incidents[0]["impact"] == "2"
        acts = [(a.action, a.status) for a in v.state.runs[0].outcome.actions]
        assert ("url reputation", "success") in acts and ("block url", "success") in acts
        assert ("create ticket", "success") in acts


async def test_clean_url_auto_closes(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(phish({"requestURL": "https://intranet.example.com/benefits"}, host=None, user=None))
        done = await stack.result(r.container_id)
        assert done.state.container.status == Status.CLOSED
        assert done.state.auto_resolved is True
        assert "URL clean: 0/90 engines flagged." in texts(done)
        assert "Every lookup came back clean. Auto-closed." in texts(done)


async def test_suspicious_url_is_promoted(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(phish({"requestURL": "http://suspicious.example/x"}, host=None, user=None))
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
        assert v.state.promoted_template == "Phishing Investigation"
        assert "URL flagged by 3/90 engines. Requires analyst review." in texts(v)
        assert v.state.container.status == Status.OPEN


async def test_failed_lookup_is_never_clean(dev_env, task_queue, assets_file, sim):
    sim.fault(vendor="virustotal", status=401, count=10)
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(phish({"requestURL": "https://intranet.example.com/x"}, host=None, user=None))
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
        assert v.state.container.status == Status.OPEN and not v.state.auto_resolved
        assert any(t.startswith("Lookup failed after retries") for t in texts(v)), texts(v)


async def test_malicious_ip_is_blocked(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(phish({"sourceAddress": "198.51.100.23"}, host=None, user=None))
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
        assert "198.51.100.23" in str(sim.state()["effects"]["panos"]["blocked_ips"])
        assert v.state.container.status == Status.OPEN


async def test_clean_url_with_malicious_hash_asks_for_containment(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(phish({"requestURL": "https://intranet.example.com/ok"}, {"fileHash": MAL_HASH}))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        assert p.role == "soc_tier2" and p.options == ["Isolate Host", "Disable Account", "Both", "Monitor Only"]
        assert v.state.container.status == Status.OPEN and v.state.container.severity == Severity.HIGH
        assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []  # nothing before a decision
        ack = await answer(dev_env.client, p, "Isolate Host")
        assert ack.option == "Isolate Host"
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running")
        assert "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"]["contained"]
        assert "Analyst approved: Isolate Host (by bob)" in texts(v)
        assert v.state.disposition == "True Positive - Escalated to IR"
        assert v.state.container.status == Status.OPEN  # a clean URL never closes a container with a malicious hash
        kinds = [a.kind for a in v.state.runs[0].outcome.actions]
        assert "prompt" in kinds
