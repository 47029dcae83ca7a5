"""Whois RDAP connector against the simulator over real HTTP (including the ARIN -> RIPE redirect), the real
CLI, and two independent registry servers on different ports speaking the documented RDAP format."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from activities.whois import CONNECTOR
from activities.whois.rdap import abuse_email, cidrs
from core.errors import (
    AuthError,
    InvalidParameter,
    NotFound,
    RateLimited,
    VendorResponseError,
    VendorUnavailable,
)
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import ROOT
from simulator.credentials import DEMO_ENV
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Run = Callable[..., Awaitable[ActionResult]]
RDAP_CT = "application/rdap+json"


def whois_assets(sim_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example Whois asset (only it), pointed at `sim_url`, with configuration overrides."""
    assets = [a for a in example_assets(sim_url) if a["app"] == "Whois"]
    assets[0]["configuration"].update(conf)
    return assets


def make_store(path: Path) -> AssetStore:
    return AssetStore.load(path, {"whois": CONNECTOR})


@pytest.fixture
def run(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run a Whois action in-process; `**conf` overrides the asset configuration."""
    return connector_runner(CONNECTOR, lambda **conf: whois_assets(sim.url, **conf), asset="whois")


def effects(sim: Any) -> dict[str, Any]:
    return sim.state()["effects"].get("rdap", {})


# --- happy paths -------------------------------------------------------------------------------------

async def test_whois_arin_answers_directly(run: Run, sim: Any) -> None:
    r = await run("whois ip", {"ip": "8.8.8.8"})
    assert r.status == "success" and r.message == "GOGL 8.8.8.0/24 (US), abuse: network-abuse@google.com"
    s = r.summary
    assert (s["network_name"], s["handle"], s["cidr"], s["country"], s["registry"], s["redirected"]) == (
        "GOGL", "NET-8-8-8-0-2", "8.8.8.0/24", "US", "ARIN", False)
    assert s["registrant"] == "Google LLC" and s["registration_date"].startswith("2014-03-14")
    assert r.data[0]["objectClassName"] == "ip network" and r.data[0]["redirects"] == []
    assert effects(sim) == {"arin": {"8.8.8.8": 1}}


@pytest.mark.parametrize(("ip", "cidr", "country"), [
    ("81.2.69.160", "81.2.69.0/24", "GB"), ("2a00:1450:4001::8", "2a00:1450:4001::/48", None),
])
async def test_whois_follows_redirect_to_ripe(run: Run, sim: Any, ip: str, cidr: str,
                                              country: str | None) -> None:
    r = await run("whois ip", {"ip": ip})
    s = r.summary
    assert r.status == "success" and s["registry"] == "RIPE NCC" and s["redirected"] is True
    assert s["cidr"] == cidr and s["rdap_url"].endswith(f"/rdap/ripe/ip/{ip}")
    assert s["abuse_email"] and s["abuse_email"].startswith("abuse@isp-")  # top-level abuse entity
    if country:
        assert s["country"] == country and r.message == f"{s['network_name']} {cidr} ({country}), abuse: " + (
            s["abuse_email"])
    assert r.data[0]["redirects"] == [s["rdap_url"]]
    assert effects(sim) == {"redirects": {ip: 1}, "ripe": {ip: 1}}
    assert sim.state()["statuses"] == {"rdap:302": 1, "rdap:200": 1}


async def test_generated_arin_network_picks_abuse_not_noc_email(run: Run, sim: Any) -> None:
    r = await run("whois ip", {"ip": "198.51.100.20"})
    assert r.summary["abuse_email"] == "abuse@net-198-51-100-0.example"
    assert r.summary["cidr"] == "198.51.100.0/24" and r.summary["registry"] == "ARIN"


@pytest.mark.parametrize("ip", ["10.1.2.3", "192.168.0.1", "::1"])
async def test_private_ip_is_no_registration_not_failure(run: Run, sim: Any, ip: str) -> None:
    r = await run("whois ip", {"ip": ip})
    assert r.status == "success" and r.summary["found"] is False and r.data == []
    assert r.message.startswith(f"No RDAP registration for {ip} (Not Found:")
    assert sim.state()["calls"] == {"rdap": 1} and effects(sim) == {}


async def test_test_connectivity(run: Run, sim: Any) -> None:
    r = await run("test connectivity")
    assert r.status == "success" and "rdap_level_0" in r.summary["rdap_conformance"]
    assert r.summary["rdap_url"].endswith("/rdap/help") and sim.state()["calls"] == {"rdap": 1}


def test_activity_names_and_parsers() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "whois.whois_ip", "whois.test_connectivity"}
    assert CONNECTOR.find("whois ip").target == "ip" and CONNECTOR.title == "Whois RDAP"
    assert cidrs({"startAddress": "10.0.0.0", "endAddress": "10.0.1.255"}) == ["10.0.0.0/23"]
    deep = {"entities": [{"roles": ["registrant"], "entities": [{"roles": ["admin"], "entities": [
        {"roles": ["abuse"], "vcardArray": ["vcard", [["email", {}, "text", "deep@example.net"]]]}]}]}]}
    assert abuse_email(deep) == "deep@example.net" and abuse_email({"entities": "junk"}) is None


# --- errors ------------------------------------------------------------------------------------------

async def test_403_is_auth_error_naming_asset(run: Run, sim: Any) -> None:
    sim.fault(vendor="rdap", status=403, count=1, message="Access denied for your network")
    with pytest.raises(AuthError) as e:
        await run("whois ip", {"ip": "8.8.8.8"})
    assert "'whois'" in str(e.value) and "Access denied" in str(e.value) and "no credentials" in str(e.value)


async def test_429_honours_retry_after(run: Run, sim: Any) -> None:
    sim.fault(vendor="rdap", status=429, count=1, retry_after=6)
    with pytest.raises(RateLimited) as e:
        await run("whois ip", {"ip": "8.8.8.8"})
    assert e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(6, abs=0.5)
    assert (await run("whois ip", {"ip": "8.8.8.8"})).summary["network_name"] == "GOGL"


async def test_redirect_without_location_is_vendor_response_error(run: Run, sim: Any) -> None:
    sim.fault(vendor="rdap", status=302, count=1, body="", content_type=RDAP_CT)
    with pytest.raises(VendorResponseError, match="without a Location header"):
        await run("whois ip", {"ip": "81.2.69.160"})


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_vendor_unavailable(run: Run, sim: Any, status: int) -> None:
    sim.fault(vendor="rdap", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await run("whois ip", {"ip": "8.8.8.8"})
    assert e.value.retryable


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"objectClassName": "ip network", "handle": "NET-8-8', RDAP_CT),
    ("<html><body>Service Temporarily Unavailable</body></html>", "text/html"),
    ('{"objectClassName": "domain", "ldhName": "example.com"}', RDAP_CT),
    ("[1, 2, 3]", RDAP_CT),
])
async def test_malformed_body_is_vendor_response_error(run: Run, sim: Any, body: str, ctype: str) -> None:
    sim.fault(vendor="rdap", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await run("whois ip", {"ip": "8.8.8.8"})
    assert not e.value.retryable


async def test_wrong_base_url_is_not_found_not_no_data(run: Run, sim: Any) -> None:
    with pytest.raises(NotFound, match="check base_url of asset 'whois'"):
        await run("whois ip", {"ip": "8.8.8.8"}, base_url=f"{sim.url}/not-rdap")
    with pytest.raises(NotFound, match="check base_url of asset 'whois'"):
        await run("test connectivity", base_url=f"{sim.url}/not-rdap")


@pytest.mark.parametrize("params", [
    {"ip": "8.8.8"}, {"ip": "example.com"}, {}, {"ip": "8.8.8.8", "depth": 2},
])
async def test_invalid_parameter_never_reaches_vendor(run: Run, sim: Any, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        await run("whois ip", params)
    assert str(e.value).startswith("whois ip: parameter '")
    assert sim.state()["calls"].get("rdap", 0) == 0


# --- the simulator's wire format ---------------------------------------------------------------------

def test_simulator_wire_format(sim: Any) -> None:
    arin = httpx.get(f"{sim.url}/rdap/ip/81.2.69.160")
    assert arin.status_code == 302 and arin.headers["location"] == f"{sim.url}/rdap/ripe/ip/81.2.69.160"
    back = httpx.get(f"{sim.url}/rdap/ripe/ip/8.8.8.8")
    assert back.status_code == 301 and back.headers["location"] == f"{sim.url}/rdap/ip/8.8.8.8"
    cidr = httpx.get(f"{sim.url}/rdap/ip/8.8.8.0/24")
    assert cidr.headers["content-type"] == RDAP_CT and cidr.json()["handle"] == "NET-8-8-8-0-2"
    missing = httpx.get(f"{sim.url}/rdap/ip/127.0.0.1")
    assert missing.status_code == 404 and missing.json()["errorCode"] == 404
    assert missing.json()["title"] == "Not Found" and isinstance(missing.json()["description"], list)
    assert httpx.get(f"{sim.url}/rdap/ip/1.2.3").json()["errorCode"] == 400
    sim.fault(vendor="rdap", status=429, count=1, retry_after=3)
    throttled = httpx.get(f"{sim.url}/rdap/ip/8.8.8.8")
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "3"
    assert throttled.json()["errorCode"] == 429


# --- the real CLI ------------------------------------------------------------------------------------

def test_cli_action_run(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", whois_assets(sim.url))
    env = {**os.environ, **DEMO_ENV}
    cmd = [".venv/bin/soar", "action", "run", "whois", "whois ip", "--assets", str(assets), "--param"]
    ok = subprocess.run([*cmd, "ip=8.8.8.8"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["message"] == "GOGL 8.8.8.0/24 (US), abuse: network-abuse@google.com"
    assert effects(sim) == {"arin": {"8.8.8.8": 1}}
    sim.fault(vendor="rdap", status=503, count=1)
    down = subprocess.run([*cmd, "ip=8.8.8.8", "--no-retry"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 1 and json.loads(down.stdout)["error"] == "VendorUnavailable"
    test = subprocess.run([".venv/bin/soar", "asset", "test", "whois", "--assets", str(assets)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert test.returncode == 0 and "connectivity OK" in test.stdout


# --- independent registries on two ports, speaking the documented RDAP format --------------------------

# ARIN's answer for 8.8.8.8 as documented (RFC 9083 shape; abuse contact nested in the registrant).
DOC_GOGL = {
    "objectClassName": "ip network", "handle": "NET-8-8-8-0-2", "name": "GOGL",
    "startAddress": "8.8.8.0", "endAddress": "8.8.8.255", "ipVersion": "v4", "type": "DIRECT ALLOCATION",
    "parentHandle": "NET-8-0-0-0-0", "country": "US", "status": ["active"], "port43": "whois.arin.net",
    "rdapConformance": ["rdap_level_0", "nro_rdap_profile_0", "cidr0"],
    "cidr0_cidrs": [{"v4prefix": "8.8.8.0", "length": 24}],
    "events": [{"eventAction": "registration", "eventDate": "2014-03-14T15:52:05-04:00"},
               {"eventAction": "last changed", "eventDate": "2014-03-14T16:52:05-04:00"}],
    "entities": [{"objectClassName": "entity", "handle": "GOGL", "roles": ["registrant"],
                  "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "Google LLC"],
                                           ["kind", {}, "text", "org"]]],
                  "entities": [{"handle": "ABUSE5250-ARIN", "roles": ["abuse"], "vcardArray": [
                      "vcard", [["email", {}, "text", "network-abuse@google.com"]]]}]}],
    "links": [{"rel": "self", "href": "https://rdap.arin.net/registry/ip/8.8.8.0", "type": RDAP_CT}],
}
# A RIPE-style answer: no cidr0, a range handle, the abuse contact at the top level.
DOC_RIPE = {
    "objectClassName": "ip network", "handle": "81.2.69.128 - 81.2.69.191", "name": "EXAMPLE-GB",
    "startAddress": "81.2.69.128", "endAddress": "81.2.69.191", "ipVersion": "v4", "country": "GB",
    "port43": "whois.ripe.net", "rdapConformance": ["rdap_level_0"],
    "entities": [{"handle": "AR1-RIPE", "roles": ["abuse"],
                  "vcardArray": ["vcard", [["version", {}, "text", "4.0"],
                                           ["email", {}, "text", "abuse@ex.gb"]]]}],
}


def registry_app(name: str, other: list[str]) -> FastAPI:
    """ARIN (`name == "arin"`) or RIPE; `other[0]` is the other registry's URL, known once both run."""
    app = FastAPI()

    def rdap(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status, media_type=RDAP_CT)

    @app.get("/help")
    async def help_doc() -> Response:
        # The RIPE stand-in plays a web server that is not RDAP: JSON without rdapConformance.
        doc = {"rdapConformance": ["rdap_level_0"], "notices": []}
        return rdap(doc if name == "arin" else {"status": "ok"})

    @app.get("/ip/{ip}")
    async def ip_network(ip: str, request: Request) -> Response:
        assert "application/rdap+json" in request.headers["accept"]
        if ip == "1.1.1.1":  # a misconfigured registry redirecting to itself
            return Response(status_code=307, headers={"Location": f"/ip/{ip}"})
        if name == "arin":
            if ip == "8.8.8.8":
                return rdap(DOC_GOGL)
            if ip.startswith("81."):  # another RIR's space: redirect across hosts
                return Response(status_code=303, headers={"Location": f"{other[0]}/ip/{ip}"})
        elif ip.startswith("81."):
            return rdap(DOC_RIPE)
        return rdap({"errorCode": 404, "title": "Not Found", "description": [f"{ip} is not registered"]}, 404)

    return app


async def test_against_independent_registries(tmp_path: Path) -> None:
    ripe_url: list[str] = []
    arin = ServerThread(registry_app("arin", ripe_url)).start()
    ripe = ServerThread(registry_app("ripe", [arin.url])).start()
    ripe_url.append(ripe.url)
    try:
        conf = [{"app": "Whois", "asset_name": "rdap_doc", "configuration": {"base_url": arin.url}},
                {"app": "Whois", "asset_name": "not_rdap", "configuration": {"base_url": ripe.url}}]
        store = make_store(write_assets(tmp_path / "a.json", conf))

        async def go(ip: str) -> ActionResult:
            return await store.run(CONNECTOR.find("whois ip"), ActionInput(asset="rdap_doc",
                                                                                       params={"ip": ip}))

        r = await go("8.8.8.8")
        assert r.message == "GOGL 8.8.8.0/24 (US), abuse: network-abuse@google.com"
        moved = await go("81.2.69.160")
        assert moved.summary["rdap_url"] == f"{ripe.url}/ip/81.2.69.160"
        assert moved.summary["registry"] == "RIPE NCC"
        assert moved.message == "EXAMPLE-GB 81.2.69.128/26 (GB), abuse: abuse@ex.gb"  # CIDR from the range
        miss = await go("100.100.100.100")
        assert miss.summary["found"] is False and "is not registered" in miss.message
        with pytest.raises(VendorResponseError, match="redirected more than 3 times"):
            await go("1.1.1.1")
        ok = await store.run(CONNECTOR.find("test connectivity"), ActionInput(asset="rdap_doc"))
        assert ok.summary["rdap_conformance"] == ["rdap_level_0"]
        with pytest.raises(VendorResponseError, match="not an RDAP service root"):
            await store.run(CONNECTOR.find("test connectivity"), ActionInput(asset="not_rdap"))
        await store.aclose()
    finally:
        arin.stop()
        ripe.stop()
