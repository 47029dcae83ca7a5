"""The API over HTTP against the real stack (dev server, worker, simulator): ingestion, roles, prompts, report."""

from __future__ import annotations

import uuid

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually

MAL_HASH = "deadbeef" + "1" * 56


def phishing_body(**extra) -> dict:
    return {
        "name": "Reported phishing: invoice", "label": "phishing", "severity": "medium",
        "source_data_identifier": f"api-{uuid.uuid4().hex}",
        "artifacts": [
            {"name": "url", "cef": {"requestURL": "https://intranet.example.com/ok"}},
            {"name": "attachment", "cef": {"fileHash": MAL_HASH, "fileName": "invoice.pdf.exe"}},
            {"name": "endpoint", "cef": {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe"}},
        ],
        **extra,
    }


async def test_ingest_prompt_and_report_over_http(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                body = phishing_body()
                assert (await api.post("/api/v1/containers", json=body)).status_code == 401
                assert (await api.post("/api/v1/containers", json=body, headers=auth("tier1"))).status_code == 403
                r = await api.post("/api/v1/containers", json=body, headers={"ph-auth-token": "demo-automation-token"})
                assert r.status_code == 202, r.text
                acc = r.json()
                assert acc["playbooks"] == ["phishing_triage_automation"] and not acc["duplicate"]
                cid = acc["container_id"]
                again = await api.post("/api/v1/containers", json=body, headers=auth("automation"))
                assert again.status_code == 202 and again.json()["duplicate"] and again.json()["container_id"] == cid

                async def prompt_listed():
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier1"))).json()["data"]
                    return [p for p in rows if p["container_id"] == cid]
                p = (await assert_eventually(prompt_listed))[0]
                assert p["role"] == "soc_tier2" and 0 < p["time_left_s"] <= 900

                async def container_listed():
                    params = {"label": "phishing", "playbook": "phishing_triage_automation", "page_size": 500}
                    rows = (await api.get("/api/v1/containers", params=params, headers=auth("tier1"))).json()["data"]
                    return [c for c in rows if c["id"] == cid and c["awaiting_prompt"]]
                row = (await assert_eventually(container_listed))[0]
                assert (row["label"], row["playbooks"], row["auto_resolved"], row["closed"]) == (
                    "phishing", ["phishing_triage_automation"], False, None)
                assert row["severity"] in ("high", "medium", "low") and row["status"] in ("new", "open")
                assert row["created"]
                url = f"/api/v1/prompts/{p['id']}/response"
                assert (await api.post(url, json={"option": "Isolate Host"}, headers=auth("tier1"))).status_code == 403
                bad = await api.post(url, json={"option": "Wipe Disk"}, headers=auth("tier2"))
                assert bad.status_code == 422 and "not offered" in bad.json()["detail"]
                assert (await api.post("/api/v1/prompts/SOAR-NOPE.x.1/response", json={"option": "Both"},
                                       headers=auth("tier2"))).status_code == 404
                ok = await api.post(url, json={"option": "Isolate Host", "comment": "confirmed"}, headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
                assert "isolate WORKSTATION-042" in ok.json()["next_step"]
                retry = await api.post(url, json={"option": "Isolate Host", "comment": "confirmed"},
                                       headers=auth("tier2"))
                assert retry.status_code == 200  # idempotent
                other = await api.post(url, json={"option": "Both"}, headers=auth("manager"))
                assert other.status_code == 409

                async def finished():
                    v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))).json()
                    return v if v["state"]["runs"][0]["status"] != "running" else None
                v = await assert_eventually(finished)
                assert v["state"]["disposition"] == "True Positive - Escalated to IR"
                assert any(c["text"].startswith('bob answered "Isolate Host"') and c["text"].endswith(": confirmed")
                           for c in v["state"]["comments"])
                assert "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"]["contained"]
                assert sim.state()["effects"]["crowdstrike"]["contain_calls"]["WORKSTATION-042"] == 1

                rep = await api.get(f"/api/v1/containers/{cid}/report", headers=auth("tier1"))
                assert rep.status_code == 200 and rep.headers["content-type"].startswith("text/plain")
                text = rep.text
                assert "SOAR PLAYBOOK EXECUTION REPORT" in text and cid in text
                assert "Quarantine Device (CrowdStrike) - WORKSTATION-042 isolated" in text
                assert 'Response: "Isolate Host"' in text
                js = await api.get(f"/api/v1/containers/{cid}/report", headers={**auth("tier1"),
                                                                                 "Accept": "application/json"})
                assert js.status_code == 200 and js.json()["container_id"] == cid

                # analyst changes over HTTP are recorded with the user
                c = await api.post(f"/api/v1/containers/{cid}/comments", json={"text": "handing to IR"},
                                   headers=auth("tier2"))
                assert c.status_code == 200
                assert c.json()["state"]["comments"][-1]["author"] == "bob"
                closed = await api.patch(f"/api/v1/containers/{cid}", json={"status": "closed"}, headers=auth("tier2"))
                assert closed.status_code == 200
                late = await api.post(f"/api/v1/containers/{cid}/comments", json={"text": "x"}, headers=auth("tier2"))
                assert late.status_code in (404, 409)


async def test_bad_input_gets_clear_4xx(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                h = auth("automation")
                r = await api.post("/api/v1/containers", content=b"{not json", headers={**h, "content-type": "application/json"})
                assert r.status_code == 422
                r = await api.post("/api/v1/containers", json={"name": "x", "artifacts": [{"cef": {"sourceAddress": "999.1.1.1"}}]}, headers=h)
                assert r.status_code == 422 and "sourceAddress" in r.json()["detail"]
                r = await api.post("/api/v1/containers", json={"name": "x", "artifacts": [{"cef": {"fileHash": "xyz"}}] * 1}, headers=h)
                assert r.status_code == 422 and "fileHash" in r.json()["detail"]
                many = {"name": "x", "artifacts": [{"cef": {"sourceAddress": "10.0.0.1"}}] * 10_000}
                r = await api.post("/api/v1/containers", json=many, headers=h)
                assert r.status_code in (413, 422)
                r = await api.post("/api/v1/containers", content=b"x" * (11 * 1024 * 1024), headers={**h, "content-type": "application/json"})
                assert r.status_code == 413
                r = await api.get("/api/v1/containers/..%2F..%2Fetc%2Fpasswd", headers=auth("tier1"))
                assert r.status_code == 404
                r = await api.post("/api/v1/containers", json={"name": "x", "label": "bad'label"}, headers=h)
                assert r.status_code == 422
                r = await api.get("/api/v1/containers", params={"label": "x' OR 1=1"}, headers=auth("tier1"))
                assert r.status_code == 422
                ok = await api.post("/api/v1/containers", json={"name": "fine", "label": "misc"}, headers=h)
                assert ok.status_code == 202
                cid = ok.json()["container_id"]
                r = await api.post(f"/api/v1/containers/{cid}/playbooks", json={"playbook": "../../etc/passwd"}, headers=auth("tier2"))
                assert r.status_code == 422 and "unknown playbook" in r.json()["detail"]
                lst = await api.get("/api/v1/containers", params={"label": "misc"}, headers=auth("tier1"))
                assert lst.status_code == 200
