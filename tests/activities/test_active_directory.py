"""Active Directory connector against a REAL directory: a Samba AD DC (tests/activities/conftest.py).

Every outcome is checked independently of the connector: with `samba-tool user show` or with an admin ldap3
connection of the test's own (userAccountControl, uSNChanged of every account to prove "nothing was written").
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import ldap3
import pytest
from ldap3.core.exceptions import LDAPOperationResult

from activities.active_directory import CONNECTOR
from activities.active_directory.client import ActiveDirectoryClient
from activities.active_directory.config import ActiveDirectoryConfig
from core.config.assets import load_assets, parse_asset
from core.errors import (
    ApprovalRequired,
    AuthError,
    ConfigError,
    GuardrailRefused,
    InvalidParameter,
    NotFound,
    VendorUnavailable,
)
from core.models import ActionResult
from core.settings import ROOT
from tests.activities.conftest import ConnectorRunner
from tests.helpers.config import write_assets
from tests.helpers.samba import SambaDC

pytestmark = pytest.mark.samba
Run = Callable[..., Awaitable[ActionResult]]
OMIT = object()
CONNECTORS = {"active_directory": CONNECTOR}
USER_PASSWORD = "Us3rPassw0rd!"  # noqa: S105 - throw-away test DC


def ad_assets(dc: SambaDC, **conf: Any) -> list[dict[str, Any]]:
    """One "Active Directory" asset `ad` for the DC (LDAPS, verified against its CA); `conf` overrides."""
    base: dict[str, Any] = {"server": dc.host, "port": 636, "use_ssl": True, "verify_ssl": True,
                            "ca_file": dc.ca_file, "username": dc.admin_user,
                            "password": "${AD_TEST_PASSWORD}", "base_dn": dc.base_dn, "timeout_s": 5}
    base.update(conf)
    return [{"app": "Active Directory", "asset_name": "ad", "product_vendor": "Microsoft",
             "configuration": {k: v for k, v in base.items() if v is not OMIT}}]


@pytest.fixture
def admin(samba_dc: SambaDC) -> Iterator[ldap3.Connection]:
    """An independent admin connection (LDAPS, verified) for setting up and checking the directory."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=samba_dc.ca_file)
    server = ldap3.Server(samba_dc.host, port=636, use_ssl=True, tls=tls, get_info=ldap3.NONE)
    conn = ldap3.Connection(server, user=samba_dc.admin_user, password=samba_dc.admin_password,
                            auto_bind=True, raise_exceptions=True)
    yield conn
    conn.unbind()


def read_user(admin: ldap3.Connection, dc: SambaDC, name: str) -> dict[str, Any]:
    admin.search(dc.base_dn, f"(sAMAccountName={name})", attributes=["userAccountControl", "uSNChanged"])
    attrs = admin.response[0]["attributes"]
    return {k: int(v[0]) for k, v in attrs.items()}


def all_usn(admin: ldap3.Connection, dc: SambaDC) -> dict[str, int]:
    """uSNChanged of every account: equal before/after means nothing was written to any of them."""
    admin.search(dc.base_dn, "(&(objectCategory=person)(objectClass=user))", attributes=["uSNChanged"])
    return {r["dn"]: int(r["attributes"]["uSNChanged"][0]) for r in admin.response if r.get("dn")}


def samba_uac(dc: SambaDC, name: str) -> int:
    cmd = ["samba-tool", "user", "show", name, "-s", dc.smb_conf, "--attributes=userAccountControl"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return int(out.split("userAccountControl:")[1].split()[0])


@pytest.fixture
def new_user(admin: ldap3.Connection, samba_dc: SambaDC) -> Iterator[Callable[..., str]]:
    """Create fresh accounts (deleted afterwards) so tests that change them stay independent."""
    made: list[str] = []

    def make(uac: int = 512) -> str:
        name = f"t{uuid.uuid4().hex[:10]}"
        dn = f"CN={name},CN=Users,{samba_dc.base_dn}"
        admin.add(dn, ["top", "person", "organizationalPerson", "user"],
                  {"sAMAccountName": name, "userPrincipalName": f"{name}@test.local", "displayName": name,
                   "unicodePwd": f'"{USER_PASSWORD}"'.encode("utf-16-le")})
        admin.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(uac)])]})
        made.append(dn)
        return name

    yield make
    for dn in made:
        admin.delete(dn)


@pytest.fixture
def run(samba_dc: SambaDC, monkeypatch: pytest.MonkeyPatch,
        connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    """Run an AD action in-process; `**conf` overrides the asset config; `store=` reuses an asset store."""
    monkeypatch.setenv("AD_TEST_PASSWORD", samba_dc.admin_password)
    return connector_runner(CONNECTOR, lambda **conf: ad_assets(samba_dc, **conf), asset="ad")


async def test_get_user_attributes_of_jdoe(run: Run) -> None:
    r = await run("get user attributes", {"username": "jdoe"})
    assert r.summary == {"dn": "CN=John Doe,CN=Users,DC=test,DC=local", "sAMAccountName": "jdoe",
                         "displayName": "John Doe", "mail": "jdoe@test.local", "userAccountControl": 512,
                         "enabled": True, "member_of_count": 0}
    assert r.message == "jdoe (John Doe): enabled, member of 0 group(s)"
    row = r.data[0]
    assert row["objectSid"].startswith("S-1-5-21-") and len(row["objectSid"].split("-")) == 8
    assert row["userPrincipalName"] == "jdoe@test.local" and row["uac_flags"] == ["NORMAL_ACCOUNT"]
    # UPN and DOMAIN\user forms find the same account
    for form in ("jdoe@test.local", "TEST\\jdoe"):
        assert (await run("get user attributes", {"username": form})).summary["dn"] == r.summary["dn"]


async def test_disable_again_enable_jdoe(run: Run, admin: ldap3.Connection, samba_dc: SambaDC) -> None:
    try:
        r = await run("disable user", {"username": "jdoe"}, approve=True)
        assert r.status == "success" and r.message == "jdoe disabled (was enabled)"
        assert r.summary["starting_status"] == "enabled" and r.summary["userAccountControl"] == 514
        assert samba_uac(samba_dc, "jdoe") == 514
        usn = read_user(admin, samba_dc, "jdoe")["uSNChanged"]

        r = await run("disable user", {"username": "jdoe"}, approve=True)
        assert r.status == "success" and r.message == "jdoe already disabled"
        assert r.summary["starting_status"] == "disabled" and r.summary["changed"] is False  # and no write:
        assert read_user(admin, samba_dc, "jdoe") == {"userAccountControl": 514, "uSNChanged": usn}

        r = await run("enable user", {"username": "jdoe"})  # not high impact: no approval needed
        assert r.message == "jdoe enabled (was disabled)" and r.summary["starting_status"] == "disabled"
        assert samba_uac(samba_dc, "jdoe") == 512
    finally:
        admin.modify(f"CN=John Doe,CN=Users,{samba_dc.base_dn}",
                     {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["512"])]})


async def test_only_the_disable_bit_changes(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,
                                            new_user: Callable[..., str]) -> None:
    name = new_user(uac=0x200 | 0x10000)  # NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD
    await run("disable user", {"username": name}, approve=True)
    assert read_user(admin, samba_dc, name)["userAccountControl"] == 0x200 | 0x10000 | 0x2
    r = await run("enable user", {"username": name})
    assert r.summary["userAccountControl"] == 0x10200
    assert read_user(admin, samba_dc, name)["userAccountControl"] == 0x10200


async def test_disable_without_approval_changes_nothing(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,
                                                        new_user: Callable[..., str]) -> None:
    name = new_user()
    before = read_user(admin, samba_dc, name)
    with pytest.raises(ApprovalRequired, match="high impact"):
        await run("disable user", {"username": name})
    assert read_user(admin, samba_dc, name) == before


async def test_wrong_password_is_auth_error_without_the_password(
        run: Run, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AD_TEST_PASSWORD", "Wr0ngPassw0rd-xyz")
    with pytest.raises(AuthError) as e:
        await run("get user attributes", {"username": "jdoe"})
    assert "'ad'" in str(e.value) and "wrong user name or password" in str(e.value)
    assert "Wr0ngPassw0rd-xyz" not in str(e.value) and "Wr0ngPassw0rd-xyz" not in caplog.text


async def test_account_without_rights_gets_auth_error_with_hint(
        run: Run, admin: ldap3.Connection, samba_dc: SambaDC, new_user: Callable[..., str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    victim, operator = new_user(), new_user()
    before = read_user(admin, samba_dc, victim)
    monkeypatch.setenv("AD_TEST_PASSWORD", USER_PASSWORD)
    with pytest.raises(AuthError, match="lacks the rights") as e:
        await run("disable user", {"username": victim}, approve=True, username=f"{operator}@test.local")
    assert "userAccountControl" in str(e.value) and USER_PASSWORD not in str(e.value)
    assert read_user(admin, samba_dc, victim) == before


async def test_unknown_user_and_wrong_base_dn_are_not_found(run: Run) -> None:
    with pytest.raises(NotFound, match="no user account 'nosuchuser'"):
        await run("disable user", {"username": "nosuchuser"}, approve=True)
    with pytest.raises(NotFound, match="base DN 'OU=Nope,DC=test,DC=local' does not exist"):
        await run("get user attributes", {"username": "jdoe"}, base_dn="OU=Nope,DC=test,DC=local")


@pytest.mark.parametrize("username", ["*)(objectClass=*", "*", "jdoe)(|(sAMAccountName=*", "jd*", "jdoe\x00",
                                      "TEST\\*", "a\\2a"])
async def test_filter_injection_never_touches_anyone(run: Run, admin: ldap3.Connection, samba_dc: SambaDC,
                                                     username: str) -> None:
    before = all_usn(admin, samba_dc)
    for action in ("disable user", "enable user", "get user attributes"):
        # GuardrailRefused: `a\2a` names a foreign domain `a`, refused since the prefix is no longer dropped.
        with pytest.raises((InvalidParameter, NotFound, GuardrailRefused)):
            await run(action, {"username": username}, approve=True)
    assert all_usn(admin, samba_dc) == before


async def test_filter_is_escaped_even_past_validation(samba_dc: SambaDC, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Defence in depth: the client escapes the value itself, so metacharacters match literally (nobody)."""
    monkeypatch.setenv("AD_TEST_PASSWORD", samba_dc.admin_password)
    asset = load_assets(write_assets(tmp_path / "a.json", ad_assets(samba_dc)), CONNECTORS)["ad"]
    client = ActiveDirectoryClient(asset_name="ad", config=asset.settings)
    try:
        with pytest.raises(NotFound):
            await client.find_user("*)(objectClass=*", ["sAMAccountName"])
    finally:
        await client.aclose()


@pytest.mark.parametrize("conf", [
    {"port": 636, "use_ssl": True, "verify_ssl": True},                      # LDAPS, CA file, verified
    {"port": 389, "use_ssl": False, "start_tls": True, "verify_ssl": True},  # StartTLS, verified
    {"port": 389, "use_ssl": False, "ca_file": OMIT},                        # cleartext LDAP (lab only)
    {"base_dn": OMIT, "username": "TEST\\Administrator"},                     # base from the root DSE
], ids=["ldaps", "starttls", "ldap", "default-base"])
async def test_connectivity_over_each_transport(run: Run, conf: dict[str, Any]) -> None:
    r = await run("test connectivity", **conf)
    assert r.summary["dns_host_name"] == "dc1.test.local" and r.summary["base_dn"] == "DC=test,DC=local"
    assert r.message.startswith("Bound to dc1.test.local over ")
    r = await run("get user attributes", {"username": "jdoe"}, **conf)
    assert r.summary["userAccountControl"] == 512


async def test_untrusted_certificate_is_config_error(run: Run) -> None:
    with pytest.raises(ConfigError, match="ca_file"):
        await run("test connectivity", ca_file=OMIT)  # verify on, the system CAs do not know the DC


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_unreachable_and_silent_servers_are_retryable(run: Run) -> None:
    with pytest.raises(VendorUnavailable, match="connection failed") as e:
        await run("test connectivity", server="127.0.0.1", port=closed_port(), use_ssl=False)
    assert e.value.retryable
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts TCP, never answers LDAP
        started = time.monotonic()
        with pytest.raises(VendorUnavailable, match="timed out"):
            await run("test connectivity", server="127.0.0.1", port=silent.getsockname()[1], use_ssl=False,
                      timeout_s=1)
        assert time.monotonic() - started < 5


class Proxy:
    """A TCP relay in front of the DC that can cut every connection (DC restart, idle-timeout firewall)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target, self.accepted, self.socks = target, 0, []  # type: ignore[var-annotated]
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                down, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(self.target)
            self.accepted += 1
            self.socks += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Break every relayed connection (both directions)."""
        for s in self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Stop accepting (connections are then refused) and cut what is open."""
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone would not
        except OSError:
            pass
        self.listener.close()
        self.cut()


async def test_connection_is_reused_and_rebound_after_a_drop(run: Run, samba_dc: SambaDC) -> None:
    proxy = Proxy((samba_dc.host, 389))
    try:
        conf = {"server": "127.0.0.1", "port": proxy.port, "use_ssl": False, "ca_file": OMIT}
        await run("get user attributes", {"username": "jdoe"}, **conf)
        store = run.store(**conf)
        await run("test connectivity", store=store)
        assert proxy.accepted == 1  # one bound connection per asset, kept between actions
        proxy.cut()
        await asyncio.sleep(0.1)
        r = await run("get user attributes", {"username": "jdoe"}, store=store)
        assert r.summary["sAMAccountName"] == "jdoe" and proxy.accepted == 2  # re-bound once, transparently
        proxy.close()
        with pytest.raises(VendorUnavailable):  # the DC is gone for good: retryable, not a crash
            await run("test connectivity", store=store)
    finally:
        proxy.close()


@pytest.mark.parametrize(("code", "error"), [(51, VendorUnavailable), (52, VendorUnavailable),
                                             (50, AuthError), (32, NotFound), (49, AuthError)])
def test_result_code_mapping(code: int, error: type[Exception]) -> None:
    """Codes a healthy Samba DC will not produce on demand (busy 51, unavailable 52); no DC needed."""
    conf = ActiveDirectoryConfig(server="dc1", username="svc@corp", password="x" * 12)  # type: ignore[arg-type]
    client = ActiveDirectoryClient(asset_name="ad", config=conf)
    err = client._translate(LDAPOperationResult(result=code, description="d", message="m"), "modify x")
    assert isinstance(err, error) and "x" * 12 not in str(err)
    assert err.retryable == (error is VendorUnavailable)  # type: ignore[attr-defined]


def test_cli_disable_needs_and_takes_approval(samba_dc: SambaDC, admin: ldap3.Connection, tmp_path: Path,
                                              new_user: Callable[..., str]) -> None:
    name = new_user()
    path = write_assets(tmp_path / "assets.json", ad_assets(samba_dc))
    env = dict(os.environ, AD_TEST_PASSWORD=samba_dc.admin_password, SOAR_DATA_DIR=str(tmp_path / "data"))

    def soar(*args: str) -> tuple[int, dict[str, Any]]:
        cmd = [str(ROOT / ".venv/bin/soar"), "action", "run", "ad", *args, "--assets", str(path)]
        p = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
        return p.returncode, json.loads(p.stdout)

    code, out = soar("disable user", "--param", f"username={name}")
    assert code == 2 and out["error"] == "ApprovalRequired"
    assert read_user(admin, samba_dc, name)["userAccountControl"] == 512
    code, out = soar("disable user", "--param", f"username={name}", "--approve-as", "alice",
                     "--operator-reason", "account takeover, IR-77")
    assert code == 0 and out["message"] == f"{name} disabled (was enabled)"
    assert out["summary"]["starting_status"] == "enabled" and samba_uac(samba_dc, name) == 514


def test_example_asset_entry_is_accepted() -> None:
    """config/assets.json's "Active Directory" entry validates against the config model (no DC needed)."""
    example = json.loads((ROOT / "config" / "assets.json").read_text())
    raw = [a for a in example if a["app"] == "Active Directory"]
    asset = parse_asset(raw[0], file="config/assets.json", index=0, connectors=CONNECTORS)
    assert asset.connector == "active_directory" and asset.settings.port == 8636  # the simulator's LDAPS
    assert asset.settings.transport == "ldaps" and asset.configuration_redacted["password"] == "***"
