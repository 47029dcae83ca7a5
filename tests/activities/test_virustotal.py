"""VirusTotal v3 connector against the simulator over real HTTP, the real CLI, and an independent server."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.virustotal import CONNECTOR
from core.errors import AuthError, InvalidParameter, RateLimited, VendorResponseError, VendorUnavailable
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore, to_application_error
from core.settings import ROOT
from simulator.credentials import DEMO_ENV, VT_API_KEY
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Run = Callable[..., Awaitable[ActionResult]]
MAL_SHA256 = "deadbeef" + "a" * 56
MAL_MD5 = "deadbeef" + "0" * 24


def vt_assets(sim_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example VirusTotal asset (only it), pointed at `sim_url`, with configuration overrides."""
    assets = [a for a in example_assets(sim_url) if a["app"] == "VirusTotal v3"]
    assets[0]["configuration"].update(conf)
    return assets


@pytest.fixture
def run(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run a VirusTotal action in-process; `**conf` overrides the asset configuration."""
    return connector_runner(CONNECTOR, lambda **conf: vt_assets(sim.url, **conf), asset="virustotal")


def lookups(sim: Any) -> dict[str, int]:
    return sim.state()["effects"].get("virustotal", {}).get("lookups", {})


# --- happy paths ---------------------------------------------------------------------------------

async def test_url_reputation_malicious(run: Run, sim: Any) -> None:
    url = "http://malicious.example.com/login"
    r = await run("url reputation", {"url": url})
    assert r.status == "success"
    assert r.message == "14/90 engines malicious"
    assert r.summary == {"found": True, "malicious": 14, "suspicious": 1, "harmless": 60, "undetected": 15,
                         "total_engines": 90, "reputation": -42}
    row = r.data[0]
    assert row["id"] == hashlib.sha256(url.encode()).hexdigest()
    assert row["type"] == "url" and row["url"] == url
    assert len(row["detections"]) == 15
    assert {d["category"] for d in row["detections"]} == {"malicious", "suspicious"}
    assert lookups(sim) == {url: 1}


@pytest.mark.parametrize(("url", "message", "malicious"), [
    ("https://suspicious.example.net/a?b=c", "3/90 engines malicious", 3),
    ("https://www.example.org/", "0/90 engines malicious", 0),
])
async def test_url_reputation_other_verdicts(run: Run, sim: Any, url: str, message: str,
                                             malicious: int) -> None:
    r = await run("url reputation", {"url": url})
    assert (r.message, r.summary["malicious"], r.summary["found"]) == (message, malicious, True)
    assert lookups(sim) == {url: 1}


async def test_unknown_url_is_no_data_not_failure(run: Run, sim: Any) -> None:
    url = "https://unknown.example.com/x"
    r = await run("url reputation", {"url": url})
    assert r.status == "success"
    assert r.message == f"No VirusTotal data for {url}"
    assert r.summary["found"] is False
    assert (r.summary["malicious"], r.summary["total_engines"]) == (0, 0)
    clean = await run("url reputation", {"url": "https://www.example.org/"})
    assert clean.summary["found"] is True and clean.summary["malicious"] == 0  # distinguishable from unknown
    assert lookups(sim) == {url: 1, "https://www.example.org/": 1}


async def test_file_reputation_counts_hyphenated_categories(run: Run, sim: Any) -> None:
    r = await run("file reputation", {"hash": MAL_SHA256.upper()})
    assert r.message == "45/72 engines malicious"
    assert r.summary["positives"] == 45 and r.summary["total_engines"] == 72
    stats = r.data[0]["last_analysis_stats"]
    assert {"confirmed-timeout", "type-unsupported", "failure"} <= set(stats)
    assert r.data[0]["sha256"] == MAL_SHA256
    md5 = await run("file reputation", {"hash": MAL_MD5})
    assert md5.summary["malicious"] == 45 and md5.data[0]["md5"] == MAL_MD5
    assert lookups(sim) == {MAL_SHA256: 1, MAL_MD5: 1}


@pytest.mark.parametrize(("h", "message", "found"), [
    ("badc0de" + "1" * 33, "3/72 engines malicious", True),
    ("a" * 40, "0/72 engines malicious", True),
    ("0000" + "f" * 60, "No VirusTotal data for " + "0000" + "f" * 60, False),
])
async def test_file_reputation_other_verdicts(run: Run, h: str, message: str, found: bool) -> None:
    r = await run("file reputation", {"hash": h})
    assert (r.status, r.message, r.summary["found"]) == ("success", message, found)
    assert r.summary["positives"] == r.summary["malicious"]


@pytest.mark.parametrize(("ip", "message"), [
    ("198.51.100.7", "8/90 engines malicious"), ("192.0.2.15", "2/90 engines malicious"),
    ("8.8.8.8", "0/90 engines malicious"), ("2001:db8::1", "0/90 engines malicious"),
])
async def test_ip_reputation(run: Run, sim: Any, ip: str, message: str) -> None:
    r = await run("ip reputation", {"ip": ip})
    assert r.message == message and r.summary["total_engines"] == 90
    assert r.data[0]["type"] == "ip_address" and "as_owner" in r.data[0]
    assert lookups(sim) == {ip: 1}


async def test_domain_reputation(run: Run, sim: Any) -> None:
    r = await run("domain reputation", {"domain": "Evil-Login.Example.COM."})
    assert r.message == "14/90 engines malicious"
    assert r.data[0]["id"] == "evil-login.example.com" and r.data[0]["registrar"]
    missing = await run("domain reputation", {"domain": "unknown-host.example"})
    assert missing.summary["found"] is False
    assert lookups(sim) == {"evil-login.example.com": 1, "unknown-host.example": 1}


async def test_test_connectivity(run: Run, sim: Any) -> None:
    r = await run("test connectivity")
    assert r.status == "success" and "API key accepted" in r.message
    assert sim.state()["calls"] == {"virustotal": 1}
    assert lookups(sim) == {}


def test_activity_names() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "virustotal.url_reputation", "virustotal.file_reputation", "virustotal.ip_reputation",
        "virustotal.domain_reputation", "virustotal.test_connectivity"}
    assert {s.target for s in CONNECTOR.actions.values()} == {"url", "hash", "ip", "domain", None}
    assert all(s.read_only and not s.high_impact for s in CONNECTOR.actions.values())


# --- errors ----------------------------------------------------------------------------------------

async def test_wrong_key_is_auth_error_naming_asset_without_secret(run: Run, sim: Any) -> None:
    bad = "wrong-vt-key-987654321"
    with pytest.raises(AuthError) as e:
        await run("ip reputation", {"ip": "8.8.8.8"}, api_key=bad)
    msg = str(e.value)
    assert "'virustotal'" in msg and "WrongCredentialsError" in msg and "api_key" in msg
    assert bad not in msg and VT_API_KEY not in msg
    assert not e.value.retryable
    assert sim.state()["calls"] == {"virustotal": 1}
    assert lookups(sim) == {}  # rejected before any lookup


async def test_quota_429_honours_retry_after(run: Run, sim: Any) -> None:
    sim.fault(vendor="virustotal", status=429, count=1, retry_after=2)
    with pytest.raises(RateLimited) as e:
        await run("url reputation", {"url": "https://www.example.org/"})
    assert e.value.retryable and e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(2, abs=0.5)
    assert "QuotaExceededError" in str(e.value)


async def test_quota_429_without_header_waits_a_quota_minute(run: Run, sim: Any) -> None:
    sim.fault(vendor="virustotal", status=429, count=1)
    with pytest.raises(RateLimited) as e:
        await run("file reputation", {"hash": MAL_SHA256})
    assert e.value.retry_after is not None and e.value.retry_after.total_seconds() == 60
    app_err = to_application_error(e.value, None)  # what Temporal's retry policy sees
    assert (app_err.type, app_err.non_retryable, app_err.next_retry_delay) == (
        "RateLimited", False, timedelta(seconds=60))
    r = await run("file reputation", {"hash": MAL_SHA256})  # the fault is spent: next call succeeds
    assert r.summary["malicious"] == 45


@pytest.mark.parametrize("status", [500, 503, 504])
async def test_5xx_is_vendor_unavailable(run: Run, sim: Any, status: int) -> None:
    sim.fault(vendor="virustotal", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await run("ip reputation", {"ip": "8.8.8.8"})
    assert e.value.retryable and f"HTTP {status}" in str(e.value)


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"data": {"type": "url", "attributes": {"last_analysis_st', "application/json"),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    ('{"data": {"type": "url", "id": "x", "attributes": {}}}', "application/json"),
])
async def test_malformed_body_is_vendor_response_error(run: Run, sim: Any, body: str, ctype: str) -> None:
    sim.fault(vendor="virustotal", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await run("url reputation", {"url": "https://www.example.org/"})
    assert not e.value.retryable and len(str(e.value)) < 400


async def test_404_without_vt_envelope_means_wrong_base_url(run: Run, sim: Any) -> None:
    with pytest.raises(VendorResponseError, match="base_url"):
        await run("ip reputation", {"ip": "8.8.8.8"}, base_url=f"{sim.url}/nowhere/api/v3")


@pytest.mark.parametrize(("action", "params", "field"), [
    ("url reputation", {"url": "not a url"}, "url"),
    ("url reputation", {"url": "javascript:alert(1)"}, "url"),
    ("file reputation", {"hash": "xyz"}, "hash"),
    ("file reputation", {"hash": "a" * 33}, "hash"),
    ("ip reputation", {"ip": "999.1.1.1"}, "ip"),
    ("domain reputation", {"domain": "-bad-.example/"}, "domain"),
    ("ip reputation", {}, "ip"),
    ("ip reputation", {"ip": "8.8.8.8", "days": 3}, "days"),
])
async def test_invalid_parameter_never_reaches_vendor(run: Run, sim: Any, action: str, params: dict[str, Any],
                                                      field: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        await run(action, params)
    assert f"'{field}'" in str(e.value) and "cef." not in str(e.value)
    assert sim.state()["calls"].get("virustotal", 0) == 0


# --- the simulator's wire format -------------------------------------------------------------------

def test_simulator_accepts_url_sha256_id_and_checks_key(sim: Any) -> None:
    url = "http://evil.example.com/payload"
    b64 = base64.urlsafe_b64encode(url.encode()).decode().strip("=")
    sha = hashlib.sha256(url.encode()).hexdigest()
    h = {"x-apikey": VT_API_KEY}
    first = httpx.get(f"{sim.url}/virustotal/api/v3/urls/{b64}", headers=h).json()["data"]
    second = httpx.get(f"{sim.url}/virustotal/api/v3/urls/{sha}", headers=h).json()["data"]
    assert first["id"] == second["id"] == sha
    assert second["attributes"]["url"] == url
    assert first["links"]["self"].endswith(f"/virustotal/api/v3/urls/{sha}")
    missing = httpx.get(f"{sim.url}/virustotal/api/v3/urls/{b64}")
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "AuthenticationRequiredError"
    assert lookups(sim) == {url: 2}


# --- the real CLI ----------------------------------------------------------------------------------

def cli(args: list[str], assets: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **DEMO_ENV}
    return subprocess.run([".venv/bin/soar", *args, "--assets", str(assets)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_action_run(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", vt_assets(sim.url))
    ok = cli(["action", "run", "virustotal", "url reputation", "--param", "url=http://malicious.example.com/"],
             assets)
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["status"] == "success" and out["message"] == "14/90 engines malicious"
    assert lookups(sim) == {"http://malicious.example.com/": 1}
    bad = cli(["action", "run", "virustotal", "file reputation", "--param", "hash=nothex"], assets)
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"] == "InvalidParameter"
    test = cli(["asset", "test", "virustotal"], assets)
    assert test.returncode == 0 and "connectivity OK" in test.stdout


# --- an independent server speaking the documented API ---------------------------------------------

def documented_vt() -> FastAPI:
    """A minimal VirusTotal: the documented file object, envelope errors, unpadded base64 URL ids."""
    app = FastAPI()
    eicar = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    seen: list[str] = []

    @app.middleware("http")
    async def auth(request: Request, call_next):  # type: ignore[no-untyped-def]
        if request.headers.get("x-apikey") != "doc-key":
            return JSONResponse({"error": {"code": "WrongCredentialsError", "message": "Wrong API key"}}, 401)
        seen.append(request.url.path)
        return await call_next(request)

    @app.get("/api/v3/files/upload_url")
    async def upload() -> JSONResponse:
        return JSONResponse({"data": "https://www.virustotal.com/_ah/upload/AMmfu6b"})

    @app.get("/api/v3/files/{fid}")
    async def files(fid: str) -> JSONResponse:
        if fid not in (eicar, "44d88612fea8a8f36de82e1278abb02f"):
            return JSONResponse({"error": {"code": "NotFoundError", "message": f'File "{fid}" not found'}},
                                404)
        stats = {"harmless": 0, "type-unsupported": 4, "suspicious": 0, "confirmed-timeout": 0, "timeout": 1,
                 "failure": 0, "malicious": 61, "undetected": 10}
        return JSONResponse({"data": {"attributes": {
            "type_description": "Text", "md5": "44d88612fea8a8f36de82e1278abb02f", "sha256": eicar,
            "meaningful_name": "eicar.com", "reputation": 3401, "last_analysis_stats": stats,
            "last_analysis_results": {"Bkav": {"category": "malicious", "engine_name": "Bkav",
                                               "engine_version": "2.0.0.1", "result": "W32.EicarTest.Trojan",
                                               "method": "blacklist", "engine_update": "20240101"}}},
            "type": "file", "id": eicar, "links": {"self": f"https://www.virustotal.com/api/v3/files/{eicar}"}}})

    @app.get("/api/v3/urls/{uid}")
    async def urls(uid: str) -> JSONResponse:
        # base64 of "https://ab.io/" (14 bytes) ends in "="; VirusTotal wants it stripped.
        if uid != "aHR0cHM6Ly9hYi5pby8":
            return JSONResponse({"error": {"code": "NotFoundError", "message": "URL not found"}}, 404)
        return JSONResponse({"error": {"code": "QuotaExceededError", "message": "Quota exceeded"}}, 429)

    app.state.seen = seen
    return app


async def test_against_independent_documented_server(tmp_path: Path) -> None:
    app = documented_vt()
    srv = ServerThread(app).start()
    try:
        conf = [{"app": "VirusTotal v3", "asset_name": "vt_doc",
                 "configuration": {"api_key": "doc-key", "base_url": f"{srv.url}/api/v3"}}]
        store = AssetStore.load(write_assets(tmp_path / "a.json", conf), {"virustotal": CONNECTOR})

        async def go(action: str, **params: str) -> ActionResult:
            return await store.run(CONNECTOR.find(action),
                                   ActionInput(asset="vt_doc", params=params))

        r = await go("file reputation", hash="44D88612FEA8A8F36DE82E1278ABB02F")
        assert r.message == "61/76 engines malicious" and r.summary["positives"] == 61
        assert r.data[0]["detections"] == [{"engine": "Bkav", "category": "malicious",
                                            "result": "W32.EicarTest.Trojan"}]
        assert (await go("file reputation", hash="1" * 64)).summary["found"] is False
        with pytest.raises(RateLimited) as e:  # only reached if the id is unpadded base64url
            await go("url reputation", url="https://ab.io/")
        assert e.value.retry_after is not None and e.value.retry_after.total_seconds() == 60
        assert (await go("test connectivity")).status == "success"
        assert app.state.seen[-1] == "/api/v3/files/upload_url"
        await store.aclose()
    finally:
        srv.stop()
