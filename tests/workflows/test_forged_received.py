"""An IP that came only from a Received: header a sender can forge is never blocked without an analyst's
approval: the playbook asks (Approve/Deny, Deny on timeout) for exactly that block, the activity verifies the
approval, and a hop written by one of our relays needs no question. Real API, real worker, simulator."""

from __future__ import annotations

import json
import uuid

import pytest

from core.models import Status
from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack

FORGED_IP, RELAYED_IP = "198.51.100.66", "198.51.100.67"  # the simulator's VirusTotal: 8 engines each (> 3)


def reported(hops: str) -> bytes:
    return (f"{hops}From: Billing <billing@northwind.example>\r\nTo: ap@corp.example\r\nSubject: Remittance\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@northwind.example>\r\n\r\nPlease see the remittance advice.\r\n"
            ).encode()


def blocked(sim) -> list[str]:
    return sorted(sim.state()["effects"].get("panos", {}).get("blocked_ips", []))


async def _ingest(api, raw: bytes) -> str:
    r = await api.post("/api/v1/ingest/email", content=raw,
                       headers={**auth("automation"), "content-type": "message/rfc822"})
    assert r.status_code == 202, r.text
    return r.json()["container_id"]


@pytest.mark.parametrize(("option", "expect_blocked"), [("Deny", []), ("Approve", [FORGED_IP])])
async def test_a_forged_received_ip_is_blocked_only_with_an_approval(dev_env, task_queue, assets_file, sim, tmp_path,
                                                                     option, expect_blocked):
    forged = f"Received: from [{FORGED_IP}] (helo=mail.northwind.example) by smtp.northwind.example;\r\n" \
             f"\tTue, 07 May 2024 09:13:50 +0000\r\n"
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data"})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                cid = await _ingest(api, reported(forged))
                v = await stack.wait_for(cid, lambda v: v.pending_prompts, what="the approval prompt")
                [p] = v.pending_prompts
                assert (p.options, p.on_timeout, p.role) == (["Approve", "Deny"], "Deny", "soc_tier2")
                assert FORGED_IP in p.message and "Received: header" in p.message
                assert [a.model_dump() for a in p.authorizes["Approve"]] == [
                    {"action": "block ip", "target": FORGED_IP, "connector": "panos"}]
                assert blocked(sim) == [], "nothing is blocked while the analyst decides"
                r = await api.post(f"/api/v1/prompts/{p.id}/response", json={"option": option},
                                   headers=auth("tier2"))
                assert r.status_code == 200, r.text
                v = await stack.wait_for(cid, lambda v: v.state.runs[0].status != "running")
                report = (await api.get(f"/api/v1/containers/{cid}/report", headers=auth("tier1"))).text
    assert blocked(sim) == expect_blocked
    actions = [(a.action, a.status) for a in v.state.runs[0].outcome.actions]
    if option == "Deny":
        assert ("block ip", "skipped") in actions and "Not run:" in report
        assert any("was not run: bob chose Deny" in c.text for c in v.state.comments)
    else:
        assert ("block ip", "success") in actions
    assert v.state.container.status == Status.OPEN


async def test_an_ip_our_relay_recorded_is_blocked_without_asking(dev_env, task_queue, assets_file, sim, tmp_path):
    rails = tmp_path / "guardrails.json"
    rails.write_text(json.dumps({"trusted_relays": ["mail.corp.example"]}))
    ours = f"Received: from out.northwind.example (out.northwind.example [{RELAYED_IP}]) by mail.corp.example " \
           f"with ESMTPS;\r\n\tTue, 07 May 2024 09:14:03 +0000\r\n"
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        settings = stack.settings.model_copy(update={"data_dir": tmp_path / "data", "guardrails_file": rails})
        with run_api(settings, dev_env.client) as base:
            async with http(base) as api:
                cid = await _ingest(api, reported(ours))
                v = await stack.wait_for(cid, lambda v: v.state.runs and v.state.runs[0].status != "running",
                                         what="the run")
    assert [a.provenance for a in v.state.container.artifacts if a.cef.get("sourceAddress")] == [
        "received_header_trusted"]
    assert not any(a.kind == "prompt" for a in v.state.runs[0].outcome.actions)
    assert blocked(sim) == [RELAYED_IP]
