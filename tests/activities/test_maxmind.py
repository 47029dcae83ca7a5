"""MaxMind connector: the web service against the simulator over real HTTP, a real GeoIP2 .mmdb, the real
CLI, and an independent server speaking the documented API."""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from activities.maxmind import CONNECTOR
from core.errors import (
    AssetUnavailable,
    AuthError,
    ConfigError,
    InvalidParameter,
    RateLimited,
    VendorResponseError,
    VendorUnavailable,
)
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import ROOT
from simulator.credentials import DEMO_ENV, MAXMIND_ACCOUNT_ID, MAXMIND_LICENSE_KEY
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Run = Callable[..., Awaitable[ActionResult]]
# MaxMind's own GeoIP2 City test database (see tests/data/maxmind/README.md).
TEST_MMDB = ROOT / "tests" / "data" / "maxmind" / "GeoIP2-City-Test.mmdb"
CITY_CT = "application/vnd.maxmind.com-city+json; charset=UTF-8; version=2.1"
ERROR_CT = "application/vnd.maxmind.com-error+json; charset=UTF-8; version=2.0"


def mm_assets(sim_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example MaxMind asset (only it), pointed at `sim_url`, with configuration overrides."""
    assets = [a for a in example_assets(sim_url) if a["app"] == "MaxMind"]
    assets[0]["configuration"].update(conf)
    return assets


def make_store(path: Path) -> AssetStore:
    return AssetStore.load(path, {"maxmind": CONNECTOR})


@pytest.fixture
def run(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run a MaxMind action in-process; `**conf` overrides the asset configuration."""
    return connector_runner(CONNECTOR, lambda **conf: mm_assets(sim.url, **conf), asset="maxmind")


def lookups(sim: Any) -> dict[str, int]:
    return sim.state()["effects"].get("maxmind", {}).get("lookups", {})


# --- web service happy paths -------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "city", "iso", "country", "lat"), [
    ("81.2.69.160", "London", "GB", "United Kingdom", 51.5142),
    ("198.51.100.7", "Moscow", "RU", "Russia", 55.7527),
    ("192.0.2.44", "Lagos", "NG", "Nigeria", 6.4541),
])
async def test_geolocate_ip(run: Run, sim: Any, ip: str, city: str, iso: str, country: str,
                            lat: float) -> None:
    r = await run("geolocate ip", {"ip": ip})
    assert r.status == "success" and r.message == f"{city}, {iso}"
    s = r.summary
    assert (s["found"], s["city"], s["country_iso_code"], s["country_name"], s["latitude"]) == (
        True, city, iso, country, lat)
    assert isinstance(s["longitude"], float) and s["source"] == "web service"
    assert s["queries_remaining"] == 9999
    assert r.data[0]["ip"] == ip and r.data[0]["traits"]["ip_address"] == ip
    assert lookups(sim) == {ip: 1}


async def test_stable_pick_ipv6_and_query_counter(run: Run, sim: Any) -> None:
    first = await run("geolocate ip", {"ip": "8.8.4.4"})
    again = await run("geolocate ip", {"ip": " 8.8.4.4 "})
    v6 = await run("geolocate ip", {"ip": "2001:4860:4860::8888"})
    assert first.message == again.message and first.summary["found"] and v6.summary["found"]
    assert again.summary["queries_remaining"] == first.summary["queries_remaining"] - 1
    assert v6.summary["network"] == "2001:4860:4860::/48"
    assert lookups(sim) == {"8.8.4.4": 2, "2001:4860:4860::8888": 1}


@pytest.mark.parametrize(("ip", "code"), [
    ("10.0.0.1", "IP_ADDRESS_RESERVED"), ("fe80::1", "IP_ADDRESS_RESERVED"),
    ("203.0.113.9", "IP_ADDRESS_NOT_FOUND"),
])
async def test_no_data_is_success_not_failure(run: Run, sim: Any, ip: str, code: str) -> None:
    r = await run("geolocate ip", {"ip": ip})
    assert r.status == "success" and r.summary["found"] is False and r.data == []
    assert r.message.startswith(f"No geolocation data for {ip} ({code}")
    assert sim.state()["calls"] == {"maxmind": 1} and lookups(sim) == {}


async def test_test_connectivity_web_service(run: Run, sim: Any) -> None:
    r = await run("test connectivity")
    # The simulator sees the caller as 127.0.0.1, which MaxMind calls reserved: the credentials still passed.
    assert r.status == "success" and "account 123456 accepted" in r.message
    assert "IP_ADDRESS_RESERVED" in r.message
    assert sim.state()["statuses"] == {"maxmind:400": 1}


def test_activity_names() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "maxmind.geolocate_ip", "maxmind.test_connectivity"}
    assert CONNECTOR.find("geolocate ip").target == "ip" and CONNECTOR.find("geolocate ip").read_only


# --- local .mmdb ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "message", "network"), [
    ("81.2.69.160", "London, GB", "81.2.69.160/27"),
    ("2.125.160.216", "Boxford, GB", "2.125.160.216/29"),
    ("216.160.83.56", "Milton, US", "216.160.83.56/29"),
])
async def test_geolocate_from_mmdb_makes_no_http(run: Run, sim: Any, ip: str, message: str,
                                                 network: str) -> None:
    r = await run("geolocate ip", {"ip": ip}, database_path=str(TEST_MMDB))
    assert r.status == "success" and r.message == message
    assert r.summary["source"] == "database" and r.summary["network"] == network
    assert r.data[0]["traits"]["ip_address"] == ip
    assert sim.state()["calls"] == {}


async def test_mmdb_miss_and_connectivity(run: Run, sim: Any) -> None:
    miss = await run("geolocate ip", {"ip": "10.10.10.10"}, database_path=str(TEST_MMDB))
    assert miss.status == "success" and miss.summary["found"] is False
    assert miss.summary["network"] == "10.0.0.0/8" and "not in the GeoIP2-City database" in miss.message
    ok = await run("test connectivity", database_path=str(TEST_MMDB), license_key="", account_id="")
    assert ok.summary["database_type"] == "GeoIP2-City" and ok.summary["node_count"] > 0
    assert "GeoIP2-City" in ok.message and sim.state()["calls"] == {}


async def test_mmdb_missing_or_not_a_database_is_config_error(run: Run, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="database_path.*cannot open"):
        await run("geolocate ip", {"ip": "81.2.69.160"}, database_path=str(tmp_path / "nope.mmdb"))
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"this is not a MaxMind DB" * 100)
    with pytest.raises(ConfigError, match="not a MaxMind DB file"):
        await run("geolocate ip", {"ip": "81.2.69.160"}, database_path=str(junk))


def test_config_needs_credentials_or_database(tmp_path: Path) -> None:
    conf = [{"app": "MaxMind", "asset_name": "mm", "configuration": {"account_id": "123456"}}]
    with pytest.raises(AssetUnavailable, match="license_key"):
        make_store(write_assets(tmp_path / "a.json", conf)).get("mm")
    conf[0]["configuration"] = {"account_id": "abc", "license_key": "k" * 10}
    with pytest.raises(AssetUnavailable, match="account_id"):
        make_store(write_assets(tmp_path / "b.json", conf)).get("mm")


# --- errors ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("conf", [{"license_key": "wrong-maxmind-license-999"}, {"account_id": "999999"}])
async def test_wrong_credentials_are_auth_error(run: Run, sim: Any, conf: dict[str, str]) -> None:
    with pytest.raises(AuthError) as e:
        await run("geolocate ip", {"ip": "81.2.69.160"}, **conf)
    msg = str(e.value)
    assert "'maxmind'" in msg and "AUTHORIZATION_INVALID" in msg and "license_key" in msg
    assert "wrong-maxmind-license-999" not in msg and MAXMIND_LICENSE_KEY not in msg
    assert sim.state()["statuses"] == {"maxmind:401": 1} and lookups(sim) == {}


async def test_429_honours_retry_after(run: Run, sim: Any) -> None:
    sim.fault(vendor="maxmind", status=429, count=1, retry_after=4)
    with pytest.raises(RateLimited) as e:
        await run("geolocate ip", {"ip": "81.2.69.160"})
    assert e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(4, abs=0.5)
    assert (await run("geolocate ip", {"ip": "81.2.69.160"})).message == "London, GB"


@pytest.mark.parametrize("status", [500, 503])
async def test_5xx_is_vendor_unavailable(run: Run, sim: Any, status: int) -> None:
    sim.fault(vendor="maxmind", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await run("geolocate ip", {"ip": "81.2.69.160"})
    assert e.value.retryable


async def test_out_of_queries_is_not_retried(run: Run, sim: Any) -> None:
    sim.fault(vendor="maxmind", status=402, count=1)
    with pytest.raises(VendorResponseError, match="out of queries") as e:
        await run("geolocate ip", {"ip": "81.2.69.160"})
    assert not e.value.retryable and MAXMIND_LICENSE_KEY not in str(e.value)


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"city": {"names": {"en": "Lon', CITY_CT),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    ('["not", "a", "record"]', CITY_CT),
])
async def test_malformed_body_is_vendor_response_error(run: Run, sim: Any, body: str, ctype: str) -> None:
    sim.fault(vendor="maxmind", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await run("geolocate ip", {"ip": "81.2.69.160"})
    assert not e.value.retryable


@pytest.mark.parametrize("params", [
    {"ip": "not-an-ip"}, {"ip": "81.2.69.999"}, {}, {"ip": "1.2.3.4", "x": 1},
])
async def test_invalid_parameter_never_reaches_vendor(run: Run, sim: Any, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        await run("geolocate ip", params)
    assert str(e.value).startswith("geolocate ip: parameter '")
    assert sim.state()["calls"].get("maxmind", 0) == 0


# --- the simulator's wire format ---------------------------------------------------------------------

def test_simulator_wire_format(sim: Any) -> None:
    url = f"{sim.url}/maxmind/geoip/v2.1/city"
    auth = (MAXMIND_ACCOUNT_ID, MAXMIND_LICENSE_KEY)
    ok = httpx.get(f"{url}/81.2.69.160", auth=auth)
    assert ok.status_code == 200 and ok.headers["content-type"] == CITY_CT
    assert ok.json()["traits"] == {"ip_address": "81.2.69.160", "network": "81.2.69.160/27"}
    bad = httpx.get(f"{url}/1.2.3", auth=auth)
    assert bad.status_code == 400 and bad.headers["content-type"] == ERROR_CT
    assert bad.json()["code"] == "IP_ADDRESS_INVALID"
    assert httpx.get(f"{url}/1.2.3.4").json()["code"] == "ACCOUNT_ID_REQUIRED"
    assert httpx.get(f"{url}/1.2.3.4", auth=(MAXMIND_ACCOUNT_ID, "")).json()["code"] == "LICENSE_KEY_REQUIRED"
    assert httpx.get(f"{url}/1.2.3.4", auth=auth, headers={"Accept": "text/html"}).status_code == 415
    country = httpx.get(f"{sim.url}/maxmind/geoip/v2.1/country/81.2.69.160", auth=auth).json()
    assert country["country"]["iso_code"] == "GB" and "city" not in country
    sim.fault(vendor="maxmind", status=429, count=1, retry_after=2)
    throttled = httpx.get(f"{url}/1.2.3.4", auth=auth)
    assert throttled.status_code == 429 and throttled.content == b""
    assert throttled.headers["Retry-After"] == "2"


# --- the real CLI ------------------------------------------------------------------------------------

def test_cli_action_run(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", mm_assets(sim.url))
    env = {**os.environ, **DEMO_ENV}
    cmd = [".venv/bin/soar", "action", "run", "maxmind", "geolocate ip", "--assets", str(assets), "--param"]
    ok = subprocess.run([*cmd, "ip=198.51.100.20"], cwd=ROOT,
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["message"] == "Moscow, RU" and out["summary"]["country_iso_code"] == "RU"
    assert lookups(sim) == {"198.51.100.20": 1}
    bad = subprocess.run([*cmd, "ip=300.1.1.1"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"] == "InvalidParameter"
    env["MAXMIND_LICENSE_KEY"] = "wrong-cli-license-0000"
    denied = subprocess.run([*cmd, "ip=8.8.8.8"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert denied.returncode == 1 and json.loads(denied.stdout)["error"] == "AuthError"
    assert "wrong-cli-license-0000" not in denied.stdout


# --- an independent server speaking the documented API -------------------------------------------------

# The City example of MaxMind's web service documentation (abridged to the fields it documents).
DOC_CITY = {
    "city": {"geoname_id": 2643743, "names": {"en": "London"}},
    "continent": {"code": "EU", "geoname_id": 6255148, "names": {"en": "Europe"}},
    "country": {"geoname_id": 2635167, "iso_code": "GB", "names": {"en": "United Kingdom"}},
    "location": {"accuracy_radius": 100, "latitude": 51.5142, "longitude": -0.0931,
                 "time_zone": "Europe/London"},
    "postal": {"code": "EC2V"},
    "registered_country": {"geoname_id": 6252001, "iso_code": "US", "names": {"en": "United States"}},
    "subdivisions": [{"geoname_id": 6269131, "iso_code": "ENG", "names": {"en": "England"}}],
    "traits": {"ip_address": "81.2.69.160", "network": "81.2.69.160/27"},
    "maxmind": {"queries_remaining": 11},
}


def documented_maxmind() -> FastAPI:
    """A minimal GeoIP2 web service: the documented example, and the documented error envelopes."""
    app = FastAPI()
    good = "Basic " + base64.b64encode(b"42:abcdef123456").decode()

    def err(status: int, code: str, text: str) -> Response:
        return Response(json.dumps({"code": code, "error": text}), status, media_type=ERROR_CT)

    @app.get("/geoip/v2.1/city/{ip}")
    async def city(ip: str, request: Request) -> Response:
        if request.headers.get("authorization") != good:
            return err(401, "AUTHORIZATION_INVALID", "You have supplied an invalid MaxMind account ID and/or "
                                                     "license key in the Authorization header.")
        if ip == "1.2.3.16":
            return err(404, "IP_ADDRESS_NOT_FOUND", "The address 1.2.3.16 is not in the database.")
        if ip == "1.2.3.17":
            return err(402, "INSUFFICIENT_FUNDS", "The license key you have provided is out of queries.")
        return Response(json.dumps(DOC_CITY), media_type=CITY_CT)

    return app


async def test_against_independent_documented_server(tmp_path: Path) -> None:
    srv = ServerThread(documented_maxmind()).start()
    try:
        conf = [{"app": "MaxMind", "asset_name": "mm_doc",
                 "configuration": {"account_id": "42", "license_key": "abcdef123456", "base_url": srv.url}},
                {"app": "MaxMind", "asset_name": "mm_bad",
                 "configuration": {"account_id": "42", "license_key": "nope-nope", "base_url": srv.url}}]
        store = make_store(write_assets(tmp_path / "a.json", conf))

        async def go(asset: str, ip: str) -> ActionResult:
            return await store.run(CONNECTOR.find("geolocate ip"),
                                   ActionInput(asset=asset, params={"ip": ip}))

        r = await go("mm_doc", "81.2.69.160")
        assert r.message == "London, GB" and r.summary["subdivision"] == "England"
        assert r.summary["queries_remaining"] == 11 and r.summary["network"] == "81.2.69.160/27"
        miss = await go("mm_doc", "1.2.3.16")
        assert miss.summary["found"] is False and "IP_ADDRESS_NOT_FOUND" in miss.message
        with pytest.raises(VendorResponseError, match="out of queries"):
            await go("mm_doc", "1.2.3.17")
        with pytest.raises(AuthError, match="'mm_bad'"):
            await go("mm_bad", "81.2.69.160")
        await store.aclose()
    finally:
        srv.stop()
