"""Palo Alto Networks firewall connector against the simulator over real HTTP, the real CLI, and an
independent server replaying documented PAN-OS XML API replies (including hostile ones)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from fastapi import FastAPI, Request, Response

from activities.panos import CONNECTOR
from core.config.assets import load_assets
from core.errors import (
    AuthError,
    InvalidParameter,
    RateLimited,
    VendorResponseError,
    VendorUnavailable,
)
from core.models import ActionResult
from core.settings import ROOT
from simulator.credentials import DEMO_ENV, PAN_API_KEY, PAN_PASSWORD
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Act = Callable[..., Awaitable[ActionResult]]
VSYS = "/config/devices/entry/vsys/entry[@name='vsys1']"


def pan_assets(sim_url: str, /, **conf: Any) -> list[dict[str, Any]]:
    """The example firewall asset (only it) at `sim_url`, fast commit polling; None removes a field."""
    assets = [a for a in example_assets(sim_url) if a["app"] == "Palo Alto Networks Firewall"]
    c = assets[0]["configuration"]
    c.update({"commit_poll_s": 0.02, **conf})
    for k in [k for k, v in c.items() if v is None]:
        del c[k]
    return assets


@pytest.fixture
def act(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run actions on one asset store per configuration (the client and its key live across calls)."""
    return connector_runner(CONNECTOR, lambda **conf: pan_assets(sim.url, **conf), asset="pan_fw")


def pan(sim: Any) -> dict[str, Any]:
    return sim.state()["effects"].get("panos", {})


def vsys(sim: Any, which: str = "running") -> Element:
    return fromstring(pan(sim)[which]).find("devices/entry/vsys/entry")


def names(node: Element, path: str) -> list[str]:
    return [e.get("name") for e in node.findall(path)]


def members(node: Element, path: str) -> list[str]:
    return [m.text for m in node.findall(f"{path}/member")]


def raw(sim: Any, **form: str) -> Element:
    """One XML API call of our own to the simulator (with the demo key)."""
    r = httpx.post(f"{sim.url}/panos/api/", data=form, headers={"X-PAN-KEY": PAN_API_KEY})
    return fromstring(r.content)


# --- happy paths -------------------------------------------------------------------------------------

async def test_test_connectivity(act: Act, sim: Any) -> None:
    r = await act("test connectivity")
    assert r.message == "Connected to PA-5260: hostname sim-fw-01, model PA-5260, PAN-OS 10.2.4"
    assert r.summary == {"hostname": "sim-fw-01", "model": "PA-5260", "sw_version": "10.2.4"}
    assert pan(sim)["keygens"] == 1 and sim.state()["calls"]["panos"] == 2


async def test_block_ip_lands_in_running_config(act: Act, sim: Any) -> None:
    r = await act("block ip", {"ip": "198.51.100.7"}, container_id="42")
    assert r.status == "success" and r.message == "Blocked on PA-5260"
    assert r.data[0]["address_name"] == "198.51.100.7 Added By SOAR" and r.data[0]["commit_job"] == "1"
    assert pan(sim)["blocked_ips"] == ["198.51.100.7"]
    assert pan(sim)["commits"] == [{"job": 1, "admins": ["admin"], "partial": True, "result": "OK"}]
    v = vsys(sim)
    addr = v.find("address/entry[@name='198.51.100.7 Added By SOAR']")
    assert addr.findtext("ip-netmask") == "198.51.100.7" and members(addr, "tag") == ["SOAR 42"]
    assert members(v.find("address-group/entry[@name='SOAR Network List']"), "static") == [
        "198.51.100.7 Added By SOAR"]
    rules = v.findall("rulebase/security/rules/entry")
    assert [e.get("name") for e in rules] == ["SOAR IP Security Policy", "Allow Outbound"]  # moved to top
    assert rules[0].findtext("action") == "deny" and members(rules[0], "destination") == ["SOAR Network List"]


async def test_block_twice_no_duplicate_and_no_second_commit(act: Act, sim: Any) -> None:
    await act("block ip", {"ip": "198.51.100.7"})
    again = await act("block ip", {"ip": " 198.51.100.7 "})
    assert again.status == "success" and again.message == "Already blocked on PA-5260"
    assert again.summary["already_blocked"] is True and len(pan(sim)["commits"]) == 1
    v = vsys(sim)
    assert names(v, "address/entry") == ["198.51.100.7 Added By SOAR"]
    assert members(v.find("address-group/entry"), "static") == ["198.51.100.7 Added By SOAR"]
    assert names(v, "rulebase/security/rules/entry").count("SOAR IP Security Policy") == 1


async def test_block_cidr_and_ipv6(act: Act, sim: Any) -> None:
    # A public /24 (a private /16 is refused by the guardrails: tests/activities/test_guardrails_actions.py).
    await act("block ip", {"ip": "198.51.100.5/24"})
    r = await act("block ip", {"ip": "2001:DB8::1"})
    assert r.data[0]["address_name"] == "2001-db8--1 Added By SOAR"
    assert pan(sim)["blocked_ips"] == ["198.51.100.0/24", "2001:db8::1"]
    assert "198.51.100.0 mask 24 Added By SOAR" in names(vsys(sim), "address/entry")


async def test_unblock_ip(act: Act, sim: Any) -> None:
    await act("block ip", {"ip": "198.51.100.7"})
    await act("block ip", {"ip": "198.51.100.8"})
    r = await act("unblock ip", {"ip": "198.51.100.7"})
    assert r.message == "Unblocked on PA-5260" and pan(sim)["blocked_ips"] == ["198.51.100.8"]
    assert names(vsys(sim), "address/entry") == ["198.51.100.8 Added By SOAR"]
    again = await act("unblock ip", {"ip": "198.51.100.7"})  # not blocked: not an error, no commit
    assert again.status == "success" and again.message == "Not blocked on PA-5260; nothing to remove"
    assert len(pan(sim)["commits"]) == 3
    await act("unblock ip", {"ip": "198.51.100.8"})  # the last one: group and rule go too
    v = vsys(sim)
    assert pan(sim)["blocked_ips"] == [] and names(v, "address/entry") == []
    assert names(v, "address-group/entry") == []
    assert names(v, "rulebase/security/rules/entry") == ["Allow Outbound"]
    assert [c["result"] for c in pan(sim)["commits"]] == ["OK"] * 4


async def test_block_and_unblock_url(act: Act, sim: Any) -> None:
    r = await act("block url", {"url": "https://Evil.Example.com/landing?id=7#top"})
    assert r.message == "Blocked on PA-5260" and r.data[0]["entry"] == "evil.example.com/landing"
    await act("block url", {"url": "http://bad.example.net"})
    assert pan(sim)["blocked_urls"] == ["bad.example.net/", "evil.example.com/landing"]
    cat = vsys(sim).find("profiles/custom-url-category/entry[@name='SOAR URL Category']")
    assert cat.findtext("type") == "URL List"
    again = await act("block url", {"url": "evil.example.com/landing"})
    assert again.message == "Already blocked on PA-5260" and len(pan(sim)["commits"]) == 2
    rule = vsys(sim).find("rulebase/security/rules/entry[@name='SOAR URL Security Policy']")
    assert members(rule, "category") == ["SOAR URL Category"] and rule.findtext("action") == "deny"
    r = await act("unblock url", {"url": "https://evil.example.com/landing"})
    assert r.message == "Unblocked on PA-5260" and pan(sim)["blocked_urls"] == ["bad.example.net/"]
    r = await act("unblock url", {"url": "https://evil.example.com/landing"})
    assert r.message == "Not blocked on PA-5260; nothing to remove"


async def test_commit_fail_is_reported_with_details(act: Act, sim: Any) -> None:
    # Someone left a dangling reference in the candidate config: the device refuses the commit.
    reply = raw(sim, type="config", action="set", xpath=f"{VSYS}/address-group/entry[@name='Legacy']",
                element="<static><member>ghost-host</member></static>")
    assert reply.get("status") == "success"
    with pytest.raises(VendorResponseError, match="finished with result FAIL.*'ghost-host' is not a valid"):
        await act("block ip", {"ip": "198.51.100.7"})
    assert pan(sim)["commits"][-1]["result"] == "FAIL" and pan(sim)["blocked_ips"] == []


async def test_nothing_to_commit_is_success(act: Act, sim: Any) -> None:
    await act("test connectivity")
    store = act.store()
    client = store.client(store.get("pan_fw"))
    outcome = await client.commit()
    assert outcome.job_id is None and outcome.message == "There are no changes to commit."
    assert pan(sim)["commits"] == []


async def test_api_key_only_asset_does_full_commit(act: Act, sim: Any) -> None:
    r = await act("block ip", {"ip": "192.0.2.44"}, username=None, password=None, api_key=PAN_API_KEY)
    assert r.message == "Blocked on PA-5260" and pan(sim)["keygens"] == 0
    assert pan(sim)["commits"] == [{"job": 1, "admins": [], "partial": False, "result": "OK"}]


async def test_unknown_vsys_is_vendor_response_error(act: Act, sim: Any) -> None:
    with pytest.raises(VendorResponseError, match="code 6 Bad Xpath"):
        await act("block ip", {"ip": "192.0.2.44"}, vsys="vsys9")


def test_activity_names_and_flags() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "panos.block_ip", "panos.unblock_ip", "panos.block_url", "panos.unblock_url",
        "panos.test_connectivity"}
    assert not CONNECTOR.find("block ip").read_only and CONNECTOR.find("test connectivity").read_only
    assert CONNECTOR.find("block url").target == "url"


# --- the key ------------------------------------------------------------------------------------------

async def test_key_cached_across_and_during_concurrent_actions(act: Act, sim: Any) -> None:
    await asyncio.gather(*(act("test connectivity") for _ in range(5)))
    await act("block ip", {"ip": "198.51.100.9"})
    assert pan(sim)["keygens"] == 1


async def test_rejected_cached_key_is_regenerated_once(act: Act, sim: Any) -> None:
    await act("test connectivity")
    sim.fault(vendor="panos", status=403, count=1, message="Invalid Credential")
    r = await act("block ip", {"ip": "198.51.100.7"})
    assert r.message == "Blocked on PA-5260" and pan(sim)["keygens"] == 2
    assert sim.state()["statuses"]["panos:403"] == 1


async def test_key_rejected_after_regeneration_is_auth_error(act: Act, sim: Any) -> None:
    await act("test connectivity")
    sim.fault(vendor="panos", status=403, count=3)
    with pytest.raises(AuthError, match="'pan_fw'"):
        await act("test connectivity")
    assert pan(sim)["keygens"] == 1  # the regeneration itself was refused; no loop


async def test_wrong_password_is_auth_error_naming_asset_without_secret(act: Act, sim: Any) -> None:
    bad = "wrong-pan-password-987"
    with pytest.raises(AuthError) as e:
        await act("block ip", {"ip": "198.51.100.7"}, password=bad)
    msg = str(e.value)
    assert "'pan_fw'" in msg and "Invalid Credential" in msg and "username/password" in msg
    assert bad not in msg and PAN_PASSWORD not in msg and sim.state()["calls"]["panos"] == 1


async def test_wrong_api_key_is_auth_error_without_keygen(act: Act, sim: Any) -> None:
    bad = "LUFRPT1Xcm9uZ0tleT09"
    with pytest.raises(AuthError, match="api_key") as e:
        await act("test connectivity", username=None, password=None, api_key=bad)
    assert bad not in str(e.value) and pan(sim)["keygens"] == 0 and sim.state()["calls"]["panos"] == 1


# --- errors -------------------------------------------------------------------------------------------

async def test_429_honours_retry_after(act: Act, sim: Any) -> None:
    sim.fault(vendor="panos", status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as e:
        await act("test connectivity")
    assert e.value.retryable and 6 <= e.value.retry_after.total_seconds() <= 7


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_vendor_unavailable(act: Act, sim: Any, status: int) -> None:
    await act("test connectivity")
    sim.fault(vendor="panos", status=status, count=1)
    with pytest.raises(VendorUnavailable, match=f"HTTP {status}") as e:
        await act("block ip", {"ip": "198.51.100.7"})
    assert e.value.retryable


@pytest.mark.parametrize("body,ctype", [
    ("<html><body>Gateway login</body></html>", "text/html"),
    ("<html><body>oops", "text/html"),
    ('<response status="success"><result><system><hostname>fw', "application/xml"),
])
async def test_malformed_body_is_vendor_response_error(act: Act, sim: Any, body: str, ctype: str) -> None:
    await act("test connectivity")
    sim.fault(vendor="panos", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await act("test connectivity")
    assert not e.value.retryable


@pytest.mark.parametrize("action,params", [
    ("block ip", {"ip": "198.51.100.7']/../entry[@name='x"}),
    ("block ip", {"ip": "<member>any</member>"}),
    ("block ip", {"ip": "not-an-ip"}),
    ("unblock ip", {"ip": "fe80::1%eth0"}),
    ("block url", {"url": "https://evil.example.com/a']"}),
    ("block url", {"url": "https://evil.example.com/<script>"}),
    ("block url", {"url": "ftp://evil.example.com/"}),
    ("unblock url", {"url": "https://user:pw@evil.example.com/"}),
    ("block ip", {}),
])
async def test_invalid_parameter_never_reaches_vendor(act: Act, sim: Any, action: str,
                                                      params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter, match="parameter '(ip|url)'"):
        await act(action, params)
    assert sim.state()["calls"].get("panos", 0) == 0


def test_config_validation(tmp_path: Path) -> None:
    for conf, field in [({"username": None, "password": None}, "either api_key"),
                        ({"base_url": None}, "base_url"), ({"vsys": "vsys1']"}, "vsys")]:
        path = write_assets(tmp_path / "a.json", pan_assets("http://127.0.0.1:1/panos", **conf))
        assert field in load_assets(path, {"panos": CONNECTOR}).unavailable["pan_fw"].reason


def test_cli_block_ip_and_asset_test(sim: Any, assets_file: Path) -> None:
    env = {**os.environ, **DEMO_ENV}
    base = [".venv/bin/soar", "action", "run", "pan_fw"]
    out = subprocess.run([*base, "block ip", "--param", "ip=203.0.113.99", "--assets", str(assets_file)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["message"] == "Blocked on PA-5260"
    assert pan(sim)["blocked_ips"] == ["203.0.113.99"]
    bad = subprocess.run([*base, "block ip", "--param", "ip=1.2.3.4'", "--assets", str(assets_file)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"] == "InvalidParameter"
    test = subprocess.run([".venv/bin/soar", "asset", "test", "pan_fw", "--assets", str(assets_file)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert test.returncode == 0 and "model PA-5260" in test.stdout


# --- an independent server replaying documented replies ------------------------------------------------

DOC_KEY = "LUFRPT14MW5xOEo1R09KVlBZNnpnemh0VHRBOWl6TGM9bXcwM3JHUGVhRlNiY0dCR0srNERUQT09"
BOMB = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                  for i in range(1, 10))
        + ']><response status="success"><result><key>&lol9;</key></result></response>')
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<response status="success"><result><key>&x;</key></result></response>')
DOC_REPLIES = {
    "keygen": f"<response status = 'success'><result><key>{DOC_KEY}</key></result></response>",
    "set": '<response status="success" code="20"><msg>command succeeded</msg></response>',
    "get": '<response status="success"><result total-count="0" count="0"/></response>',
    "show": '<response status="success"><result/></response>',
    "commit": ('<response status="success" code="19"><result><msg><line>Commit job enqueued with jobid 4'
               "</line></msg><job>4</job></result></response>"),
    "job": ('<response status="success"><result><job><tenq>2024/05/02 10:11:12</tenq><tdeq>10:11:12</tdeq>'
            "<id>4</id><user>admin</user><type>Commit</type><status>{status}</status><queued>NO</queued>"
            "<stoppable>no</stoppable><result>{result}</result><tfin>10:11:40</tfin><description/>"
            "<positionInQ>0</positionInQ><progress>{progress}</progress><details>{details}</details>"
            "<warnings/></job></result></response>"),
}


def documented_panos() -> tuple[FastAPI, dict[str, Any]]:
    """A minimal PAN-OS XML API replaying the documented replies; `seen` records every request."""
    app, seen = FastAPI(), {"requests": [], "mode": "normal", "polls": 0}

    @app.post("/api/")
    async def api(request: Request) -> Response:
        form = dict(await request.form())
        seen["requests"].append({"form": form, "key": request.headers.get("x-pan-key"),
                                 "query": request.url.query})
        mode, kind = seen["mode"], form.get("type")

        def xml(body: str, status: int = 200) -> Response:
            return Response(body, status_code=status, media_type="application/xml")
        if mode in ("bomb", "xxe"):
            return xml(BOMB if mode == "bomb" else XXE)
        if kind == "keygen":
            return xml(DOC_REPLIES["keygen"])
        if request.headers.get("x-pan-key") != DOC_KEY:
            return xml("<response status = 'error' code = '403'><result><msg>Invalid Credential</msg>"
                       "</result></response>", 403)
        if kind == "config":
            return xml(DOC_REPLIES[form["action"] if form["action"] in ("get", "show") else "set"])
        if kind == "commit":
            return xml(DOC_REPLIES["commit"])
        seen["polls"] += 1
        done = seen["polls"] > 1 and mode != "stuck"
        return xml(DOC_REPLIES["job"].format(
            status="FIN" if done else "ACT", result="OK" if done else "PEND", progress=100 if done else 30,
            details="<line>Configuration committed successfully</line>" if done else ""))

    return app, seen


@pytest.fixture(scope="module")
def documented() -> Any:
    app, seen = documented_panos()
    srv = ServerThread(app).start()
    yield srv.url, seen
    srv.stop()


async def test_against_independent_documented_server(act: Act, documented: Any) -> None:
    url, seen = documented
    seen.update(requests=[], mode="normal", polls=0)
    r = await act("block ip", {"ip": "203.0.113.5"}, base_url=url, device_name="PA-220")
    assert r.message == "Blocked on PA-220" and r.data[0]["commit_job"] == "4"
    steps = [(q["form"]["type"], q["form"].get("action"), q["form"].get("xpath", "").removeprefix(VSYS))
             for q in seen["requests"]]
    assert steps == [
        ("keygen", None, ""), ("config", "show", "/address-group/entry[@name='SOAR Network List']"),
        ("config", "set", "/tag"), ("config", "set", "/address/entry[@name='203.0.113.5 Added By SOAR']"),
        ("config", "set", "/address-group/entry[@name='SOAR Network List']"),
        ("config", "get", "/rulebase/security/rules/entry[@name='SOAR IP Security Policy']"),
        ("config", "set", "/rulebase/security/rules/entry[@name='SOAR IP Security Policy']"),
        ("config", "move", "/rulebase/security/rules/entry[@name='SOAR IP Security Policy']"),
        ("commit", None, ""), ("op", None, ""), ("op", None, "")]
    assert seen["requests"][0]["form"] == {"type": "keygen", "user": "admin", "password": PAN_PASSWORD}
    commit = seen["requests"][8]["form"]["cmd"]
    assert commit == "<commit><partial><admin><member>admin</member></admin></partial></commit>"
    assert seen["requests"][9]["form"]["cmd"] == "<show><jobs><id>4</id></jobs></show>"
    for q in seen["requests"][1:]:  # the key only ever travels in the header
        assert q["key"] == DOC_KEY and "key" not in q["form"] and q["query"] == ""


@pytest.mark.parametrize("mode", ["bomb", "xxe"])
async def test_hostile_xml_is_refused_quickly(act: Act, documented: Any, mode: str) -> None:
    url, seen = documented
    seen.update(requests=[], mode=mode, polls=0)
    started = time.monotonic()
    with pytest.raises(VendorResponseError, match="forbidden construct") as e:
        await asyncio.wait_for(act("test connectivity", base_url=url), timeout=10)
    assert time.monotonic() - started < 5 and "root:" not in str(e.value)


async def test_commit_job_that_never_finishes_times_out(act: Act, documented: Any) -> None:
    url, seen = documented
    seen.update(requests=[], mode="stuck", polls=0)
    with pytest.raises(VendorUnavailable, match="did not finish within") as e:
        await act("block url", {"url": "https://evil.example.com/"}, base_url=url, commit_timeout_s=0.2)
    assert e.value.retryable and seen["polls"] >= 2


async def test_a_block_the_workflow_marks_as_needing_approval_is_verified_by_the_activity(act, sim):
    """`require_approval` (a target only a forgeable Received: header gave): no approval, or one for another
    IP, is refused before any request; the approval for exactly this block lets it run."""
    from core.errors import ApprovalInvalid, ApprovalRequired
    from core.models import ActionInput
    from tests.activities.conftest import sign_approval

    spec, store = CONNECTOR.find("block ip"), act.store()
    ip, cid = "198.51.100.66", "SOAR-FORGEDRCVD01"

    def inp(approval=None) -> ActionInput:
        return ActionInput(asset="pan_fw", params={"ip": ip}, require_approval=True, container_id=cid,
                           approval=approval)
    with pytest.raises(ApprovalRequired):
        await store.run(spec, inp())
    with pytest.raises(ApprovalInvalid):
        await store.run(spec, inp(sign_approval("block ip", "198.51.100.99", "panos", cid)))
    assert pan(sim).get("blocked_ips", []) == [] and sim.state()["calls"].get("panos", 0) == 0
    r = await store.run(spec, inp(sign_approval("block ip", ip, "panos", cid)))
    assert r.status == "success" and ip in pan(sim)["blocked_ips"]
