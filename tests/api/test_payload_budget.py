"""The payload budget over HTTP on the real stack: a 2 MB e-mail with 500 long URLs is triaged with what does
not fit stored aside (listed in the 202, readable at its URL); an artifact whose CEF value is a list of
230 × 8 KB strings keeps a reference, not the list, so no playbook input carries it."""

from __future__ import annotations

import json
import uuid

from temporalio.api.enums.v1 import EventType

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually

BUDGET = 256 * 1024


def _two_megabyte_mail() -> bytes:
    urls = "\n".join(f"https://h{i}.phish.example/{'p' * 4000}" for i in range(500))
    head = (f"From: Billing <billing@phish.example>\r\nTo: victim@corp.example\r\nSubject: Invoice\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@phish.example>\r\nContent-Type: text/plain\r\n\r\n")
    return (head + urls).encode()


async def _history_bytes(client, wid: str) -> int:
    history = await client.get_workflow_handle(wid).fetch_history()
    started = next(e for e in history.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)
    return started.ByteSize()


async def test_a_two_megabyte_email_is_triaged_with_the_rest_stored_aside(dev_env, task_queue, assets_file, sim,
                                                                          tmp_path):
    raw = _two_megabyte_mail()
    assert len(raw) > 2_000_000
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data"})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                r = await api.post("/api/v1/ingest/email", content=raw,
                                   headers={**auth("automation"), "content-type": "message/rfc822"})
                assert r.status_code == 202, r.text
                acc = r.json()
                [aside] = [s for s in acc["stored_aside"] if s["what"].endswith("artifacts")]
                assert any("stored aside" in n and aside["sha256"] in n for n in acc["notes"])
                blob = await api.get(aside["url"], headers=auth("tier1"))
                assert blob.status_code == 200 and blob.headers["content-type"] == "application/json"
                set_aside = blob.json()
                assert (await api.get(aside["url"])).status_code == 401

                cid = acc["container_id"]
                v = await stack.wait_for(cid, lambda v: v.state.runs and v.state.runs[0].status != "running",
                                         timeout=120, what="the phishing run")
                kept = {a.cef["requestURL"] for a in v.state.container.artifacts if "requestURL" in a.cef}
                stored = {a["cef"]["requestURL"] for a in set_aside if "requestURL" in a["cef"]}
                assert kept and stored and not kept & stored
                assert len(kept | stored) == 500, "every URL is either in the container or stored aside"
                assert v.state.runs[0].playbook == "phishing_triage_automation"
                assert len(v.state.container.model_dump_json()) <= BUDGET
                assert await _history_bytes(dev_env.client, f"container/{cid}") < 2 * BUDGET

                missing = await api.get(f"/api/v1/blobs/{'0' * 64}", headers=auth("tier1"))
                assert missing.status_code == 404
                bad = await api.get("/api/v1/blobs/..%2F..%2Fetc%2Fpasswd", headers=auth("tier1"))
                assert bad.status_code in (404, 422)


async def test_a_huge_list_value_is_a_reference_in_every_playbook_input(dev_env, task_queue, assets_file, sim,
                                                                          tmp_path):
    values = [f"{i:03d}" + "x" * 8189 for i in range(230)]
    body = {"name": "notable with a huge field", "label": "notable", "source_data_identifier": uuid.uuid4().hex,
            "artifacts": [{"name": "Event", "cef": {"sourceAddress": "81.2.69.160", "rawEvents": values}}]}
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data"})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                r = await api.post("/api/v1/containers", json=body, headers=auth("automation"))
                assert r.status_code == 202, r.text
                [aside] = r.json()["stored_aside"]
                assert aside["what"] == 'artifact 1 ("Event") cef.rawEvents' and aside["bytes"] > 230 * 8192
                assert (await api.get(aside["url"], headers=auth("tier1"))).json() == values
                cid = r.json()["container_id"]
                v = await stack.wait_for(cid, lambda v: v.state.runs and v.state.runs[0].status != "running",
                                         timeout=60)

                async def child_input():
                    wid = v.state.runs[0].workflow_id
                    history = await dev_env.client.get_workflow_handle(wid).fetch_history()
                    return history.events[0].ByteSize()
                size = await assert_eventually(child_input)
    assert size < 64 * 1024, "the playbook's input carries the reference, not the 1.9 MB list"
    [event] = [a for a in v.state.container.artifacts if "rawEvents" in a.cef]
    assert event.cef["rawEvents"].startswith(f"[stored aside: sha256:{aside['sha256']}")
    assert len(json.dumps(event.cef)) < 1024
