"""Phantom playbooks in the registry: what it carries, a trigger naming one, and a manual run through the
API whose prompt (with the manual run's id suffix) is answered over HTTP."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually
from tests.phantom.conftest import EXAMPLES, container, done, texts
from workflows.phantom.loader import sha256_of
from workflows.registry import PHANTOM_VERSIONS, PLAYBOOK_TYPES, PLAYBOOKS


def test_registry_carries_the_phantom_playbooks():
    for stem in ("brief_phishing_triage_automation", "brief_universal_alert_enrichment", "brief_containment_decision"):
        info = PLAYBOOKS[stem]
        assert (info.kind, info.workflow_type, PLAYBOOK_TYPES[stem]) == ("phantom", "PhantomPlaybook", "PhantomPlaybook")
        assert PHANTOM_VERSIONS[stem] == sha256_of((EXAMPLES / f"{stem}.py").read_text())
        assert info.version == PHANTOM_VERSIONS[stem][:12] and info.file == str(EXAMPLES / f"{stem}.py")
    assert {p.kind for n, p in PLAYBOOKS.items() if n == "phishing_triage_automation"} == {"native"}


async def test_a_trigger_starts_a_phantom_playbook(dev_env, task_queue, phantom_assets_file, tmp_path: Path, sim):
    triggers = tmp_path / "triggers.json"
    triggers.write_text(json.dumps([{"playbook_name": "brief_phishing_triage_automation",
                                     "trigger": {"type": "event_created", "conditions": {"label": ["phishing"]}},
                                     "active": True, "run_as": "automation_user"}]))
    async with run_stack(dev_env.client, task_queue, phantom_assets_file, triggers) as stack:
        r = await stack.start(container("phishing", {"requestURL": "https://intranet.example.com/ok"}))
        v = await stack.result(r.container_id)
    assert [run.playbook for run in v.state.runs] == ["brief_phishing_triage_automation"]
    assert v.state.runs[0].run_as == "automation_user"
    assert "URL clean: 0/90 engines flagged. Auto-closed." in texts(v)


async def test_manual_run_and_prompt_through_the_api(dev_env, task_queue, phantom_assets_file, sim):
    host = f"WORKSTATION-{uuid.uuid4().hex[:6].upper()}"
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                listed = {p["name"]: p for p in (await api.get("/api/v1/playbooks", headers=auth("tier1"))).json()}
                assert listed["brief_containment_decision"]["kind"] == "phantom"
                assert listed["brief_containment_decision"]["file"].endswith("brief_containment_decision.py")
                assert (listed["containment_decision"]["kind"], listed["containment_decision"]["file"]) == ("native", None)
                c = container("edr", {"sourceHostName": host, "sourceUserName": "jdoe", "sourceAddress": "10.9.9.9"},
                              {"fileHash": "deadbeef" + "5" * 56})
                r = await stack.start(c, playbooks=[])
                await stack.wait_for(r.container_id, lambda v: v.state.container.status is not None)
                started = await assert_eventually(lambda: api.post(f"/api/v1/containers/{r.container_id}/playbooks",
                                                      json={"playbook": "brief_containment_decision"},
                                                      headers=auth("tier2")))
                assert started.status_code == 202, started.text
                assert started.json()["workflow_id"].endswith("/manual-1")

                async def prompt():
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
                    return [p for p in rows if p["container_id"] == r.container_id]

                [p] = await assert_eventually(prompt)
                assert ".manual-1." in p["id"]
                assert p["policy"]["reminders"] == [0.5, 0.8], "a Phantom prompt has the deployment's reminders"
                ok = await api.post(f"/api/v1/prompts/{p['id']}/response", json={"option": "Isolate Host"},
                                    headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
                v = await stack.wait_for(r.container_id, done)
    assert host in sim.state()["effects"]["crowdstrike"]["contained"]
    assert "Analyst approved: Isolate Host" in texts(v)


async def test_rest_playbook_run_starts_a_phantom_playbook(dev_env, task_queue, phantom_assets_file, sim):
    """Splunk SOAR's `POST /rest/playbook_run` with a Phantom playbook's name (or `repo/name`), then
    `GET /rest/playbook_run/<id>` until it finishes."""
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                r = await stack.start(container("phishing", {"requestURL": "https://intranet.example.com/ok"}),
                                      playbooks=[])
                await stack.wait_for(r.container_id, lambda v: v.state.container.status is not None)
                started = await assert_eventually(lambda: api.post("/rest/playbook_run", json={
                    "container_id": r.container_id, "playbook_id": "local/brief_phishing_triage_automation",
                    "scope": "all", "run": True}, headers=auth("tier2")))
                assert started.status_code == 200, started.text
                run_id = started.json()["playbook_run_id"]

                async def finished():
                    row = await api.get(f"/rest/playbook_run/{run_id}", headers=auth("tier1"))
                    return row.json() if row.status_code == 200 and row.json()["status"] != "running" else None
                row = await assert_eventually(finished, within=60)
    assert row["status"] == "success" and row["playbook"] == "brief_phishing_triage_automation", row
