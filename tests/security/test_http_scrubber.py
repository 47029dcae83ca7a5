"""A vendor that echoes the credentials it got never leaks them through our errors, whatever the route.

A fake vendor on a real port echoes the VirusTotal `x-apikey`, the ServiceNow Basic-auth header (and the
password it decodes), and the CrowdStrike token form (`client_secret`, URL-encoded as sent) back in 4xx/5xx
bodies, in a redirect's Location and body, and in a 200 that is not JSON. Every error (from the asset store,
from the activity boundary, and from a client used on its own) must hold none of the secrets in any form a
vendor may echo, and must still say what went wrong.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import pytest
from fastapi import FastAPI, Request, Response

from activities import discover_connectors
from activities.servicenow.client import ServiceNowClient
from activities.servicenow.config import ServiceNowConfig
from activities.virustotal.client import VirusTotalClient
from activities.virustotal.config import VirusTotalConfig
from core.errors import SoarError
from core.models import ActionInput
from core.runtime import AssetStore, to_application_error
from tests.helpers.config import write_assets
from tests.helpers.servers import ServerThread

VT_KEY = "Vt-K3y+/=0123456789abcdef"  # noqa: S105 - test values, with characters that encode differently
SNOW_PASSWORD = "p@ss w0rd/+&x-Secret"  # noqa: S105
CS_SECRET = "cs+secret/=&key-987654"  # noqa: S105
MODES = ("json401", "json500", "redirect", "html200")


def echo_vendor() -> FastAPI:
    """Answers every request under /<mode>/... by echoing what it was sent."""
    app = FastAPI()

    @app.api_route("/{mode}/{rest:path}", methods=["GET", "POST"])
    async def echo(mode: str, rest: str, request: Request) -> Response:
        form = (await request.body()).decode()
        auth = request.headers.get("authorization", "")
        decoded = base64.b64decode(auth.split(" ", 1)[1]).decode() if auth.startswith("Basic ") else ""
        seen = (f"x-apikey={request.headers.get('x-apikey', '')} authorization={auth} decoded={decoded} "
                f"form={form} form-decoded={unquote_plus(form)}")
        envelope = {"error": {"code": "WrongCredentialsError", "message": seen, "detail": seen},
                    "errors": [{"code": 401, "message": seen}], "echo": seen}
        if mode == "json401":
            return Response(json.dumps(envelope), 401, media_type="application/json")
        if mode == "json500":
            return Response(json.dumps(envelope), 500, media_type="application/json")
        if mode == "redirect":
            return Response(f"moved: {seen}", 302, headers={"Location": f"/elsewhere?echo={quote(seen)}"})
        return Response(f"<html><body>{seen}</body></html>", 200, media_type="text/html")

    return app


@pytest.fixture(scope="module")
def vendor() -> Iterator[ServerThread]:
    srv = ServerThread(echo_vendor()).start()
    yield srv
    srv.stop()


def forms(secret: str) -> list[str]:
    """What must never appear: the secret raw, URL-encoded, JSON-escaped and base64 (and inside Basic)."""
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            base64.b64encode(secret.encode()).decode()]


def assets(base: str) -> list[dict[str, Any]]:
    out = []
    for mode in MODES:
        out += [
            {"app": "VirusTotal v3", "asset_name": f"vt_{mode}",
             "configuration": {"api_key": "${SCRUB_VT_KEY}", "base_url": f"{base}/{mode}/api/v3"}},
            {"app": "ServiceNow", "asset_name": f"snow_{mode}",
             "configuration": {"username": "soar.integration", "password": "${SCRUB_SNOW_PASSWORD}",
                               "base_url": f"{base}/{mode}"}},
            {"app": "CrowdStrike OAuth API", "asset_name": f"cs_{mode}",
             "configuration": {"client_id": "0123456789abcdef0123456789abcdef", "client_secret": "${SCRUB_CS_SECRET}",
                               "base_url": f"{base}/{mode}"}},
        ]
    return out


@pytest.fixture
def store(vendor: ServerThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AssetStore]:
    monkeypatch.setenv("SCRUB_VT_KEY", VT_KEY)
    monkeypatch.setenv("SCRUB_SNOW_PASSWORD", SNOW_PASSWORD)
    monkeypatch.setenv("SCRUB_CS_SECRET", CS_SECRET)
    s = AssetStore.load(write_assets(tmp_path / "assets.json", assets(vendor.url)), discover_connectors())
    assert not s.unavailable, s.unavailable
    yield s


def clean(text: str, secret: str) -> None:
    for f in forms(secret):
        assert f not in text, f"{f!r} leaked: {text}"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("prefix", "secret"), [("vt", VT_KEY), ("snow", SNOW_PASSWORD), ("cs", CS_SECRET)])
async def test_echoed_credentials_never_reach_an_error(store: AssetStore, mode: str, prefix: str,
                                                       secret: str) -> None:
    asset = store.get(f"{prefix}_{mode}")
    spec = store.connector_of(asset).find("test connectivity")
    try:
        with pytest.raises(SoarError) as e:
            await store.run(spec, ActionInput(asset=asset.asset_name))
        clean(str(e.value), secret)
        clean(to_application_error(e.value, asset).message, secret)
        # The vendor's echo is there, only scrubbed: the message still helps (and proves the echo happened).
        if mode in ("json401", "json500"):
            assert "***" in str(e.value), str(e.value)
    finally:
        await store.aclose()


async def test_a_client_on_its_own_scrubs_what_it_sent(vendor: ServerThread) -> None:
    """No asset store: the client knows its credential headers and its Basic-auth password itself."""
    vt = VirusTotalClient(asset_name="vt", config=VirusTotalConfig(api_key=VT_KEY,
                                                                   base_url=f"{vendor.url}/json401/api/v3"))
    snow = ServiceNowClient(asset_name="snow", config=ServiceNowConfig(
        username="soar.integration", password=SNOW_PASSWORD, base_url=f"{vendor.url}/json500"))
    try:
        with pytest.raises(SoarError) as e:
            await vt.upload_url()
        clean(str(e.value), VT_KEY)
        with pytest.raises(SoarError) as e:
            await snow.query("incident", "", limit=1)
        clean(str(e.value), SNOW_PASSWORD)
        assert "ServiceNow is unavailable (HTTP 500" in str(e.value)
    finally:
        await vt.aclose()
        await snow.aclose()
