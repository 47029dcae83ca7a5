"""Splunk SOAR's REST API as its integrations use it (the `requests` library, `ph-auth-token`, numeric ids):
`/rest/container`, `/rest/artifact`, `/rest/playbook_run`, against the real stack over HTTP."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import requests

from tests.helpers.api import TOKENS, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually

H = {"ph-auth-token": TOKENS["automation"]}
ANALYST = {"ph-auth-token": TOKENS["tier2"]}


def call(method: str, url: str, **kw: Any) -> requests.Response:
    return requests.request(method, url, timeout=30, **kw)


async def rest(method: str, url: str, **kw: Any) -> requests.Response:
    """A blocking `requests` call, as an integration makes it (off the test's event loop)."""
    return await asyncio.to_thread(call, method, url, **kw)


def lookups(sim: Any) -> dict[str, int]:
    return sim.state()["effects"].get("virustotal", {}).get("lookups", {})


async def test_an_integration_posts_containers_and_artifacts_and_runs_a_playbook(dev_env, task_queue, assets_file,
                                                                                sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            sdi = f"splunk-notable-{uuid.uuid4().hex}"
            # 1. the container, no artifacts yet, automation held back (as Splunk's apps do)
            r = await rest("POST", f"{base}/rest/container", headers=H, json={
                "name": "Notable: suspicious login", "label": "phishing", "severity": "High",
                "sensitivity": "amber", "source_data_identifier": sdi, "run_automation": False,
                "custom_fields": {}, "data": {"sid": "1234"}, "kill_chain": "Delivery"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["success"] is True and isinstance(body["id"], int)
            num = body["id"]
            # 2. artifacts: run_automation false on all but the last
            url1, url2 = "http://malicious-rest.example/login", "https://intranet.example.com/rest-ok"
            a1 = await rest("POST", f"{base}/rest/artifact", headers=H, json={
                "container_id": num, "name": "URL", "label": "event", "cef": {"requestURL": url1},
                "cef_types": {"requestURL": ["url"]}, "source_data_identifier": "a1", "run_automation": False})
            assert a1.status_code == 200 and a1.json()["success"] is True, a1.text
            assert not any("malicious-rest" in k for k in lookups(sim))  # nothing runs yet
            a2 = await rest("POST", f"{base}/rest/artifact", headers=H, json={
                "container_id": num, "name": "URL", "label": "event", "cef": {"requestURL": url2},
                "run_automation": True})
            assert a2.status_code == 200 and a2.json()["playbooks"] == ["phishing_triage_automation"]
            # the same artifact again: Splunk's duplicate answer
            dup = await rest("POST", f"{base}/rest/artifact", headers=H, json={
                "container_id": num, "name": "URL", "label": "event", "cef": {"requestURL": url1},
                "cef_types": {"requestURL": ["url"]}, "source_data_identifier": "a1", "run_automation": False})
            assert dup.json() == {"failed": True, "message": "artifact already exists",
                                  "existing_artifact_id": a1.json()["id"]}

            async def triaged() -> dict[str, Any] | None:
                c = (await rest("GET", f"{base}/rest/container/{num}", headers=ANALYST)).json()
                return c if c.get("severity") == "high" and c["artifact_count"] == 2 else None
            c = await assert_eventually(triaged, within=60)
            assert c["id"] == num and c["source_data_identifier"] == sdi and c["label"] == "phishing"
            assert sum(n for k, n in lookups(sim).items() if "malicious-rest" in k) == 1  # both artifacts ran
            assert any("rest-ok" in k for k in lookups(sim))

            # 3. reading back in Splunk's list envelope, by numeric and by SOAR id
            arts = (await rest("GET", f"{base}/rest/container/{num}/artifacts",
                               params={"sort": "id", "order": "asc", "page_size": 0}, headers=ANALYST)).json()
            assert arts["count"] == 2 and arts["num_pages"] == 1
            assert {a["cef"]["requestURL"] for a in arts["data"]} == {url1, url2}
            assert {a["id"] for a in arts["data"]} == {a1.json()["id"], a2.json()["id"]}
            by_filter = (await rest("GET", f"{base}/rest/artifact", headers=ANALYST,
                                    params={"_filter_container_id": str(num),
                                            "_filter_cef__icontains": '"malicious"'})).json()
            assert by_filter["count"] == 1 and by_filter["data"][0]["cef"]["requestURL"] == url1
            soar_id = body["container_id"]
            assert (await rest("GET", f"{base}/rest/container/{soar_id}", headers=ANALYST)).json()["id"] == num
            missing = await rest("GET", f"{base}/rest/artifact", headers=ANALYST)
            assert missing.status_code == 400 and missing.json()["failed"] is True

            # 4. the same container again: Splunk's duplicate answer, and its new artifact is merged
            again = await rest("POST", f"{base}/rest/container", headers=H, json={
                "name": "Notable: suspicious login", "label": "phishing", "source_data_identifier": sdi,
                "artifacts": [{"cef": {"destinationAddress": "198.51.100.9"}, "name": "dest"}]})
            ag = again.json()
            assert ag["failed"] is True and ag["existing_container_id"] == num and "1 new artifact" in ag["message"]

            # 5. a playbook by name, as Splunk's REST API starts one
            run = await rest("POST", f"{base}/rest/playbook_run", headers=ANALYST, json={
                "container_id": num, "playbook_id": "local/universal_alert_enrichment", "scope": "all", "run": True})
            assert run.status_code == 200, run.text
            rid = run.json()["playbook_run_id"]
            assert run.json()["received"] is True and isinstance(rid, int)

            async def finished() -> dict[str, Any] | None:
                row = (await rest("GET", f"{base}/rest/playbook_run/{rid}", headers=ANALYST)).json()
                return row if row.get("status") in ("success", "failed") else None
            row = await assert_eventually(finished, within=60)
            assert row["status"] == "success" and row["playbook"] == "universal_alert_enrichment"
            assert row["id"] == rid and row["container"] == soar_id
            bad = await rest("POST", f"{base}/rest/playbook_run", headers=ANALYST,
                             json={"container_id": num, "playbook_id": "nope", "run": True})
            assert bad.status_code == 404 and bad.json()["failed"] is True and "universal_alert_enrichment" in \
                bad.json()["message"]


async def test_bad_requests_get_splunks_failure_envelope(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            r = await rest("POST", f"{base}/rest/container", headers=H, json={"label": "phishing"})
            assert r.status_code == 400 and r.json() == {"failed": True, "message": "name: Field required"}
            r = await rest("POST", f"{base}/rest/container", headers=H,
                           json={"name": "x", "artifacts": [{"cef": {"sourceAddress": "999.1.1.1"}}]})
            assert r.status_code == 400 and "sourceAddress" in r.json()["message"]
            r = await rest("POST", f"{base}/rest/artifact", headers=H, json={"container_id": 12345, "cef": {}})
            assert r.status_code == 404 and r.json()["failed"] is True
            r = await rest("POST", f"{base}/rest/artifact", headers=H, data=b"{not json")
            assert r.status_code == 400 and r.json() == {"failed": True, "message": "the body is not JSON"}
            r = await rest("POST", f"{base}/rest/container", json={"name": "x"})
            assert r.status_code == 401
            r = await rest("GET", f"{base}/rest/container/0", headers=ANALYST)
            assert r.status_code == 404 and r.json()["failed"] is True
