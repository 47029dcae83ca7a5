"""Every option of the containment prompt against the simulator, as `make run` wires it: an EDR alert through
the API, Tier 2 answers over HTTP, the worker isolates the host (CrowdStrike) and disables the account (the
simulated Active Directory over LDAPS)."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually


def edr_body(host: str) -> dict:
    return {"name": "EDR: credential dumping", "label": "edr", "severity": "high",
            "source_data_identifier": f"edr-{uuid.uuid4().hex}",
            "artifacts": [{"name": "endpoint", "cef": {"sourceHostName": host, "sourceUserName": "CORP\\jdoe",
                                                       "sourceAddress": "10.1.2.3"}}]}


@pytest.mark.parametrize(("option", "isolated", "disabled"), [("Both", True, True), ("Disable Account", False, True),
                                                             ("Isolate Host", True, False)])
async def test_containment_prompt_options_take_effect(dev_env, task_queue, assets_file, sim, option: str,
                                                      isolated: bool, disabled: bool) -> None:
    host = f"WORKSTATION-{uuid.uuid4().hex[:6].upper()}"
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                r = await api.post("/api/v1/containers", json=edr_body(host), headers=auth("automation"))
                assert r.status_code == 202, r.text
                assert r.json()["playbooks"] == ["containment_decision"]
                cid = r.json()["container_id"]

                async def prompt():
                    rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
                    return [p for p in rows if p["container_id"] == cid]

                p = (await assert_eventually(prompt))[0]
                assert option in p["options"]
                answered = time.monotonic()
                ok = await api.post(f"/api/v1/prompts/{p['id']}/response", json={"option": option},
                                    headers=auth("tier2"))
                assert ok.status_code == 200, ok.text

                async def finished():
                    v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))).json()
                    return v if v["state"]["runs"][0]["status"] != "running" else None

                v = await assert_eventually(finished)
                took = time.monotonic() - answered
    effects = sim.state()["effects"]
    assert v["state"]["disposition"] == "True Positive - Escalated to IR", v["state"]["comments"]
    assert (host in effects.get("crowdstrike", {}).get("contained", [])) is isolated
    assert effects.get("active_directory", {}).get("disabled_users", []) == (["jdoe"] if disabled else [])
    assert took < 10, f"containment took {took:.1f}s after the answer"
    if disabled:
        change = effects["active_directory"]["modifications"][0]
        assert change["sAMAccountName"] == "jdoe" and change["changes"][0]["after"] == ["514"]
