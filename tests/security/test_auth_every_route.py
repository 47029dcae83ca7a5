"""Every route of the real API over HTTP: no token, a bad token, a token in the wrong place -> 401; a user
without roles -> 403; the role rules of the main routes; the prompt's own role for answering it."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, routing

from api.app import create_app
from core.models import Artifact, Container, Severity
from core.settings import Settings
from tests.helpers.api import TOKENS, auth
from tests.helpers.servers import ServerThread
from tests.helpers.stack import run_stack
from tests.security.conftest import EXTRA_TOKENS

# Open by design: liveness/readiness probes and the API description.
PUBLIC = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
# Open by design too: the workers' prompt hints carry only workflow ids, which the API reads from Temporal
# itself, so a forged hint lists nothing (tests/api/test_prompt_feed.py).
HINTS = {("POST", "/internal/v1/prompt-feed")}
# CORS preflight of the codec endpoints: browsers never send credentials on a preflight.
PREFLIGHT = {("OPTIONS", "/codec/encode"), ("OPTIONS", "/codec/decode")}
# The only route that takes `?token=` (Splunk webhooks cannot send headers).
QUERY_TOKEN_OK = {("POST", "/api/v1/ingest/splunk")}
# Authenticated by Slack's request signature instead of a token (tests/api/test_notifications.py).
SIGNED = {("POST", "/api/v1/integrations/slack/interactions")}
# The console's pages take a signed session cookie instead (test_console_* below); these need none.
CONSOLE_PUBLIC = {("GET", "/console/sign-in"), ("POST", "/console/sign-in"), ("GET", "/console/static/{name}")}

SAMPLE_PARAMS = {"container_id": "SOAR-AAAAAAAAAAAA", "prompt_id": "SOAR-AAAAAAAAAAAA.phishing_triage_automation.1",
                 "name": "virustotal", "ident": "1234", "run_id": "1234", "sha256": "0" * 64}

INGEST = [("POST", "/api/v1/containers"), ("POST", "/api/v1/ingest/splunk"), ("POST", "/api/v1/ingest/email"),
          ("POST", "/rest/container"), ("POST", "/rest/artifact")]
READ = [("GET", "/api/v1/containers"), ("GET", "/api/v1/containers/{container_id}"),
        ("GET", "/api/v1/containers/{container_id}/report"), ("GET", "/api/v1/prompts"),
        ("GET", "/api/v1/playbooks"), ("GET", "/api/v1/assets"), ("GET", "/api/v1/metrics/automation"),
        ("GET", "/rest/playbook_run"), ("GET", "/rest/playbook_run/{run_id}"), ("GET", "/rest/container/{ident}"),
        ("GET", "/rest/container/{ident}/artifacts"), ("GET", "/rest/artifact"), ("GET", "/metrics"),
        ("GET", "/api/v1/blobs/{sha256}")]
ANALYST = [("POST", "/api/v1/containers/{container_id}/comments"), ("PATCH", "/api/v1/containers/{container_id}"),
           ("POST", "/api/v1/containers/{container_id}/artifacts"),
           ("POST", "/api/v1/containers/{container_id}/playbooks"), ("POST", "/api/v1/assets/{name}/test"),
           ("POST", "/api/v1/prompts/{prompt_id}/response"), ("POST", "/codec/encode"), ("POST", "/codec/decode"),
           ("POST", "/rest/playbook_run"), ("POST", "/api/v1/prompts/{prompt_id}/delegate"),
           ("POST", "/api/v1/prompts/{prompt_id}/withdraw")]
ANALYSTS = ("tier1", "tier2", "manager")


def every_route(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, included routers and hidden routes too."""
    out = set()
    for rc in routing.iter_route_contexts(app.routes):
        for m in rc.methods or ():
            if m != "HEAD":
                out.add((m, rc.path))
    return out


def openapi_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every operation in the OpenAPI description."""
    verbs = {"get", "post", "put", "patch", "delete", "options", "head"}
    return {(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops if m in verbs}


def console_routes(app: FastAPI) -> set[tuple[str, str]]:
    return {r for r in every_route(app) if r[1].startswith("/console")}


def protected(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(r for r in every_route(app) if r[1] not in PUBLIC and r not in PREFLIGHT and r not in SIGNED
                  and r not in HINTS and not r[1].startswith("/console"))


def url(path: str) -> str:
    return path.format(**{k: v for k, v in SAMPLE_PARAMS.items() if "{" + k + "}" in path})


def client(base: str) -> httpx.AsyncClient:
    """A fresh connection per request: a server error that closes one cannot fail the next request."""
    return httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_keepalive_connections=0))


def request_kw(method: str) -> dict:
    return {"json": {}} if method in ("POST", "PUT", "PATCH") else {}


@pytest.fixture
def api_settings(tmp_path: Path, users_file: Path, assets_file: Path, task_queue: str) -> Settings:
    return Settings(users_file=users_file, assets_file=assets_file, data_dir=tmp_path,
                    playbook_task_queue=task_queue)


@pytest.fixture
def api(dev_env, api_settings):
    app = create_app(api_settings, client=dev_env.client)
    srv = ServerThread(app).start()
    try:
        yield app, srv.url
    finally:
        srv.stop()


async def test_every_route_is_known_and_described(api):
    app, _ = api
    routes = every_route(app)
    assert openapi_routes(app) <= routes
    assert {r for r in routes if r not in PREFLIGHT and r[1] not in PUBLIC} == \
        set(protected(app)) | SIGNED | HINTS | console_routes(app)
    hidden = {r for r in routes - openapi_routes(app) if r[1] not in PUBLIC}
    assert hidden <= PREFLIGHT | console_routes(app), \
        f"routes missing from the OpenAPI description: {sorted(hidden - PREFLIGHT - console_routes(app))}"
    assert SIGNED <= openapi_routes(app) and not console_routes(app) & openapi_routes(app)
    assert len(protected(app)) >= len(INGEST + READ + ANALYST)
    for r in INGEST + READ + ANALYST:
        assert r in routes, f"{r} no longer exists: update this test"


async def test_every_route_needs_a_valid_token(api):
    app, base = api
    long_token = "a" * 600
    cases = {
        "no token": {},
        "unknown bearer": {"Authorization": "Bearer not-a-real-token"},
        "unknown ph-auth-token": {"ph-auth-token": "not-a-real-token"},
        "bearer without token": {"Authorization": "Bearer"},
        "basic scheme": {"Authorization": "Basic " + TOKENS["automation"]},
        "oversized token": {"Authorization": f"Bearer {long_token}"},
        "token of another case": {"Authorization": "Bearer " + TOKENS["automation"].upper()},
    }
    failures = []
    async with client(base) as http:
        for method, path in protected(app):
            for label, headers in cases.items():
                r = await http.request(method, url(path), headers=headers, **request_kw(method))
                if r.status_code != 401 or r.headers.get("www-authenticate") != "Bearer":
                    failures.append(f"{method} {path} with {label}: {r.status_code} {r.text[:120]}")
                elif "not-a-real-token" in r.text or long_token in r.text:
                    failures.append(f"{method} {path} echoes the token")
            # a valid token in the query string counts only where webhooks need it
            r = await http.request(method, url(path), params={"token": TOKENS["automation"]}, **request_kw(method))
            if ((method, path) in QUERY_TOKEN_OK) == (r.status_code == 401):
                failures.append(f"{method} {path} with ?token=: {r.status_code}")
        for path in PUBLIC:
            r = await http.get(path)
            assert r.status_code in (200, 503), (path, r.status_code)
    assert not failures, "\n".join(failures)


async def test_a_user_without_roles_is_refused_everywhere_and_admin_everywhere_accepted(api):
    app, base = api
    nobody = {"Authorization": f"Bearer {EXTRA_TOKENS['norole']}"}
    root = {"Authorization": f"Bearer {EXTRA_TOKENS['admin']}"}
    failures = []
    async with client(base) as http:
        for method, path in protected(app):
            r = await http.request(method, url(path), headers=nobody, **request_kw(method))
            if r.status_code != 403 or "lacks a required role" not in r.text:
                failures.append(f"{method} {path} as a user without roles: {r.status_code} {r.text[:120]}")
            r = await http.request(method, url(path), headers=root, **request_kw(method))
            if r.status_code in (401, 403):
                failures.append(f"{method} {path} as admin: {r.status_code} {r.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_role_rules_of_the_main_routes(api):
    _, base = api
    failures = []

    async def check(method: str, path: str, who: str, allowed: bool) -> None:
        r = await http.request(method, url(path), headers=auth(who), **request_kw(method))
        if allowed != (r.status_code not in (401, 403)):
            failures.append(f"{method} {path} as {who}: {r.status_code} (expected {'allowed' if allowed else 403})")
        if not allowed and r.status_code != 403:
            failures.append(f"{method} {path} as {who}: {r.status_code}, expected 403")

    async with client(base) as http:
        for method, path in INGEST:  # ingestion: automation only
            await check(method, path, "automation", True)
            for who in ANALYSTS:
                await check(method, path, who, False)
        for method, path in READ:  # reading: analysts, and automation (Reader)
            for who in (*ANALYSTS, "automation"):
                await check(method, path, who, True)
        for method, path in ANALYST:  # changing and decoding: analysts only
            await check(method, path, "automation", False)
            for who in ANALYSTS:
                await check(method, path, who, True)
    assert not failures, "\n".join(failures)


async def test_answering_a_prompt_needs_the_prompt_role(dev_env, api_settings, sim):
    app = create_app(api_settings, client=dev_env.client)
    async with run_stack(dev_env.client, api_settings.playbook_task_queue, api_settings.assets_file) as stack:
        srv = ServerThread(app).start()
        try:
            async with client(srv.url) as http:
                c = Container(name="auth test", label="phishing", severity=Severity.MEDIUM,
                              source_data_identifier=f"auth-{uuid.uuid4().hex}",
                              artifacts=[Artifact(name="f", cef={"fileHash": "deadbeef" + "2" * 56}),
                                         Artifact(name="e", cef={"sourceHostName": "WS-AUTH-1"})])
                r = await stack.start(c)
                v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
                p = v.pending_prompts[0]
                assert p.role == "soc_tier2"
                path = f"/api/v1/prompts/{p.id}/response"
                for who in ("tier1", "automation"):
                    denied = await http.post(path, json={"option": "Monitor Only"}, headers=auth(who))
                    assert denied.status_code == 403, (who, denied.text)
                assert (await http.post(path, json={"option": "Monitor Only"})).status_code == 401
                listed = (await http.get("/api/v1/prompts", headers=auth("tier1"))).json()["data"]
                mine = [x for x in listed if x["id"] == p.id]
                assert mine and mine[0]["can_respond"] is False
                ok = await http.post(path, json={"option": "Monitor Only"}, headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
        finally:
            srv.stop()


async def test_malformed_body_without_token_is_401(api):
    app, base = api
    async with client(base) as http:
        bad = []
        for method, path in protected(app):
            if method in ("POST", "PATCH", "PUT"):
                r = await http.request(method, url(path), content=b"{not json",
                                       headers={"content-type": "application/json"})
                if r.status_code != 401:
                    bad.append(f"{method} {path}: {r.status_code}")
    assert not bad, "\n".join(bad)


async def test_unauthenticated_requests_never_reach_temporal(tmp_path, users_file):
    # a port nobody listens on: any attempt to connect shows up as a 503
    app = create_app(Settings(temporal_address="127.0.0.1:9", users_file=users_file, data_dir=tmp_path))
    srv = ServerThread(app).start()
    try:
        async with client(srv.url) as http:
            results = await asyncio.gather(*(http.request(m, url(p), **request_kw(m)) for m, p in protected(app)))
        bad = [f"{m} {p}: {r.status_code}" for (m, p), r in zip(protected(app), results, strict=True)
               if r.status_code != 401]
        assert not bad, "\n".join(bad)
    finally:
        srv.stop()


async def test_console_pages_need_a_session_and_never_reach_temporal_without_one(tmp_path, users_file):
    app = create_app(Settings(temporal_address="127.0.0.1:9", users_file=users_file, data_dir=tmp_path))
    srv = ServerThread(app).start()
    try:
        async with client(srv.url) as http:
            failures = []
            for method, path in sorted(console_routes(app) - CONSOLE_PUBLIC):
                for cookie in (None, "v1.e30.AAAA", "forged"):
                    headers = {"Cookie": f"soar_session={cookie}"} if cookie else {}
                    r = await http.request(method, url(path), headers=headers,
                                           **({"data": {"csrf": "x"}} if method == "POST" else {}))
                    if method == "GET":
                        ok = r.status_code == 303 and r.headers["location"].startswith("/console/sign-in?next=")
                        ok = ok and (f"why={'none' if cookie is None else 'invalid'}" in r.headers["location"])
                    else:
                        ok = r.status_code == 401 and "Sign in" in r.text
                    if not ok:
                        failures.append(f"{method} {path} with cookie {cookie}: {r.status_code} "
                                        f"{r.headers.get('location', r.text[:80])}")
            assert not failures, "\n".join(failures)
            for method, path in CONSOLE_PUBLIC:
                assert (method, path) in console_routes(app)
            page = await http.get("/console/sign-in")
            assert page.status_code == 200 and 'type="password"' in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            assert (await http.get("/console/static/console.js")).status_code == 200
            assert (await http.get("/console/static/..%2Fsession.py")).status_code == 404
            # signed in, with Temporal down: a page saying so (HTML, not a stack trace or JSON)
            import re
            nonce = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            signed = await http.post("/console/sign-in", data={"token": TOKENS["tier2"], "csrf": nonce},
                                     headers={"Cookie": f"soar_signin={page.cookies['soar_signin']}"})
            assert signed.status_code == 303
            down = await http.get("/console/", headers={"Cookie": f"soar_session={signed.cookies['soar_session']}"})
            assert down.status_code == 503 and down.headers["content-type"].startswith("text/html")
            assert "SOAR_TEMPORAL_ADDRESS" in down.text and "bob" in down.text
    finally:
        srv.stop()


async def test_only_analysts_may_sign_in_to_the_console(tmp_path, users_file):
    import re

    app = create_app(Settings(temporal_address="127.0.0.1:9", users_file=users_file, data_dir=tmp_path))
    srv = ServerThread(app).start()
    try:
        for token, ok in ((EXTRA_TOKENS["norole"], False), (TOKENS["automation"], False), ("not-a-token", False),
                          (TOKENS["tier1"], True), (EXTRA_TOKENS["admin"], True)):
            async with client(srv.url) as http:
                form = await http.get("/console/sign-in")
                nonce = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
                r = await http.post("/console/sign-in", data={"token": token, "csrf": nonce},
                                    headers={"Cookie": f"soar_signin={form.cookies['soar_signin']}"})
                assert (r.status_code == 303) == ok, (token[:10], r.status_code, r.text[:200])
                assert ("soar_session=" in r.headers.get("set-cookie", "")) == ok
                if not ok:
                    assert token not in r.text and r.status_code == 401
                # the sign-in form's own nonce is required (no cross-site sign-in)
                r = await http.post("/console/sign-in", data={"token": token, "csrf": "guess"})
                assert r.status_code == 403 and "soar_session=" not in r.headers.get("set-cookie", "")
    finally:
        srv.stop()
