"""Ingestion over HTTP through the real API into Temporal: a raw phishing email and a Splunk ES webhook."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack

EML = Path(__file__).parent.parent / "data" / "email" / "phishing_multipart.eml"


async def test_email_and_splunk_ingestion(dev_env, task_queue, assets_file, sim, tmp_path):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data"})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                raw = EML.read_bytes()
                r = await api.post("/api/v1/ingest/email", content=raw,
                                   headers={**auth("automation"), "content-type": "message/rfc822"})
                assert r.status_code == 202, r.text
                acc = r.json()
                assert acc["playbooks"] == ["phishing_triage_automation"]
                v = (await api.get(f"/api/v1/containers/{acc['container_id']}", headers=auth("tier1"))).json()
                c = v["state"]["container"]
                assert c["label"] == "phishing" and c["name"].startswith("Phishing: Overdue invoice INV-20931")
                urls = {a["cef"].get("requestURL") for a in c["artifacts"]} - {None}
                assert "http://login-verify.evil-portal.example/signin" in urls  # refanged hxxp + (.)
                assert any(u.startswith("https://northwind-payments.example/invoices/INV-20931") for u in urls)
                assert not any("hidden-in-comment" in u for u in urls)
                cef_all = [a["cef"] for a in c["artifacts"]]
                assert {"fromEmail": "billing@northwind-payments.example"}.items() <= next(
                    x for x in cef_all if "fromEmail" in x).items()
                assert any(x.get("sourceAddress") == "198.51.100.23" for x in cef_all)
                att = next(x for x in cef_all if x.get("fileName") == "INV-20931.pdf")
                assert len(att["fileHashSha256"]) == 64
                # the raw message stays outside workflow history: a reference and its hash
                digest = hashlib.sha256(raw).hexdigest()
                assert c["raw_sha256"] == digest and Path(c["raw_ref"]).read_bytes() == raw
                again = await api.post("/api/v1/ingest/email", content=raw,
                                       headers={**auth("automation"), "content-type": "message/rfc822"})
                assert again.json()["duplicate"] and again.json()["container_id"] == acc["container_id"]

                payload = {"result": {"src": "198.51.100.77", "dest": "10.2.2.9", "user": "jdoe", "count": "8",
                                      "rule_name": "Brute Force Access Behavior Detected", "urgency": "high"},
                           "sid": f"scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5{uuid.uuid4().hex}",
                           "results_link": "https://splunk:8000/app/SplunkEnterpriseSecuritySuite/@go?sid=x",
                           "search_name": "Access - Brute Force Access Behavior Detected - Rule",
                           "owner": "admin", "app": "SplunkEnterpriseSecuritySuite"}
                assert (await api.post("/api/v1/ingest/splunk", json=payload)).status_code == 401
                r = await api.post("/api/v1/ingest/splunk", params={"token": "demo-automation-token"}, json=payload)
                assert r.status_code == 202, r.text
                sp = r.json()
                assert sp["playbooks"] == ["universal_alert_enrichment"]
                v = (await api.get(f"/api/v1/containers/{sp['container_id']}", headers=auth("tier1"))).json()
                c = v["state"]["container"]
                assert c["label"] == "notable" and c["severity"] == "high"
                notable = next(a["cef"] for a in c["artifacts"] if "sourceAddress" in a["cef"])
                assert notable["sourceAddress"] == "198.51.100.77" and notable["destinationAddress"] == "10.2.2.9"
                assert notable["sourceUserName"] == "jdoe"
                bad = await api.post("/api/v1/ingest/splunk", params={"token": "demo-automation-token"},
                                     json={"result": "nope"})
                assert bad.status_code == 422 and "result" in bad.json()["detail"]
                junk = await api.post("/api/v1/ingest/email", content=b"\x00\x01\x02 not a mail",
                                      headers={**auth("automation"), "content-type": "message/rfc822"})
                assert junk.status_code == 422


async def test_hostile_ingestion_over_http(dev_env, task_queue, assets_file, sim, tmp_path):
    """Content decides dedup, and input that used to raise (RecursionError, giant headers) is 202 or 422, never 500."""
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data"})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                hdrs = {**auth("automation"), "content-type": "message/rfc822"}
                mid = f"<{uuid.uuid4().hex}@sender.example>"

                def mail(body: str, extra: str = "") -> bytes:
                    return f"From: a@sender.example\r\nSubject: s\r\nMessage-ID: {mid}\r\n{extra}\r\n{body}".encode()

                benign = await api.post("/api/v1/ingest/email", content=mail("Lunch?"), headers=hdrs)
                hostile = await api.post("/api/v1/ingest/email", content=mail("https://evil.example/x"),
                                         headers=hdrs)
                assert benign.status_code == hostile.status_code == 202, hostile.text
                assert not hostile.json()["duplicate"]
                assert hostile.json()["container_id"] != benign.json()["container_id"]
                again = await api.post("/api/v1/ingest/email", content=mail("Lunch?"), headers=hdrs)
                assert again.json()["duplicate"] and again.json()["container_id"] == benign.json()["container_id"]

                parens = await api.post("/api/v1/ingest/email", headers=hdrs,
                                        content=b"From: " + b"(" * 496 + b"\r\nSubject: p\r\n\r\nhttp://p.example/")
                assert parens.status_code == 202, parens.text
                giant = await api.post("/api/v1/ingest/email", headers=hdrs,
                                       content=mail("x", "Subject: " + "A" * 3_000_000 + "\r\n" +
                                                    "".join(f"X-H{i}: v\r\n" for i in range(50_000))))
                assert giant.status_code == 202, giant.text

                token = {"token": "demo-automation-token"}
                deep = await api.post("/api/v1/ingest/splunk", params=token, content=b"[" * 50_000 + b"]" * 50_000,
                                      headers={"content-type": "application/json"})
                assert deep.status_code == 422 and deep.json()["detail"].startswith("body: JSON nested too deeply")
                big_int = await api.post("/api/v1/ingest/splunk", params=token,
                                         content=b'{"sid": "s", "result": {"count": ' + b"9" * 5000 + b"}}",
                                         headers={"content-type": "application/json"})
                assert big_int.status_code == 422 and big_int.json()["detail"].startswith("body: not valid JSON")
