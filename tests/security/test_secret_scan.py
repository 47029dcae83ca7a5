"""No secret in Temporal history or in the logs.

Runs last (tests/security/conftest.py orders it): it plays a few real playbooks over the API (phishing
with a malicious URL -> VirusTotal, PAN-OS, ServiceNow; a malicious attachment -> analyst prompt ->
CrowdStrike containment; a vendor answering 401), then fetches EVERY workflow history the session's
dev server holds (this run's and those of every test before it) and searches the raw history, every
payload as stored and every payload decrypted, and every log record of the session, for every secret
we configure: the simulator's demo credentials, each SecretStr of the example assets, the Basic-auth
headers they make, the API tokens, the CrowdStrike bearer tokens issued during the run and the test
encryption keys.
"""

from __future__ import annotations

import base64
import logging
import uuid
from urllib.parse import quote

import httpx
import pytest

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually
from tests.security.conftest import KEY_B64, OLD_KEY_B64, SESSION_LOGS, make_codec
from tests.security.scan import all_histories, configured_secrets, find_secrets

MAL_HASH = "deadbeef" + "3" * 56


def body(tag: str, *cefs: dict[str, str]) -> dict:
    return {"name": f"Secret scan {tag}", "label": "phishing", "severity": "medium",
            "source_data_identifier": f"scan-{tag}-{uuid.uuid4().hex}",
            "artifacts": [{"name": f"a{i}", "cef": c} for i, c in enumerate(cefs)]}


async def finished(api: httpx.AsyncClient, cid: str) -> dict:
    async def check():
        v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))).json()
        runs = v["state"]["runs"]
        return v if runs and all(r["status"] != "running" for r in runs) else None
    return await assert_eventually(check, within=60.0)


async def ingest(api: httpx.AsyncClient, payload: dict) -> str:
    r = await api.post("/api/v1/containers", json=payload, headers=auth("automation"))
    assert r.status_code == 202, r.text
    return r.json()["container_id"]


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record at DEBUG and up, from every logger, while this test runs."""
    caplog.set_level(logging.DEBUG)
    return caplog


async def test_no_secret_in_any_history_or_log(dev_env, task_queue, assets_file, sim, all_logs):
    tokens_seen: dict[str, str] = {}
    answers: list[tuple[str, bytes]] = []  # API answers, scanned too
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                # 1. phishing, malicious URL: VirusTotal, PAN-OS block (keygen with the password), ServiceNow ticket
                url = f"http://malicious-{uuid.uuid4().hex[:6]}.example/login"
                c1 = await ingest(api, body("url", {"requestURL": url}))
                # 2. phishing, malicious attachment on a host: prompt -> Isolate Host -> CrowdStrike (OAuth2)
                c2 = await ingest(api, body("hash", {"fileHash": MAL_HASH},
                                            {"sourceHostName": "WORKSTATION-SCAN7", "sourceUserName": "jscan"}))

                async def prompt():
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
                    return [p for p in rows if p["container_id"] == c2]
                p = (await assert_eventually(prompt, within=60.0))[0]
                ok = await api.post(f"/api/v1/prompts/{p['id']}/response", json={"option": "Isolate Host"},
                                    headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
                v1, v2 = await finished(api, c1), await finished(api, c2)
                assert v1["state"]["disposition"] == "True Positive - Escalated to Tier 2"
                assert v2["state"]["disposition"] == "True Positive - Escalated to IR"
                effects = sim.state()["effects"]
                assert effects["servicenow"]["incidents"] and effects["panos"]["blocked_urls"]
                assert "WORKSTATION-SCAN7" in effects["crowdstrike"]["contained"]
                # 3. a vendor rejecting the key: the error path (messages, failures) must not carry it either
                sim.fault(vendor="virustotal", status=401, count=10)
                c3 = await ingest(api, body("fail", {"requestURL": "https://intranet.example.com/x"}))
                v3 = await finished(api, c3)
                assert any(c["text"].startswith("Lookup failed") for c in v3["state"]["comments"])
                # the connectivity tests answer with vendor messages too
                for asset in ("virustotal", "crowdstrike", "pan_fw", "servicenow"):
                    t = await api.post(f"/api/v1/assets/{asset}/test", headers=auth("tier2"))
                    assert t.status_code == 200, t.text
                    answers.append((f"POST /api/v1/assets/{asset}/test", t.content))
                answers.append(("GET /api/v1/assets", (await api.get("/api/v1/assets", headers=auth("tier1"))).content))
                for cid in (c1, c2, c3):
                    for path in (f"/api/v1/containers/{cid}", f"/api/v1/containers/{cid}/report"):
                        answers.append((f"GET {path}", (await api.get(path, headers=auth("tier1"))).content))
        falcon = stack.store.client(stack.store.get("crowdstrike"))  # the one the containment used
        token = getattr(falcon, "_token", None)
        if token:
            tokens_seen["CrowdStrike bearer token"] = token
    assert tokens_seen, "the CrowdStrike client kept no token: the containment did not authenticate?"

    secrets = configured_secrets(assets_file, {**tokens_seen, "test encryption key": KEY_B64,
                                               "old test encryption key": OLD_KEY_B64})
    # control: a canary in a workflow input must be found by the same pipeline (list, fetch, decode)
    canary = f"canary-{uuid.uuid4().hex}"
    canary_wf = await dev_env.client.start_workflow("SecretScanCanary", {"note": canary}, id=f"canary/{canary}",
                                                    task_queue=f"canary-{uuid.uuid4().hex[:8]}")
    try:
        dumps = await all_histories(dev_env.client, make_codec())
    finally:
        await canary_wf.terminate("secret scan control")
    mine = {d.workflow_id for d in dumps if any(c in d.workflow_id for c in (c1, c2, c3))}
    assert len(mine) >= 5, f"this test's workflows are not all listed: {sorted(mine)}"
    hits = [f"{h} of {d.workflow_id}" for d in dumps for h in find_secrets(d.blobs(), {**secrets, "canary": canary})]
    canary_hits = [h for h in hits if h.startswith("canary ")]
    assert canary_hits and all(h.endswith(f"of canary/{canary}") for h in canary_hits), hits
    hits = [h for h in hits if h not in canary_hits]
    assert not hits, "secrets in Temporal history:\n" + "\n".join(hits[:50])
    hits = find_secrets(answers, secrets)
    assert not hits, "secrets in API answers:\n" + "\n".join(hits)

    mine_logs = [(f"log record {r.name}:{r.lineno}", f"{r.getMessage()}\n{r.__dict__!r}".encode())
                 for r in all_logs.records]
    assert mine_logs, "no log record was captured"
    mine_logs.append(("formatted log text", all_logs.text.encode()))
    session_logs = [(f"session log #{i}", t.encode()) for i, t in enumerate(SESSION_LOGS.texts)]
    hits = find_secrets(mine_logs + session_logs, secrets)
    assert not hits, "secrets in the logs:\n" + "\n".join(sorted(set(hits))[:50])


def test_the_scan_finds_a_planted_secret(assets_file):
    """The scanner itself works: a secret in any of its forms is found."""
    secrets = configured_secrets(assets_file)
    vt = secrets["env VT_API_KEY"]
    for blob in (vt.encode(), base64.b64encode(vt.encode()), quote(vt, safe="").encode(), b"x" + vt.encode()):
        assert "env VT_API_KEY in planted" in find_secrets([("planted", blob)], secrets)
    assert find_secrets([("clean", b"nothing to see")], secrets) == []
    assert any(k.startswith("asset crowdstrike.client_secret") for k in secrets)
