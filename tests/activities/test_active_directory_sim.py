"""The Active Directory connector against the simulator's directory: LDAPS over a real socket, the demo asset
from config/assets.json, outcomes checked in `GET /_sim/state` (the Samba DC tests keep the fidelity check).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from activities.active_directory import CONNECTOR
from activities.active_directory.client import ActiveDirectoryClient
from cli.actions import run_action
from core.approvals import load_keyring
from core.connector import raw_target
from core.errors import ApprovalRequired, AuthError, ConfigError, NotFound, VendorUnavailable
from core.models import ActionInput, ActionResult
from core.runtime import AssetStore
from core.settings import get_settings
from simulator import credentials
from tests.activities.conftest import sign_approval
from tests.conftest import Sim
from tests.helpers.config import example_assets, write_assets

BASE = "DC=corp,DC=example,DC=com"
JDOE = f"CN=John Doe,CN=Users,{BASE}"


@pytest.fixture
def assets(sim: Sim, tmp_path: Path):
    """Write the example assets (pointed at the test simulator) with `**conf` changes to the AD asset."""

    def make(**conf: Any) -> Path:
        out = example_assets(sim.url, sim.ldap_port)
        ad = next(a for a in out if a["app"] == "Active Directory")
        ad["configuration"].update(conf)
        ad["configuration"] = {k: v for k, v in ad["configuration"].items() if v is not None}
        return write_assets(tmp_path / f"assets-{len(list(tmp_path.iterdir()))}.json", out)

    return make


async def ad(assets_path: Path, action: str, approve_as: str | None = None, **params: str) -> ActionResult:
    """Run an action as `soar action run` does; `approve_as` signs an analyst's approval of exactly it."""
    if approve_as is None:
        return await run_action("active_directory", action, params, assets_path, retry=False)
    store = AssetStore.load(assets_path, {"active_directory": CONNECTOR},
                            keyring=load_keyring(get_settings().trusted_keys_path))
    try:
        spec = CONNECTOR.find(action)
        approval = sign_approval(spec.name, raw_target(spec, params), "active_directory", "SOAR-ADSIM")
        return await store.run(spec, ActionInput(asset="active_directory", params=params, approval=approval,
                                                 container_id="SOAR-ADSIM"))
    finally:
        await store.aclose()


def effects(sim: Sim) -> dict[str, Any]:
    return sim.state()["effects"].get("active_directory", {})


async def test_test_connectivity_binds_and_reads_the_root_dse(sim: Sim, assets) -> None:
    r = await ad(assets(), "test connectivity")
    assert r.message == f"Bound to dc01.corp.example.com over ldaps as {credentials.AD_BIND_USER}; base DN {BASE}"
    assert r.summary["dns_host_name"] == "dc01.corp.example.com" and r.summary["base_dn"] == BASE
    r = await ad(assets(base_dn=None), "get user attributes", username="jdoe")  # base from defaultNamingContext
    assert r.summary["dn"] == JDOE
    assert effects(sim)["binds"] == {"svc-soar": 2}


async def test_get_user_attributes_of_jdoe(assets) -> None:
    path = assets()
    r = await ad(path, "get user attributes", username="jdoe")
    assert r.summary == {"dn": JDOE, "sAMAccountName": "jdoe", "displayName": "John Doe",
                         "mail": "jdoe@corp.example.com", "userAccountControl": 512, "enabled": True,
                         "member_of_count": 2}
    assert r.message == "jdoe (John Doe): enabled, member of 2 group(s)"
    row = r.data[0]
    assert row["objectSid"] == "S-1-5-21-3623811015-3361044348-30300820-1105"
    assert row["uac_flags"] == ["NORMAL_ACCOUNT"] and row["accountExpires"] is None
    assert row["whenCreated"] == "2023-03-06T09:15:00+00:00" and row["pwdLastSet"].startswith("2024-11-04T08:00")
    assert row["manager"] == f"CN=Alice Smith,CN=Users,{BASE}" and row["userPrincipalName"] == "jdoe@corp.example.com"
    for form in ("jdoe@corp.example.com", "CORP\\jdoe", "JDoe"):
        assert (await ad(path, "get user attributes", username=form)).summary["dn"] == JDOE


async def test_disable_again_enable_jdoe_is_recorded(sim: Sim, assets) -> None:
    path = assets()
    r = await ad(path, "disable user", approve_as="bob", username="jdoe")
    assert r.message == "jdoe disabled (was enabled)" and r.summary["userAccountControl"] == 514
    eff = effects(sim)
    assert eff["disabled_users"] == ["jdoe"]
    assert [m["changes"] for m in eff["modifications"]] == [
        [{"attribute": "userAccountControl", "operation": "replace", "before": ["512"], "after": ["514"]}]]
    assert eff["modifications"][0]["by"] == "svc-soar" and eff["modifications"][0]["dn"] == JDOE

    r = await ad(path, "disable user", approve_as="bob", username="jdoe")
    assert r.message == "jdoe already disabled" and r.summary["changed"] is False
    assert len(effects(sim)["modifications"]) == 1  # nothing written the second time

    r = await ad(path, "enable user", username="jdoe")
    assert r.message == "jdoe enabled (was disabled)" and r.summary["userAccountControl"] == 512
    assert effects(sim)["disabled_users"] == []
    assert (await ad(path, "get user attributes", username="jdoe")).summary["enabled"] is True


async def test_only_the_disable_bit_changes(sim: Sim, assets) -> None:
    path = assets()  # svc-backup: NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD (Administrator is protected now)
    assert (await ad(path, "disable user", approve_as="bob", username="svc-backup")).summary[
        "userAccountControl"] == 0x10202
    r = await ad(path, "enable user", username="svc-backup")
    assert r.summary["userAccountControl"] == 0x10200
    assert [m["changes"][0]["after"] for m in effects(sim)["modifications"]] == [["66050"], ["66048"]]


async def test_disable_without_approval_writes_nothing(sim: Sim, assets) -> None:
    with pytest.raises(ApprovalRequired):
        await ad(assets(), "disable user", username="jdoe")
    assert "modifications" not in effects(sim)


async def test_reset_restores_the_directory(sim: Sim, assets) -> None:
    path = assets()
    await ad(path, "disable user", approve_as="bob", username="jdoe")
    assert (await ad(path, "get user attributes", username="jdoe")).summary["enabled"] is False
    sim.reset()
    assert effects(sim) == {}
    r = await ad(path, "get user attributes", username="jdoe")
    assert r.summary["userAccountControl"] == 512 and r.summary["enabled"] is True


async def test_wrong_password_is_auth_error(sim: Sim, assets, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AD_PASSWORD", "Wr0ngPassw0rd-xyz")
    with pytest.raises(AuthError, match="wrong user name or password") as e:
        await ad(assets(), "get user attributes", username="jdoe")
    assert "Wr0ngPassw0rd-xyz" not in str(e.value)
    assert sim.state()["statuses"] == {"active_directory:49": 1}


@pytest.mark.parametrize(("user", "reason"), [("mlopez@corp.example.com", "account disabled"),
                                              ("jdoe", "wrong user name or password"),  # bare name: AD says 52e
                                              ("nobody@corp.example.com", "wrong user name or password")])
async def test_bind_refusals_name_the_ad_reason(assets, user: str, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        await ad(assets(username=user, password=credentials.AD_USER_PASSWORD), "test connectivity")


async def test_account_without_rights_gets_auth_error(sim: Sim, assets) -> None:
    path = assets(username="CORP\\jdoe", password=credentials.AD_USER_PASSWORD)
    assert (await ad(path, "get user attributes", username="asmith")).summary["enabled"] is True  # may read
    with pytest.raises(AuthError, match="lacks the rights"):
        await ad(path, "disable user", approve_as="bob", username="asmith")
    assert "modifications" not in effects(sim)


async def test_unknown_user_computer_and_wrong_base_dn_are_not_found(assets) -> None:
    with pytest.raises(NotFound, match="no user account 'nosuchuser'"):
        await ad(assets(), "disable user", approve_as="bob", username="nosuchuser")
    with pytest.raises(NotFound, match="no user account"):  # objectCategory=person leaves computers out
        await ad(assets(), "get user attributes", username="WORKSTATION-042$")
    with pytest.raises(NotFound, match=f"base DN 'OU=Nope,{BASE}' does not exist"):
        await ad(assets(base_dn=f"OU=Nope,{BASE}"), "get user attributes", username="jdoe")


async def test_escaped_filter_values_match_literally(sim: Sim, assets) -> None:
    store = AssetStore.load(assets(), {"active_directory": CONNECTOR})
    client = ActiveDirectoryClient(asset_name="active_directory", config=store.get("active_directory").settings)
    try:
        with pytest.raises(NotFound):  # escaped by the client: a literal, not a wildcard
            await client.find_user("*)(objectClass=*", ["sAMAccountName"])
    finally:
        await client.aclose()


async def test_certificate_verification_with_the_simulators_ca(sim: Sim, assets, tmp_path: Path) -> None:
    info = httpx.get(f"{sim.url}/_sim/ldap").json()
    assert info["port"] == sim.ldap_port and info["base_dn"] == BASE
    ca = tmp_path / "sim-ca.pem"
    ca.write_text(info["certificate_pem"])
    r = await ad(assets(verify_ssl=True, ca_file=str(ca)), "test connectivity")
    assert r.summary["transport"] == "ldaps"
    with pytest.raises(ConfigError, match="ca_file"):
        await ad(assets(verify_ssl=True), "test connectivity")  # the system CAs do not know it


async def test_injected_outage_is_retryable(sim: Sim, assets) -> None:
    sim.fault(vendor="active_directory", status=503, count=1)
    with pytest.raises(VendorUnavailable) as e:
        await ad(assets(), "get user attributes", username="jdoe")
    assert e.value.retryable and "unavailable" in str(e.value)
    sim.fault(vendor="active_directory", status=429, count=1)
    with pytest.raises(VendorUnavailable, match="busy"):
        await ad(assets(), "test connectivity")
    assert (await ad(assets(), "test connectivity")).status == "success"


async def test_one_bound_connection_serves_every_action_of_an_asset(sim: Sim, assets) -> None:
    store = AssetStore.load(assets(), {"active_directory": CONNECTOR})
    connector = store.connectors["active_directory"]
    try:
        for action, params in [("test connectivity", {}), ("get user attributes", {"username": "jdoe"}),
                               ("enable user", {"username": "asmith"})]:
            r = await store.run(connector.find(action), ActionInput(asset="active_directory", params=params))
            assert r.status == "success"
    finally:
        await store.aclose()
    assert effects(sim)["binds"] == {"svc-soar": 1}


def test_demo_assets_point_at_the_simulators_directory() -> None:
    """config/assets.json's AD asset is the simulator's LDAPS port with its bind account (the default port)."""
    from core.settings import ROOT, Settings

    ad_asset = next(a for a in json.loads((ROOT / "config" / "assets.json").read_text())
                    if a["app"] == "Active Directory")["configuration"]
    assert ad_asset["port"] == Settings().simulator_ldap_port == 8636
    assert ad_asset["username"] == credentials.AD_BIND_USER and ad_asset["password"] == "${AD_PASSWORD}"
    assert credentials.DEMO_ENV["AD_PASSWORD"] == credentials.AD_PASSWORD
