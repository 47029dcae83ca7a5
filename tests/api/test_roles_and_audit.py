"""Roles per operation over HTTP for every mutating route, delegation and withdrawal of approvals, and the
audit trail (`GET /api/v1/audit`), against the real stack."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.helpers.api import auth, http, run_api
from tests.helpers.config import example_assets, write_assets
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually


def edr_body(host: str = "WORKSTATION-042", user: str = "jdoe") -> dict[str, Any]:
    return {"name": "EDR: credential dumping", "label": "edr", "severity": "high",
            "source_data_identifier": f"edr-{uuid.uuid4().hex}",
            "artifacts": [{"name": "host", "cef": {"sourceHostName": host, "sourceUserName": user}}]}


async def start_with_prompt(api: Any) -> tuple[str, dict[str, Any]]:
    cid = (await api.post("/api/v1/containers", json=edr_body(), headers=auth("automation"))).json()["container_id"]

    async def listed():
        rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
        return [p for p in rows if p["container_id"] == cid]
    return cid, (await assert_eventually(listed, within=60))[0]


async def test_role_matrix_of_every_mutating_route(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file, prompt_reminders=[]) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                cid, _ = await start_with_prompt(api)
                url = f"/api/v1/containers/{cid}"
                expect = [  # (method, path, body, who, status)
                    ("POST", f"{url}/comments", {"text": "looking"}, "tier1", 200),
                    ("PATCH", url, {"severity": "low"}, "tier1", 403),
                    ("PATCH", url, {"disposition": "False Positive"}, "tier1", 403),
                    ("PATCH", url, {"owner": "alice"}, "tier1", 200),
                    ("POST", f"{url}/artifacts", {"artifacts": [{"cef": {"sourceUserName": "krbtgt"}}]}, "tier1", 200),
                    ("POST", f"{url}/playbooks", {"playbook": "containment_decision"}, "tier1", 403),
                    ("POST", f"{url}/playbooks", {"playbook": "universal_alert_enrichment"}, "tier1", 202),
                    ("PATCH", url, {"status": "closed"}, "tier1", 403),  # a soc_tier2 prompt waits
                    ("PATCH", url, {"severity": "medium"}, "tier2", 200),
                    ("PATCH", url, {"disposition": "True Positive"}, "tier2", 200),
                    ("POST", f"{url}/playbooks", {"playbook": "containment_decision"}, "automation", 403),
                ]
                for method, path, body, who, status in expect:
                    r = await api.request(method, path, json=body, headers=auth(who))
                    assert r.status_code == status, (method, path, body, who, r.status_code, r.text)
                    if status == 403 and who != "automation":
                        assert "lacks a role allowed to" in r.text or "waits for soc_tier2" in r.text
                r = await api.patch(url, json={"status": "closed"}, headers=auth("tier2"))
                assert r.status_code == 200
                reopen = await api.patch(url, json={"status": "open"}, headers=auth("tier1"))
                assert reopen.status_code == 403 and "reopen" in reopen.text
                assert (await api.patch(url, json={"status": "open"}, headers=auth("tier2"))).status_code == 200

                async def refused():
                    rows = (await api.get("/api/v1/audit", params={"container": cid, "kind": "operation_refused"},
                                          headers=auth("manager"))).json()["data"]
                    return rows if len(rows) >= 4 else None  # severity, disposition, containment run, close
                rows = await assert_eventually(refused, within=30)
                assert {r["actor"] for r in rows} == {"alice"}
                assert all(r["outcome"] == "refused" for r in rows)
                assert (await api.get("/api/v1/audit", headers=auth("tier2"))).status_code == 403



async def test_delegation_and_withdrawal(dev_env, task_queue, tmp_path, sim):
    assets = example_assets(sim.url, sim.ldap_port)
    cs = next(a for a in assets if a["asset_name"] == "crowdstrike")
    cs["configuration"]["approval_quorum"] = {"quarantine device": 2}
    path = write_assets(tmp_path / "assets.json", assets)
    async with run_stack(dev_env.client, task_queue, path, prompt_reminders=[]) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                cid, p = await start_with_prompt(api)
                resp, deleg, withdraw = (f"/api/v1/prompts/{p['id']}/{x}" for x in ("response", "delegate", "withdraw"))
                one = await api.post(resp, json={"option": "Isolate Host"}, headers=auth("tier2"))
                assert one.status_code == 200 and one.json()["decided"] is False and one.json()["approvals"] == 1
                w = await api.post(withdraw, headers=auth("tier2"))
                assert w.status_code == 200 and "withdrawn" in w.json()["next_step"] and w.json()["approvals"] == 0
                assert (await api.post(withdraw, headers=auth("tier2"))).status_code == 409  # nothing left to take back
                # bob hands the prompt to carol: from then on bob may not answer
                bad = await api.post(deleg, json={"to": "alice"}, headers=auth("tier2"))
                assert bad.status_code == 403 and "does not hold soc_tier2" in bad.text
                d = await api.post(deleg, json={"to": "carol"}, headers=auth("tier2"))
                assert d.status_code == 200 and d.json()["next_step"] == "handed to carol"
                refused = await api.post(resp, json={"option": "Isolate Host"}, headers=auth("tier2"))
                assert refused.status_code == 403 and "handed to carol" in refused.text
                c1 = await api.post(resp, json={"option": "Isolate Host"}, headers=auth("manager"))
                assert c1.status_code == 200 and c1.json()["approvals"] == 1  # carol: 1 of 2

                async def kinds():
                    v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier2"))).json()
                    return [a["kind"] for a in v["state"]["audit"]] if len(v["state"]["audit"]) >= 5 else None
                seen = await assert_eventually(kinds, within=30)
                for k in ("approval_recorded", "approval_withdrawn", "prompt_delegated", "answer_refused"):
                    assert k in seen, (k, seen)
                assert sim.state()["effects"].get("crowdstrike", {}).get("contained", []) == []


async def test_a_stopped_worker_makes_reads_say_so_instead_of_hanging(dev_env, task_queue, assets_file, sim):
    """A query needs a worker: with the worker gone, the container page is a 503 that says to start one, and the
    audit trail answers at once, naming the containers it could not read (their events are not silently gone)."""
    async with run_stack(dev_env.client, task_queue, assets_file, prompt_reminders=[]) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                cid, _ = await start_with_prompt(api)
                r = await api.patch(f"/api/v1/containers/{cid}", json={"severity": "low"}, headers=auth("tier1"))
                assert r.status_code == 403  # an operation_refused event: the container is in the audit window
    with run_api(stack.settings, dev_env.client) as base:  # the worker has stopped; the API runs on
        async with http(base) as api:
            t = time.monotonic()
            r = await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))
            assert r.status_code == 503 and "worker" in r.json()["detail"], r.text
            r = await api.get("/api/v1/audit", params={"container": cid}, headers=auth("manager"))
            assert r.status_code == 200 and r.json()["unread"] == [cid], r.text
            assert time.monotonic() - t < 28  # the query deadline (10 s) and the audit deadline (10 s), not 30 s+
