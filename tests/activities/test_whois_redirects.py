"""RDAP redirects go only to public registries, and bodies that are not RDAP are never quoted.

A fake registry on a real port (reached as `127.0.0.1` or as `localhost`, so that its own host is exempt and
the other name is not) redirects to loopback, the cloud metadata address, private space and a name that
resolves to loopback; each redirect is refused before anything is sent there. A redirect to a public
registry is followed to the address that was checked, with the registry's name kept in `Host`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request, Response

from activities.whois import CONNECTOR
from activities.whois import client as rdap_client
from core.errors import VendorResponseError
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from tests.helpers.config import write_assets
from tests.helpers.servers import ServerThread

RDAP_CT = "application/rdap+json"
SECRET_PAGE = "ami-id instance-id iam/security-credentials/soar-role AKIAEXAMPLE"  # what a metadata service says
NETWORK = {"objectClassName": "ip network", "handle": "NET-81-2-69-0-1", "name": "EXAMPLE-GB",
           "startAddress": "81.2.69.0", "endAddress": "81.2.69.255", "country": "GB", "port43": "whois.ripe.net",
           "rdapConformance": ["rdap_level_0"]}


# The first octet of the queried IP picks what the fake registry does.
CASES = {"1": "loopback", "2": "metadata", "3": "private", "4": "localhost", "5": "decimal", "6": "mapped",
         "7": "ftp", "81": "public", "11": "html", "12": "json", "13": "teapot"}


def registry(port: list[int], seen: list[dict[str, str]]) -> FastAPI:
    app = FastAPI()
    targets = {"loopback": "http://127.0.0.1:{port}/leak", "metadata": "http://169.254.169.254/latest/meta-data/",
               "private": "http://10.0.0.1/ip/1.2.3.4", "localhost": "http://localhost:{port}/leak",
               "decimal": "http://2130706433:{port}/leak", "mapped": "http://[::ffff:127.0.0.1]:{port}/leak",
               "ftp": "ftp://rdap.example.net/ip/1", "public": "http://rdap.ripe.test:{port}/ripe/ip/81.2.69.160"}

    @app.get("/ip/{ip}")
    async def ip_network(ip: str, request: Request) -> Response:
        case = CASES.get(ip.split(".")[0], "")
        if case in targets:
            return Response(status_code=302, headers={"Location": targets[case].format(port=port[0])})
        if case == "html":
            return Response(f"<html>{SECRET_PAGE}</html>", 200, media_type="text/html")
        if case == "json":
            return Response(json.dumps({"secret": SECRET_PAGE}), 200, media_type="application/json")
        if case == "teapot":
            return Response(SECRET_PAGE, 418, media_type="text/plain")
        return Response(json.dumps({"errorCode": 404, "title": "Not Found", "description": [ip]}), 404,
                        media_type=RDAP_CT)

    @app.get("/ripe/ip/{ip}")
    async def ripe(ip: str, request: Request) -> Response:
        seen.append({"host": request.headers.get("host", ""), "ip": ip})
        return Response(json.dumps(NETWORK), 200, media_type=RDAP_CT)

    @app.get("/leak")
    async def leak(request: Request) -> Response:
        seen.append({"leak": request.url.path})
        return Response(SECRET_PAGE, 200, media_type="text/plain")

    return app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, list[dict[str, str]]]]:
    port: list[int] = []
    seen: list[dict[str, str]] = []
    srv = ServerThread(registry(port, seen))
    port.append(srv.port)
    srv.start()
    yield srv, seen
    srv.stop()


def store(tmp_path: Path, base: str) -> AssetStore:
    conf = [{"app": "Whois", "asset_name": "rdap", "configuration": {"base_url": base}}]
    return AssetStore.load(write_assets(tmp_path / "a.json", conf), {"whois": CONNECTOR})


async def whois(s: AssetStore, ip: str) -> ActionResult:
    return await s.run(CONNECTOR.find("whois ip"), ActionInput(asset="rdap", params={"ip": ip}))


@pytest.mark.parametrize(("ip", "base_host", "words"), [
    ("1.1.1.1", "localhost", "127.0.0.1"),          # loopback (base reached as localhost: 127.0.0.1 is another host)
    ("2.2.2.2", "127.0.0.1", "169.254.169.254"),    # the cloud metadata service
    ("3.3.3.3", "127.0.0.1", "10.0.0.1"),           # private space
    ("4.4.4.4", "127.0.0.1", "localhost resolves to"),  # a name that resolves to loopback
    ("5.5.5.5", "127.0.0.1", "127.0.0.1"),          # 2130706433 is 127.0.0.1
    ("6.6.6.6", "127.0.0.1", "127.0.0.1"),          # IPv4-mapped IPv6 loopback
    ("7.7.7.7", "127.0.0.1", "must stay on https"),  # not http(s)
])
async def test_redirects_inside_are_refused_before_anything_is_sent(
        server: tuple[ServerThread, list[dict[str, str]]], tmp_path: Path, ip: str, base_host: str, words: str) -> None:
    srv, seen = server
    s = store(tmp_path, f"http://{base_host}:{srv.port}")
    seen.clear()
    try:
        with pytest.raises(VendorResponseError, match="refusing to follow it") as e:
            await whois(s, ip)
        assert words in str(e.value), str(e.value)
        assert seen == []  # nothing reached the target
    finally:
        await s.aclose()


async def test_a_public_registry_is_reached_at_the_checked_address(
        server: tuple[ServerThread, list[dict[str, str]]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """rdap.ripe.test does not exist in DNS: the request can only arrive because it was sent to the address
    the check resolved (here the test server, made to count as public), with the name in Host."""
    srv, seen = server
    checked: list[str] = []

    async def resolve(self: Any, host: str) -> list[Any]:
        checked.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(rdap_client.RdapClient, "resolve", resolve)
    monkeypatch.setattr(rdap_client, "is_public", lambda a: True)
    s = store(tmp_path, f"http://localhost:{srv.port}")
    seen.clear()
    try:
        r = await whois(s, "81.2.69.160")
    finally:
        await s.aclose()
    assert checked == ["rdap.ripe.test"]
    assert seen == [{"host": f"rdap.ripe.test:{srv.port}", "ip": "81.2.69.160"}]
    assert r.summary["rdap_url"] == f"http://rdap.ripe.test:{srv.port}/ripe/ip/81.2.69.160"
    assert r.summary["registry"] == "RIPE NCC" and r.summary["redirected"] is True


@pytest.mark.parametrize("ip", ["11.0.0.1", "12.0.0.1", "13.0.0.1"])  # HTML, JSON that is not RDAP, a 418
async def test_bodies_that_are_not_rdap_are_described_not_quoted(
        server: tuple[ServerThread, list[dict[str, str]]], tmp_path: Path, ip: str) -> None:
    srv, _ = server
    s = store(tmp_path, f"http://127.0.0.1:{srv.port}")
    try:
        with pytest.raises(VendorResponseError) as e:
            await whois(s, ip)
        assert SECRET_PAGE not in str(e.value) and "AKIAEXAMPLE" not in str(e.value)
        if not ip.startswith("13."):  # a 4xx is told by its status and reason phrase, its body left out
            assert " bytes)" in str(e.value), str(e.value)
    finally:
        await s.aclose()


def test_public_address_classification() -> None:
    for a in ("8.8.8.8", "2a00:1450:4001::8", "81.2.69.160"):
        assert rdap_client.is_public(ipaddress.ip_address(a)), a
    for a in ("127.0.0.1", "10.0.0.1", "172.16.1.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
              "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:10.0.0.1", "ff02::1", "::"):
        assert not rdap_client.is_public(ipaddress.ip_address(a)), a
