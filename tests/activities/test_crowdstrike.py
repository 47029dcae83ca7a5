"""CrowdStrike Falcon connector against the simulator over real HTTP, the real CLI, and an independent
server speaking the documented API."""

from __future__ import annotations

import asyncio
import hashlib
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

from activities.crowdstrike import CONNECTOR
from core.approvals import load_keyring
from core.errors import (
    ApprovalRequired,
    AssetUnavailable,
    AuthError,
    InvalidParameter,
    NotFound,
    RateLimited,
    VendorResponseError,
    VendorUnavailable,
)
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import ROOT, get_settings
from simulator.credentials import CS_CLIENT_ID, CS_CLIENT_SECRET, DEMO_ENV
from tests.activities.conftest import ConnectorRunner, sign_approval
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Act = Callable[..., Awaitable[ActionResult]]
HOST = "WORKSTATION-042"
HOST_ID = hashlib.md5(HOST.lower().encode()).hexdigest()


def cs_assets(base_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example CrowdStrike asset (only it), pointed at `base_url`, with configuration overrides."""
    assets = [a for a in example_assets(base_url) if a["app"] == "CrowdStrike OAuth API"]
    assets[0]["configuration"].update(conf)
    return assets


def make_store(path: Path) -> AssetStore:
    return AssetStore.load(path, {"crowdstrike": CONNECTOR},
                           keyring=load_keyring(get_settings().trusted_keys_path))


@pytest.fixture
def act(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run actions on one asset store per configuration override (its client and token live across calls)."""
    return connector_runner(CONNECTOR, lambda **conf: cs_assets(sim.url, **conf), asset="crowdstrike")


def effects(sim: Any) -> dict[str, Any]:
    return sim.state()["effects"].get("crowdstrike", {})


def tokens_issued(sim: Any) -> int:
    return effects(sim).get("tokens_issued", {}).get(CS_CLIENT_ID, 0)


# --- happy paths ---------------------------------------------------------------------------------

async def test_get_system_info(act: Act, sim: Any) -> None:
    r = await act("get system info", {"hostname": HOST})
    assert r.status == "success" and r.message == f"{HOST}: Windows Windows 10, status normal"
    assert r.summary["device_id"] == HOST_ID and r.summary["status"] == "normal"
    assert r.data[0]["hostname"] == HOST and r.data[0]["local_ip"].startswith("10.")
    dc = await act("get system info", {"hostname": "dc01"})  # Falcon matches host names case-insensitively
    assert dc.summary["hostname"] == "DC01" and dc.summary["os_version"] == "Windows Server 2019"


async def test_quarantine_and_release(act: Act, sim: Any) -> None:
    r = await act("quarantine device", {"hostname": HOST}, approve=True)
    assert r.status == "success" and r.message == f"{HOST} isolated"
    assert r.summary["status"] == "contained" and r.summary["previous_status"] == "normal"
    assert r.data == [{"id": HOST_ID, "path": ""}]
    assert effects(sim)["contained"] == [HOST] and effects(sim)["contain_calls"] == {HOST: 1}
    info = await act("get system info", {"hostname": HOST})
    assert info.summary["status"] == "contained"
    r = await act("unquarantine device", {"hostname": HOST}, approve=True)
    assert r.message == f"{HOST} released" and effects(sim)["contained"] == []
    again = await act("unquarantine device", {"hostname": HOST}, approve=True)
    assert again.message == f"{HOST} already released" and effects(sim)["lift_calls"] == {HOST: 1}


async def test_quarantine_twice_contains_once(act: Act, sim: Any) -> None:
    first = await act("quarantine device", {"hostname": "SRV-DB-01"}, approve=True)
    second = await act("quarantine device", {"hostname": "SRV-DB-01"}, approve=True)
    assert first.message == "SRV-DB-01 isolated" and first.summary["already"] is False
    assert second.status == "success" and second.message == "SRV-DB-01 already isolated"
    assert second.summary["already"] is True
    assert effects(sim)["contain_calls"] == {"SRV-DB-01": 1}


async def test_quarantine_without_approval_never_calls_vendor(act: Act, sim: Any) -> None:
    for action in ("quarantine device", "unquarantine device"):
        with pytest.raises(ApprovalRequired, match="high impact"):
            await act(action, {"hostname": HOST})
    assert sim.state()["calls"].get("crowdstrike", 0) == 0
    spec = CONNECTOR.find("quarantine device")
    assert spec.high_impact and not spec.read_only and spec.target == "hostname"
    assert CONNECTOR.find("get system info").read_only


async def test_test_connectivity(act: Act, sim: Any) -> None:
    r = await act("test connectivity")
    assert r.status == "success" and "token obtained" in r.message and r.summary["devices"] == 3


def test_activity_names() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "crowdstrike.get_system_info", "crowdstrike.quarantine_device", "crowdstrike.unquarantine_device",
        "crowdstrike.test_connectivity"}


# --- the token -------------------------------------------------------------------------------------

async def test_token_is_reused_across_actions(act: Act, sim: Any) -> None:
    for host in ("WORKSTATION-001", "LAPTOP-7", "SRV-9", "DC01"):
        await act("get system info", {"hostname": host})
    await act("quarantine device", {"hostname": "LAPTOP-7"}, approve=True)
    assert tokens_issued(sim) == 1
    assert sim.state()["calls"]["crowdstrike"] == 1 + 4 * 2 + 3  # one token, then only API calls


async def test_concurrent_actions_share_one_token(act: Act, sim: Any) -> None:
    await asyncio.gather(*(act("get system info", {"hostname": f"WORKSTATION-{i}"}) for i in range(6)))
    assert tokens_issued(sim) == 1


async def test_injected_401_refreshes_token_once(act: Act, sim: Any) -> None:
    await act("get system info", {"hostname": HOST})
    sim.fault(vendor="crowdstrike", status=401, count=1)  # the vendor expired our token
    r = await act("get system info", {"hostname": HOST})
    assert r.status == "success" and tokens_issued(sim) == 2
    await act("get system info", {"hostname": HOST})
    assert tokens_issued(sim) == 2


async def test_token_forgotten_by_vendor_is_replaced(act: Act, sim: Any) -> None:
    await act("get system info", {"hostname": HOST})
    sim.reset()  # the vendor forgets every token: the next call gets a genuine 401
    r = await act("quarantine device", {"hostname": HOST}, approve=True)
    assert r.message == f"{HOST} isolated" and tokens_issued(sim) == 1
    assert sim.state()["calls"]["crowdstrike"] == 5  # query (401), token, query, details, contain


async def test_401_after_refresh_is_auth_error(act: Act, sim: Any) -> None:
    await act("get system info", {"hostname": HOST})
    sim.fault(vendor="crowdstrike", status=401, count=2)
    with pytest.raises(AuthError, match="invalid bearer token"):
        await act("get system info", {"hostname": HOST})
    # query (401), one token refresh (answered 401 too), and no further attempt
    assert sim.state()["calls"]["crowdstrike"] == 3 + 2 and tokens_issued(sim) == 1


# --- errors ----------------------------------------------------------------------------------------

async def test_wrong_secret_is_auth_error_naming_asset_without_secret(act: Act, sim: Any) -> None:
    bad = "wrong-cs-secret-987654321"
    with pytest.raises(AuthError) as e:
        await act("get system info", {"hostname": HOST}, client_secret=bad)
    msg = str(e.value)
    assert "'crowdstrike'" in msg and "Failed to issue access token" in msg and "client_secret" in msg
    assert bad not in msg and CS_CLIENT_SECRET not in msg
    assert sim.state()["calls"] == {"crowdstrike": 1} and tokens_issued(sim) == 0


async def test_unknown_host_is_not_found(act: Act, sim: Any) -> None:
    with pytest.raises(NotFound, match="no device with hostname 'PRINTER-7'") as e:
        await act("quarantine device", {"hostname": "PRINTER-7"}, approve=True)
    assert not e.value.retryable and "contain_calls" not in effects(sim)


async def test_429_honours_epoch_retry_after(act: Act, sim: Any) -> None:
    await act("get system info", {"hostname": HOST})
    sim.fault(vendor="crowdstrike", status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as e:
        await act("get system info", {"hostname": HOST})
    assert e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(7, abs=1.5)
    assert "API rate limit exceeded" in str(e.value)
    assert (await act("get system info", {"hostname": HOST})).status == "success"


async def test_quota_exhausted_is_rate_limited(act: Act, sim: Any) -> None:
    sim.quota(crowdstrike=3)  # token, device query, device details
    await act("get system info", {"hostname": HOST})
    with pytest.raises(RateLimited, match="API rate limit exceeded") as e:
        await act("get system info", {"hostname": HOST})
    assert e.value.retry_after is not None and 1 <= e.value.retry_after.total_seconds() <= 61


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_vendor_unavailable(act: Act, sim: Any, status: int) -> None:
    sim.fault(vendor="crowdstrike", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await act("get system info", {"hostname": HOST})
    assert e.value.retryable


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"meta": {}, "resources": ["a1b2', "application/json"),
    ("<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"),
    ('{"meta": {}, "resources": [], "errors": [{"code": 500, "message": "query failed"}]}', "text/json"),
    ('["not", "an", "envelope"]', "application/json"),
])
async def test_malformed_body_is_vendor_response_error(act: Act, sim: Any, body: str, ctype: str) -> None:
    await act("get system info", {"hostname": HOST})
    sim.fault(vendor="crowdstrike", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await act("get system info", {"hostname": HOST})
    assert not e.value.retryable


@pytest.mark.parametrize("params", [
    {"hostname": "x' , hostname:'*"}, {"hostname": "WORKSTATION-042' OR hostname:*'"}, {"hostname": ""},
    {"hostname": "two words"}, {"hostname": "a" * 300}, {"hostname": "-leading-dash"}, {}, {"hostname": 42},
    {"hostname": HOST, "extra": "x"},
])
async def test_invalid_parameter_never_reaches_vendor(act: Act, sim: Any, params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        await act("quarantine device", params, approve=True)
    assert str(e.value).startswith("quarantine device: parameter '") and "cef." not in str(e.value)
    assert sim.state()["calls"].get("crowdstrike", 0) == 0


def test_config_validation(tmp_path: Path) -> None:
    with pytest.raises(AssetUnavailable, match="member_cid"):
        make_store(write_assets(tmp_path / "a.json", cs_assets("http://x", member_cid="not-a-cid"))).get("crowdstrike")
    minimal = {"app": "CrowdStrike OAuth API", "asset_name": "cs",
               "configuration": {"client_id": "id", "client_secret": "s"}}
    store = make_store(write_assets(tmp_path / "b.json", [minimal]))
    assert store.get("cs").settings.base_url == "https://api.crowdstrike.com"


# --- the simulator's wire format -------------------------------------------------------------------

def test_simulator_wire_format(sim: Any) -> None:
    url = f"{sim.url}/crowdstrike"
    tok = httpx.post(f"{url}/oauth2/token",
                     data={"client_id": CS_CLIENT_ID, "client_secret": CS_CLIENT_SECRET})
    assert tok.status_code == 201 and tok.json()["token_type"] == "bearer"
    assert tok.json()["expires_in"] == 1799
    h = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    q = httpx.get(f"{url}/devices/queries/devices/v1",
                  params={"filter": "hostname:'LAPTOP-1',hostname:'DC01'"}, headers=h)
    assert q.status_code == 200 and len(q.json()["resources"]) == 2 and q.json()["errors"] == []
    assert q.headers["X-Ratelimit-Limit"] == "6000" and int(q.headers["X-Ratelimit-Remaining"]) < 6000
    bad = httpx.get(f"{url}/devices/queries/devices/v1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["errors"] == [{"code": 401, "message": "access denied, invalid bearer token"}]
    assert "X-Ratelimit-Remaining" in bad.headers
    inj = httpx.get(f"{url}/devices/queries/devices/v1", params={"filter": "x' , hostname:'*"}, headers=h)
    assert inj.status_code == 400
    sim.fault(vendor="crowdstrike", status=429, count=1, retry_after=30)
    throttled = httpx.get(f"{url}/devices/queries/devices/v1", headers=h)
    assert throttled.status_code == 429 and "Retry-After" not in throttled.headers
    assert int(throttled.headers["X-Ratelimit-Retryafter"]) == pytest.approx(time.time() + 30, abs=2)


# --- the real CLI ----------------------------------------------------------------------------------

def test_cli_quarantine(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", cs_assets(sim.url))
    env = {**os.environ, **DEMO_ENV}
    cmd = [".venv/bin/soar", "action", "run", "crowdstrike", "quarantine device", "--param",
           f"hostname={HOST}", "--assets", str(assets)]
    refused = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and json.loads(refused.stdout)["error"] == "ApprovalRequired"
    assert sim.state()["calls"].get("crowdstrike", 0) == 0
    env["SOAR_DATA_DIR"] = str(tmp_path / "data")
    no_reason = subprocess.run([*cmd, "--approve-as", "alice"], cwd=ROOT, env=env, capture_output=True, text=True,
                               timeout=120)
    assert no_reason.returncode == 2 and "--operator-reason" in json.loads(no_reason.stdout)["message"]
    assert sim.state()["calls"].get("crowdstrike", 0) == 0
    ok = subprocess.run([*cmd, "--approve-as", "alice", "--operator-reason", "IR ticket 42: ransomware beacon"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["message"] == f"{HOST} isolated" and effects(sim)["contained"] == [HOST]
    audit = [json.loads(line) for line in (tmp_path / "data" / "audit" / "operator-approvals.jsonl").open()]
    assert [(a["kind"], a["responder"], a["action"], a["target"], a["reason"]) for a in audit] == [
        ("operator_approval", "alice", "quarantine device", HOST, "IR ticket 42: ransomware beacon")]
    test = subprocess.run([".venv/bin/soar", "asset", "test", "crowdstrike", "--assets", str(assets)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert test.returncode == 0 and "connectivity OK" in test.stdout


# --- an independent server speaking the documented API ---------------------------------------------

def documented_falcon() -> tuple[FastAPI, dict[str, Any]]:
    """A minimal Falcon: documented token, device query/details and contain answers. The first device
    query answers 401 (token revoked) and containing `BUSY-HOST` answers 429 with only the epoch header."""
    app = FastAPI()
    seen: dict[str, Any] = {"tokens": 0, "forms": [], "api_401": 0, "contain_bodies": []}
    aid = "4d6b5b6e2e6f4b1e8e7d2c3b4a596877"
    retry_at = int(time.time()) + 90

    def env(resources: list[Any], status: int = 200, **headers: str) -> JSONResponse:
        return JSONResponse({"meta": {"query_time": 0.0123, "powered_by": "device-api", "trace_id": "t-1"},
                             "resources": resources, "errors": []}, status,
                            headers={"X-Ratelimit-Limit": "6000", "X-Ratelimit-Remaining": "5999", **headers})

    def authorized(request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer doc-token-{seen['tokens']}"

    @app.post("/oauth2/token")
    async def token(request: Request) -> JSONResponse:
        seen["forms"].append(dict(await request.form()))
        seen["tokens"] += 1
        return JSONResponse({"access_token": f"doc-token-{seen['tokens']}", "token_type": "bearer",
                             "expires_in": 1799}, 201)

    @app.get("/devices/queries/devices/v1")
    async def query(request: Request) -> JSONResponse:
        f = request.query_params["filter"]
        if seen["api_401"] == 0 or not authorized(request) or f == "hostname:'DENIED-1'":
            seen["api_401"] += 1
            denied = {"code": 401, "message": "access denied, invalid bearer token"}
            return JSONResponse({"meta": {}, "errors": [denied]}, 401)
        return env([aid] if f in ("hostname:'FIN-LT-07'", "hostname:'BUSY-HOST'") else [])

    @app.get("/devices/entities/devices/v2")
    async def details(request: Request) -> JSONResponse:
        assert authorized(request) and request.query_params.getlist("ids") == [aid]
        return env([{"device_id": aid, "cid": "c" * 32, "hostname": "FIN-LT-07", "local_ip": "10.1.2.3",
                     "external_ip": "198.51.100.4", "mac_address": "00-11-22-33-44-55",
                     "platform_name": "Windows", "os_version": "Windows 10", "agent_version": "7.10.17706.0",
                     "first_seen": "2024-01-01T00:00:00Z", "last_seen": "2024-05-01T12:00:00Z",
                     "status": "normal"}])

    @app.post("/devices/entities/devices-actions/v2")
    async def contain(request: Request) -> JSONResponse:
        assert authorized(request) and request.query_params["action_name"] == "contain"
        seen["contain_bodies"].append(await request.json())
        if len(seen["contain_bodies"]) > 1:
            throttled = {"code": 429, "message": "API rate limit exceeded."}
            return JSONResponse({"meta": {}, "resources": [], "errors": [throttled]}, 429,
                                headers={"X-Ratelimit-Retryafter": str(retry_at)})
        return env([{"id": aid, "path": ""}], 202)

    return app, seen


async def test_against_independent_documented_server(tmp_path: Path) -> None:
    app, seen = documented_falcon()
    srv = ServerThread(app).start()
    cid = "0123456789ABCDEF0123456789ABCDEF"
    try:
        conf = [{"app": "CrowdStrike OAuth API", "asset_name": "cs_doc", "configuration": {
            "client_id": "doc-id", "client_secret": "doc-secret", "base_url": srv.url, "member_cid": cid}}]
        store = make_store(write_assets(tmp_path / "a.json", conf))

        async def go(action: str, host: str) -> ActionResult:
            return await store.run(CONNECTOR.find(action), ActionInput(
                asset="cs_doc", params={"hostname": host}, container_id="SOAR-DOC",
                approval=sign_approval(action, host, "crowdstrike", "SOAR-DOC")))

        r = await go("quarantine device", "FIN-LT-07")
        assert r.message == "FIN-LT-07 isolated" and r.summary["local_ip"] == "10.1.2.3"
        assert seen["tokens"] == 2 and seen["api_401"] == 1  # the first token was refused once, then renewed
        assert seen["forms"][0] == {"client_id": "doc-id", "client_secret": "doc-secret",
                                    "member_cid": cid.lower()}
        assert seen["contain_bodies"] == [{"ids": ["4d6b5b6e2e6f4b1e8e7d2c3b4a596877"]}]
        with pytest.raises(NotFound):
            await go("get system info", "NOPE-1")
        with pytest.raises(AuthError, match="invalid bearer token"):  # still 401 after one refresh
            await go("get system info", "DENIED-1")
        assert seen["tokens"] == 3 and seen["api_401"] == 3
        with pytest.raises(RateLimited) as e:
            await go("quarantine device", "BUSY-HOST")
        assert e.value.retry_after is not None
        assert e.value.retry_after.total_seconds() == pytest.approx(90, abs=5)
        await store.aclose()
    finally:
        srv.stop()
