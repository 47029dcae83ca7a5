"""AbuseIPDB connector against the simulator over real HTTP, the real CLI, and an independent server."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.abuseipdb import CONNECTOR
from core.errors import AuthError, InvalidParameter, RateLimited, VendorResponseError, VendorUnavailable
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import ROOT
from simulator.credentials import ABUSEIPDB_API_KEY, DEMO_ENV
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Run = Callable[..., Awaitable[ActionResult]]


def abuse_assets(sim_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example AbuseIPDB asset (only it), pointed at `sim_url`, with configuration overrides."""
    assets = [a for a in example_assets(sim_url) if a["app"] == "AbuseIPDB"]
    assets[0]["configuration"].update(conf)
    return assets


async def make_store(path: Path) -> AssetStore:
    return AssetStore.load(path, {"abuseipdb": CONNECTOR})


@pytest.fixture
def run(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run an AbuseIPDB action in-process; `**conf` overrides the asset configuration."""
    return connector_runner(CONNECTOR, lambda **conf: abuse_assets(sim.url, **conf), asset="abuseipdb")


def checks(sim: Any) -> dict[str, int]:
    return sim.state()["effects"].get("abuseipdb", {}).get("checks", {})


# --- happy paths ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "score", "reports", "country"), [
    ("198.51.100.20", 100, 42, "CN"), ("192.0.2.9", 35, 6, "RU"), ("8.8.8.8", 0, 0, "US"),
])
async def test_ip_reputation(run: Run, sim: Any, ip: str, score: int, reports: int, country: str) -> None:
    r = await run("ip reputation", {"ip": ip})
    assert r.status == "success" and r.message == f"Confidence: {score}%"
    assert (r.summary["abuse_confidence_score"], r.summary["total_reports"], r.summary["country_code"]) == (
        score, reports, country)
    assert r.data[0]["ipAddress"] == ip and r.data[0]["max_age_in_days"] == 30
    assert checks(sim) == {ip: 1}


async def test_days_parameter_and_ipv6(run: Run, sim: Any) -> None:
    r = await run("ip reputation", {"ip": "2001:4860:4860::8888", "days": "90"})
    assert r.data[0]["max_age_in_days"] == 90 and r.data[0]["ipVersion"] == 6
    assert checks(sim) == {"2001:4860:4860::8888": 1}


async def test_test_connectivity(run: Run, sim: Any) -> None:
    r = await run("test connectivity")
    assert r.status == "success" and "API key accepted" in r.message
    assert checks(sim) == {"127.0.0.1": 1}


def test_activity_names() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "abuseipdb.ip_reputation", "abuseipdb.test_connectivity"}
    assert CONNECTOR.find("ip reputation").target == "ip"


# --- errors ----------------------------------------------------------------------------------------

async def test_wrong_key_is_auth_error_naming_asset_without_secret(run: Run, sim: Any) -> None:
    bad = "wrong-abuse-key-55555"
    with pytest.raises(AuthError) as e:
        await run("ip reputation", {"ip": "8.8.8.8"}, api_key=bad)
    msg = str(e.value)
    assert "'abuseipdb'" in msg and "Authentication failed" in msg and "APIv2" in msg
    assert bad not in msg and ABUSEIPDB_API_KEY not in msg
    assert sim.state()["calls"] == {"abuseipdb": 1} and checks(sim) == {}


async def test_429_honours_retry_after(run: Run, sim: Any) -> None:
    sim.fault(vendor="abuseipdb", status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as e:
        await run("ip reputation", {"ip": "8.8.8.8"})
    assert e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(7, abs=0.5)
    assert "Daily rate limit" in str(e.value)
    r = await run("ip reputation", {"ip": "8.8.8.8"})
    assert r.status == "success"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_vendor_unavailable(run: Run, sim: Any, status: int) -> None:
    sim.fault(vendor="abuseipdb", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await run("ip reputation", {"ip": "8.8.8.8"})
    assert e.value.retryable


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"data": {"ipAddress": "8.8.8.8", "abuseConfid', "application/json"),
    ("<!DOCTYPE html><html><body>Cloudflare: origin down</body></html>", "text/html"),
    ('{"data": {"ipAddress": "8.8.8.8", "abuseConfidenceScore": "high"}}', "application/json"),
])
async def test_malformed_body_is_vendor_response_error(run: Run, sim: Any, body: str, ctype: str) -> None:
    sim.fault(vendor="abuseipdb", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await run("ip reputation", {"ip": "8.8.8.8"})
    assert not e.value.retryable


@pytest.mark.parametrize("params", [
    {"ip": "not-an-ip"}, {"ip": "10.0.0.256"}, {"ip": "8.8.8.8", "days": 0}, {"ip": "8.8.8.8", "days": 366},
    {"ip": "8.8.8.8", "days": "a week"}, {}, {"ip": "8.8.8.8", "verbose": True},
])
async def test_invalid_parameter_never_reaches_vendor(run: Run, sim: Any, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        await run("ip reputation", params)
    assert str(e.value).startswith("ip reputation: parameter '") and "cef." not in str(e.value)
    assert sim.state()["calls"].get("abuseipdb", 0) == 0


# --- the simulator's wire format -------------------------------------------------------------------

def test_simulator_headers_and_envelopes(sim: Any) -> None:
    url = f"{sim.url}/abuseipdb/api/v2/check"
    h = {"Key": ABUSEIPDB_API_KEY, "Accept": "application/json"}
    first = httpx.get(url, params={"ipAddress": "198.51.100.1"}, headers=h)
    second = httpx.get(url, params={"ipAddress": "198.51.100.1", "verbose": ""}, headers=h)
    assert int(first.headers["X-RateLimit-Remaining"]) - int(second.headers["X-RateLimit-Remaining"]) == 1
    assert first.headers["X-RateLimit-Limit"] == "1000"
    assert "reports" not in first.json()["data"] and second.json()["data"]["reports"]
    bad = httpx.get(url, params={"ipAddress": "1.2.3"}, headers=h)
    assert bad.status_code == 422 and bad.json()["errors"][0]["source"] == {"parameter": "ipAddress"}
    html = httpx.get(url, params={"ipAddress": "1.2.3.4"}, headers={"Key": "nope"})
    assert html.status_code == 401 and html.headers["content-type"].startswith("text/html")
    sim.fault(vendor="abuseipdb", status=429, count=1)
    throttled = httpx.get(url, params={"ipAddress": "1.2.3.4"}, headers=h)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "60"
    assert int(throttled.headers["X-RateLimit-Reset"]) == pytest.approx(time.time() + 60, abs=3)
    assert throttled.json()["errors"][0]["status"] == 429


# --- the real CLI ----------------------------------------------------------------------------------

def test_cli_action_run(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", abuse_assets(sim.url))
    env = {**os.environ, **DEMO_ENV}
    ok = subprocess.run([".venv/bin/soar", "action", "run", "abuseipdb", "ip reputation", "--param",
                         "ip=198.51.100.77", "--param", "days=7", "--assets", str(assets)],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["message"] == "Confidence: 100%" and out["summary"]["country_code"] == "CN"
    assert checks(sim) == {"198.51.100.77": 1}
    # A transient failure is retried as the activity would, and the output keeps the ActionResult shape.
    sim.fault(vendor="abuseipdb", status=503, count=1)
    base = [".venv/bin/soar", "action", "run", "abuseipdb", "ip reputation", "--param", "ip=8.8.8.8",
            "--assets", str(assets)]
    again = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert "attempt 1: AbuseIPDB is unavailable (HTTP 503" in again.stderr and "retrying in 1s" in again.stderr
    assert set(json.loads(again.stdout)) == {"status", "message", "summary", "data"}
    assert sim.state()["statuses"] == {"abuseipdb:200": 2, "abuseipdb:503": 1}
    sim.fault(vendor="abuseipdb", status=503, count=1)
    down = subprocess.run([*base, "--no-retry"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = json.loads(down.stdout)
    assert down.returncode == 1 and out["error"] == "VendorUnavailable" and "retrying" not in down.stderr
    assert out["status"] == "failed" and out["summary"] == {} and out["data"] == [] and "503" in out["message"]


# --- an independent server speaking the documented API ---------------------------------------------

def documented_abuseipdb() -> FastAPI:
    """A minimal AbuseIPDB: the documented check example, 422 for one address, 429 with only the epoch."""
    app = FastAPI()
    reset_at = int(time.time()) + 120

    @app.get("/api/v2/check")
    async def check(request: Request) -> JSONResponse:
        q, h = request.query_params, request.headers
        if h.get("Key") != "doc-key" or "application/json" not in h.get("Accept", ""):
            return JSONResponse({"errors": [{"detail": "Authentication failed.", "status": 401}]}, 401)
        ip, days = q.get("ipAddress"), q.get("maxAgeInDays")
        if ip == "203.0.113.255":
            return JSONResponse({"errors": [{"detail": "The ip address must be a valid IPv4 or IPv6 address.",
                                             "status": 422, "source": {"parameter": "ipAddress"}}]}, 422)
        if ip == "203.0.113.1":
            return JSONResponse({"errors": [{"detail": "Daily rate limit of 1000 requests exceeded.",
                                             "status": 429}]}, 429,
                                headers={"X-RateLimit-Reset": str(reset_at)})
        assert days == "90"
        return JSONResponse({"data": {
            "ipAddress": ip, "isPublic": True, "ipVersion": 4, "isWhitelisted": False,
            "abuseConfidenceScore": 100, "countryCode": "CN", "usageType": "Data Center/Web Hosting/Transit",
            "isp": "Tencent Cloud Computing (Beijing) Co. Ltd", "domain": "tencent.com", "hostnames": [],
            "totalReports": 1, "numDistinctUsers": 1, "lastReportedAt": "2018-12-20T20:55:14+00:00"}},
            headers={"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "999"})

    return app


async def test_against_independent_documented_server(tmp_path: Path) -> None:
    srv = ServerThread(documented_abuseipdb()).start()
    try:
        conf = [{"app": "AbuseIPDB", "asset_name": "abuse_doc",
                 "configuration": {"api_key": "doc-key", "base_url": f"{srv.url}/api/v2"}}]
        store = await make_store(write_assets(tmp_path / "a.json", conf))

        async def go(**params: Any) -> ActionResult:
            return await store.run(CONNECTOR.find("ip reputation"),
                                   ActionInput(asset="abuse_doc", params=params))

        r = await go(ip="118.25.6.39", days=90)
        assert r.message == "Confidence: 100%"
        assert r.summary["total_reports"] == 1 and r.summary["country_code"] == "CN"
        with pytest.raises(InvalidParameter, match="ipAddress"):
            await go(ip="203.0.113.255", days=90)
        with pytest.raises(RateLimited) as e:  # no Retry-After: falls back to the X-RateLimit-Reset epoch
            await go(ip="203.0.113.1", days=90)
        assert e.value.retry_after is not None
        assert e.value.retry_after.total_seconds() == pytest.approx(120, abs=5)
        await store.aclose()
    finally:
        srv.stop()
