"""ServiceNow connector against the simulator over real HTTP, the real CLI, and an independent server
speaking the documented Table API."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from activities.servicenow import CONNECTOR
from core.errors import (
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
from core.settings import ROOT
from simulator.credentials import DEMO_ENV, SNOW_PASSWORD, SNOW_USERNAME
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread

Act = Callable[..., Awaitable[ActionResult]]
SYS_ID = re.compile(r"^[0-9a-f]{32}$")


def snow_assets(base_url: str, **conf: Any) -> list[dict[str, Any]]:
    """The example ServiceNow asset (only it), pointed at `base_url`, with configuration overrides."""
    assets = [a for a in example_assets(base_url) if a["app"] == "ServiceNow"]
    assets[0]["configuration"].update(conf)
    return assets


def make_store(path: Path) -> AssetStore:
    return AssetStore.load(path, {"servicenow": CONNECTOR})


@pytest.fixture
def act(sim: Any, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run actions on one asset store per configuration override; `correlation_id` is the action input's."""
    return connector_runner(CONNECTOR, lambda **conf: snow_assets(sim.url, **conf), asset="servicenow")


def incidents(sim: Any) -> dict[str, dict[str, Any]]:
    return sim.state()["effects"].get("servicenow", {}).get("incidents", {})


# --- happy paths ---------------------------------------------------------------------------------

async def test_create_ticket(act: Act, sim: Any) -> None:
    r = await act("create ticket", {"short_description": "Malicious IP blocked", "urgency": 1, "impact": "2",
                                    "description": "198.51.100.7", "correlation_id": "case-42"})
    assert r.status == "success" and r.message == "INC0010001 created"
    assert r.summary["number"] == "INC0010001" and SYS_ID.match(r.summary["sys_id"])
    assert (r.summary["state"], r.summary["priority"], r.summary["created"]) == ("1", "2", True)
    inc = incidents(sim)["INC0010001"]
    assert inc["short_description"] == "Malicious IP blocked" and inc["correlation_id"] == "case-42"
    assert inc["urgency"] == "1" and all(isinstance(v, str) for v in inc.values())
    second = await act("create ticket", {"short_description": "Another", "correlation_id": "case-43"})
    assert second.message == "INC0010002 created" and second.summary["priority"] == "5"


async def test_create_twice_same_correlation_id_opens_one_incident(act: Act, sim: Any) -> None:
    params = {"short_description": "Phishing reported by jdoe"}
    first = await act("create ticket", params, correlation_id="playbook/phishing/c-7#3")
    again = await act("create ticket", params, correlation_id="playbook/phishing/c-7#3")
    assert first.message == "INC0010001 created" and again.message == "INC0010001 exists"
    assert again.summary == {**first.summary, "created": False}
    # an explicit parameter wins over the action's correlation id, and is idempotent too
    explicit = {**params, "correlation_id": "ticket-for-case-7"}
    assert (await act("create ticket", explicit, correlation_id="x")).message == "INC0010002 created"
    assert (await act("create ticket", explicit, correlation_id="y")).message == "INC0010002 exists"
    assert sorted(incidents(sim)) == ["INC0010001", "INC0010002"]


async def test_unsafe_correlation_id_is_digested_and_still_idempotent(act: Act, sim: Any) -> None:
    corr = "playbook/phishing triage/c^7=1#2"  # spaces, '^' and '=' would break the encoded query
    a = await act("create ticket", {"short_description": "x"}, correlation_id=corr)
    b = await act("create ticket", {"short_description": "x"}, correlation_id=corr)
    assert (a.message, b.message) == ("INC0010001 created", "INC0010001 exists")
    assert incidents(sim)["INC0010001"]["correlation_id"].startswith("soar-")


async def test_retry_after_lost_answer_does_not_duplicate(act: Act, sim: Any) -> None:
    sim.fault(vendor="servicenow", count=1)  # the lookup goes through untouched
    sim.fault(vendor="servicenow", count=1, latency_ms=1500)  # the insert answers after our timeout
    with pytest.raises(VendorUnavailable, match="timed out"):
        await act("create ticket", {"short_description": "Slow"}, correlation_id="run-1#0", timeout_s=0.5)
    await asyncio.sleep(1.5)  # the instance finished the insert anyway
    r = await act("create ticket", {"short_description": "Slow"}, correlation_id="run-1#0", timeout_s=0.5)
    assert r.message == "INC0010001 exists" and list(incidents(sim)) == ["INC0010001"]


async def test_get_and_update_ticket(act: Act, sim: Any) -> None:
    created = await act("create ticket", {"short_description": "Host isolated"}, correlation_id="c-1")
    by_number = await act("get ticket", {"id": "inc0010001"})
    by_sys_id = await act("get ticket", {"id": created.summary["sys_id"].upper()})
    assert by_number.summary == by_sys_id.summary == {k: created.summary[k] for k in
                                                       ("number", "sys_id", "state", "priority",
                                                        "created_ticket_id")}
    assert by_number.message == "INC0010001: state 1, priority 5"
    r = await act("update ticket", {"id": "INC0010001", "fields": {"state": "2", "urgency": 1,
                                                                    "work_notes": "contained by SOAR"}})
    assert r.message == "INC0010001 updated (state, urgency, work_notes)"
    assert (r.summary["state"], r.summary["priority"]) == ("2", "3")
    inc = incidents(sim)["INC0010001"]
    assert inc["work_notes"] == "contained by SOAR" and inc["sys_mod_count"] == "1"


async def test_other_table(act: Act, sim: Any) -> None:
    r = await act("create ticket", {"short_description": "Recurring phishing", "table": "problem"},
                  correlation_id="p-1")
    assert r.message == "PRB0010001 created"
    got = await act("get ticket", {"id": "PRB0010001", "table": "problem"})
    assert got.summary["number"] == "PRB0010001"
    assert incidents(sim) == {} and "PRB0010001" in sim.state()["effects"]["servicenow"]["problem"]


async def test_missing_ticket_is_not_found(act: Act, sim: Any) -> None:
    with pytest.raises(NotFound, match="INC0099999"):
        await act("get ticket", {"id": "INC0099999"})
    with pytest.raises(NotFound):
        await act("update ticket", {"id": "0" * 32, "fields": {"state": "2"}})


async def test_test_connectivity(act: Act, sim: Any) -> None:
    r = await act("test connectivity")
    assert r.status == "success" and r.message.endswith(f"as {SNOW_USERNAME}")


def test_action_flags() -> None:
    assert {CONNECTOR.activity_name(s) for s in CONNECTOR.actions.values()} == {
        "servicenow.create_ticket", "servicenow.get_ticket", "servicenow.update_ticket",
        "servicenow.test_connectivity"}
    assert not CONNECTOR.find("create ticket").read_only and CONNECTOR.find("get ticket").read_only
    assert not any(s.high_impact for s in CONNECTOR.actions.values())


# --- errors ----------------------------------------------------------------------------------------

async def test_wrong_password_is_auth_error_naming_asset_without_secret(act: Act, sim: Any) -> None:
    bad = "wrong-snow-password-4242"
    with pytest.raises(AuthError) as e:
        await act("create ticket", {"short_description": "x"}, password=bad)
    msg = str(e.value)
    assert "'servicenow'" in msg and "User Not Authenticated" in msg and "username/password" in msg
    assert bad not in msg and SNOW_PASSWORD not in msg
    assert sim.state()["calls"] == {"servicenow": 1} and incidents(sim) == {}


async def test_429_honours_retry_after(act: Act, sim: Any) -> None:
    sim.fault(vendor="servicenow", status=429, count=1, retry_after=7)
    with pytest.raises(RateLimited) as e:
        await act("get ticket", {"id": "INC0010001"})
    assert e.value.retry_after is not None
    assert e.value.retry_after.total_seconds() == pytest.approx(7, abs=0.5)
    assert "Rate limit exceeded" in str(e.value)


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_5xx_is_vendor_unavailable(act: Act, sim: Any, status: int) -> None:
    sim.fault(vendor="servicenow", status=status, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await act("create ticket", {"short_description": "x"})
    assert e.value.retryable and incidents(sim) == {}


@pytest.mark.parametrize(("body", "ctype"), [
    ('{"result": [{"number": "INC00', "application/json"),
    ("<html><head><title>Instance Hibernating page</title></head><body>wake it</body></html>", "text/html"),
    ('{"result": "nope"}', "application/json"),
])
async def test_malformed_body_is_vendor_response_error(act: Act, sim: Any, body: str, ctype: str) -> None:
    sim.fault(vendor="servicenow", status=200, count=1, body=body, content_type=ctype)
    with pytest.raises(VendorResponseError) as e:
        await act("get ticket", {"id": "INC0010001"})
    assert not e.value.retryable


@pytest.mark.parametrize(("action", "params"), [
    ("create ticket", {"short_description": "x", "table": "../sys_user"}),
    ("create ticket", {"short_description": "x", "table": "incident/../sys_user"}),
    ("create ticket", {"short_description": "x", "table": "Incident"}),
    ("create ticket", {"short_description": "x", "urgency": "4"}),
    ("create ticket", {"short_description": "x", "correlation_id": "a^ORnumber!=x"}),
    ("create ticket", {"short_description": "   "}),
    ("create ticket", {"description": "no short description"}),
    ("get ticket", {"id": "INC0010001^ORnumber!=x"}),
    ("get ticket", {"id": "../../sys_user"}),
    ("update ticket", {"id": "INC0010001", "fields": {"sys_id": "x"}}),
    ("update ticket", {"id": "INC0010001", "fields": {"number": "INC1"}}),
    ("update ticket", {"id": "INC0010001", "fields": "state=2"}),
    ("update ticket", {"id": "INC0010001", "fields": {}}),
    ("update ticket", {"id": "INC0010001", "fields": {"state": ["2"]}}),
])
async def test_invalid_parameter_never_reaches_vendor(act: Act, sim: Any, action: str,
                                                      params: dict[str, Any]) -> None:
    with pytest.raises(InvalidParameter) as e:
        await act(action, params)
    assert str(e.value).startswith(f"{action}: parameter '")
    assert sim.state()["calls"].get("servicenow", 0) == 0


def test_config_requires_instance_url(tmp_path: Path) -> None:
    conf = [{"app": "ServiceNow", "asset_name": "sn", "configuration": {"username": "u", "password": "p"}}]
    with pytest.raises(AssetUnavailable, match="base_url"):
        make_store(write_assets(tmp_path / "a.json", conf)).get("sn")
    conf[0]["configuration"]["base_url"] = "https://dev1.service-now.com/api/now/"
    assert make_store(write_assets(tmp_path / "b.json", conf)).get("sn").settings.base_url == \
        "https://dev1.service-now.com"


# --- the simulator's wire format -------------------------------------------------------------------

def test_simulator_wire_format(sim: Any) -> None:
    url, auth = f"{sim.url}/servicenow/api/now/table", (SNOW_USERNAME, SNOW_PASSWORD)
    made = httpx.post(f"{url}/incident", json={"short_description": "t", "urgency": 2, "impact": 1},
                      auth=auth)
    assert made.status_code == 201 and made.headers["Location"].endswith(made.json()["result"]["sys_id"])
    rec = made.json()["result"]
    assert rec["priority"] == "2" and rec["opened_by"]["value"] and rec["sys_created_on"]
    q = httpx.get(f"{url}/incident", params={"sysparm_query": "number=INC0010001^ORDERBYnumber",
                                             "sysparm_fields": "number,state"}, auth=auth)
    assert q.json() == {"result": [{"number": "INC0010001", "state": "1"}]}
    assert q.headers["X-Total-Count"] == "1"
    none = httpx.get(f"{url}/incident", params={"sysparm_query": "number!=INC0010001"}, auth=auth)
    assert none.json() == {"result": []} and none.headers["X-Total-Count"] == "0"
    denied = httpx.get(f"{url}/incident", auth=(SNOW_USERNAME, "nope"))
    assert denied.status_code == 401 and denied.json()["error"]["message"] == "User Not Authenticated"
    assert denied.json()["status"] == "failure" and "WWW-Authenticate" in denied.headers
    assert httpx.get(f"{url}/sys_nope", auth=auth).json()["error"]["message"] == "Invalid table sys_nope"
    missing = httpx.get(f"{url}/incident/{'0' * 32}", auth=auth)
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "No Record found"
    sim.fault(vendor="servicenow", status=429, count=1, retry_after=30)
    throttled = httpx.get(f"{url}/incident", auth=auth)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "30"
    assert "X-RateLimit-Reset" in throttled.headers


# --- the real CLI ----------------------------------------------------------------------------------

def test_cli_create_and_update(sim: Any, tmp_path: Path) -> None:
    assets = write_assets(tmp_path / "assets.json", snow_assets(sim.url))
    env = {**os.environ, **DEMO_ENV}

    def soar(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([".venv/bin/soar", *args, "--assets", str(assets)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)

    create = ["action", "run", "servicenow", "create ticket", "--param", "short_description=Phishing: jdoe",
              "--param", "urgency=2", "--param", "correlation_id=cli-case-1"]
    first, second = soar(*create), soar(*create)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["message"] == "INC0010001 created"
    assert json.loads(second.stdout)["message"] == "INC0010001 exists"
    assert list(incidents(sim)) == ["INC0010001"]
    upd = soar("action", "run", "servicenow", "update ticket", "--param", "id=INC0010001",
               "--param", 'fields={"state": "6", "close_notes": "false positive"}')
    assert upd.returncode == 0 and incidents(sim)["INC0010001"]["state"] == "6"
    bad = soar("action", "run", "servicenow", "get ticket", "--param", "id=../x")
    assert bad.returncode == 2 and json.loads(bad.stdout)["error"] == "InvalidParameter"


# --- an independent server speaking the documented API ---------------------------------------------

def documented_servicenow() -> tuple[FastAPI, list[dict[str, Any]]]:
    """A minimal Table API: the documented create example, an empty query, 429 for one number."""
    app = FastAPI()
    posted: list[dict[str, Any]] = []
    example = {"sys_id": "9d385017c611228701d22104cc95c371", "number": "INC0010023",
               "short_description": "Malicious IP blocked", "state": "1", "urgency": "1", "impact": "2",
               "priority": "2", "opened_at": "2024-05-01 12:00:00", "sys_created_on": "2024-05-01 12:00:00",
               "caller_id": {"link": "https://inst.service-now.com/api/now/table/sys_user/abc",
                             "value": "abc"}}

    def authed(request: Request) -> bool:
        return request.headers.get("authorization") == "Basic " + "ZG9jOmRvYy1wdw=="  # doc:doc-pw

    @app.get("/api/now/table/incident")
    async def query(request: Request) -> JSONResponse:
        if not authed(request):
            return JSONResponse({"error": {"message": "User Not Authenticated",
                                           "detail": "Required to provide Auth information"},
                                 "status": "failure"}, 401)
        q = request.query_params["sysparm_query"]
        if q == "number=INC0000429":
            return JSONResponse({"error": {"message": "Rate limit exceeded", "detail": None},
                                 "status": "failure"}, 429, headers={"Retry-After": "42"})
        return JSONResponse({"result": [example] if posted and q == "correlation_id=doc-1" else []},
                            headers={"X-Total-Count": "0"})

    @app.post("/api/now/table/incident")
    async def create(request: Request) -> JSONResponse:
        assert authed(request)
        posted.append(await request.json())
        return JSONResponse({"result": {**example, "correlation_id": "doc-1"}}, 201)

    return app, posted


async def test_against_independent_documented_server(tmp_path: Path) -> None:
    app, posted = documented_servicenow()
    srv = ServerThread(app).start()
    try:
        conf = [{"app": "ServiceNow", "asset_name": "sn_doc",
                 "configuration": {"username": "doc", "password": "doc-pw", "base_url": srv.url}}]
        store = make_store(write_assets(tmp_path / "a.json", conf))

        async def go(action: str, **params: Any) -> ActionResult:
            return await store.run(CONNECTOR.find(action), ActionInput(
                asset="sn_doc", params=params, correlation_id="doc-1"))

        r = await go("create ticket", short_description="Malicious IP blocked", urgency="1", impact="2")
        assert r.message == "INC0010023 created" and r.summary["priority"] == "2"
        assert posted == [{"short_description": "Malicious IP blocked", "description": "", "urgency": "1",
                           "impact": "2", "correlation_id": "doc-1", "correlation_display": "SOAR"}]
        again = await go("create ticket", short_description="Malicious IP blocked")
        # the documented example carries no correlation_id field, so it is not mistaken for ours
        assert again.message == "INC0010023 created" and len(posted) == 2
        with pytest.raises(RateLimited) as e:
            await go("get ticket", id="INC0000429")
        assert e.value.retry_after is not None and e.value.retry_after.total_seconds() == 42
        await store.aclose()
    finally:
        srv.stop()
