"""The README's playbook example is a shipped playbook, shown verbatim, and it runs: its trigger, both
options of its prompt, and its clean path, on the real worker with the simulator."""

from __future__ import annotations

import re
import uuid

import pytest

from core.models import Artifact, Container, Severity, Status
from core.settings import ROOT
from tests.helpers.stack import run_stack

EXAMPLE = ROOT / "workflows" / "playbooks" / "suspicious_login.py"
MALICIOUS_IP, CLEAN_IP = "198.51.100.7", "81.2.69.160"  # VirusTotal (simulated): 8 engines; 0


def test_the_readme_shows_the_shipped_playbook_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- playbook example: workflows/playbooks/suspicious_login.py -->\n```python\n(.*?)```",
                  readme, re.S)
    assert m, "README: the playbook example block is missing"
    assert m.group(1) == EXAMPLE.read_text(encoding="utf-8")


def login(ip: str, user: str = "jdoe") -> Container:
    return Container(name=f"Suspicious login of {user}", label="authentication", severity=Severity.MEDIUM,
                     source_data_identifier=f"login-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="Login event", cef={"sourceAddress": ip, "sourceUserName": user})])


@pytest.mark.parametrize(("option", "disabled", "disposition"), [
    ("Disable Account", ["jdoe"], "True Positive - Account Disabled"),
    ("Ignore", [], "Under Review - Not Contained"),
])
async def test_a_malicious_login_asks_and_does_what_the_analyst_chose(dev_env, task_queue, assets_file, sim, option,
                                                                       disabled, disposition):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(login(MALICIOUS_IP))  # the shipped trigger: label "authentication"
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, what="the prompt")
        [p] = v.pending_prompts
        assert (p.playbook, p.options, p.on_timeout) == ("suspicious_login", ["Disable Account", "Ignore"], "Ignore")
        assert [(t.kind, t.value) for t in p.targets] == [("user", "jdoe"), ("ip", MALICIOUS_IP)]
        assert sim.state()["effects"].get("active_directory", {}).get("disabled_users", []) == []
        await stack.answer(p.workflow_id, p.id, option)
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running")
    assert v.state.runs[0].status == "success"
    assert sim.state()["effects"].get("active_directory", {}).get("disabled_users", []) == disabled
    assert v.state.disposition == disposition and v.state.container.status == Status.OPEN
    comments = [c.text for c in v.state.comments]
    assert any(t.startswith("VirusTotal: 8/") and "AbuseIPDB:" in t for t in comments), comments


async def test_a_clean_login_is_resolved_without_asking(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(login(CLEAN_IP))
        v = await stack.result(r.container_id)
    assert v.state.container.status == Status.CLOSED and v.state.auto_resolved
    assert v.state.disposition == "False Positive - Benign Login"
    assert [x.action for x in v.state.runs[0].outcome.actions] == ["ip reputation", "ip reputation"]
