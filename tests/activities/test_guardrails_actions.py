"""Guardrails inside real actions, against the simulator over HTTP and LDAPS: a refusal is raised before any
vendor call (or, for what only the vendor knows, after the read and before any write), nothing changes on
the vendor's side, and the undo actions are never refused.

The rules are config/guardrails.json's (the stores load it as the worker does), plus per-asset additions.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from activities.active_directory import CONNECTOR as AD
from activities.crowdstrike import CONNECTOR as CS
from activities.panos import CONNECTOR as PAN
from core.connector import execute
from core.errors import GuardrailRefused, InvalidParameter
from core.models import ActionInput, ActionResult
from simulator.crowdstrike import device_id
from tests.activities.conftest import ConnectorRunner
from tests.activities.test_active_directory_sim import ad, assets, effects  # noqa: F401 (fixture)
from tests.activities.test_crowdstrike import cs_assets
from tests.activities.test_panos import pan_assets
from tests.conftest import Sim

Act = Callable[..., Awaitable[ActionResult]]


@pytest.fixture
def fw(sim: Sim, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    return connector_runner(PAN, lambda **conf: pan_assets(sim.url, **conf), asset="pan_fw")


@pytest.fixture
def edr(sim: Sim, connector_runner: Callable[..., ConnectorRunner]) -> ConnectorRunner:
    return connector_runner(CS, lambda **conf: cs_assets(sim.url, **conf), asset="crowdstrike")


def calls(sim: Sim, vendor: str) -> int:
    return int(sim.state()["calls"].get(vendor, 0))


# --- PAN-OS: block ip / block url ---------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "rule"), [
    ("10.20.0.5", "never_block_networks"), ("192.168.7.7", "never_block_networks"),
    ("127.0.0.1", "never_block_networks"), ("169.254.169.254", "never_block_networks"),
    ("0.0.0.0/0", "whole_address_space"), ("::/0", "whole_address_space"),
    ("45.0.0.0/16", "min_prefix"), ("2a00:1450::/32", "min_prefix"),
    ("203.0.113.200", "org_networks"),  # config/guardrails.json: the demo organisation's range
])
async def test_block_ip_refused_before_any_firewall_call(fw: Act, sim: Sim, ip: str, rule: str) -> None:
    with pytest.raises(GuardrailRefused) as e:
        await fw("block ip", {"ip": ip}, container_id="SOAR-G1")
    assert e.value.rule == rule and "Fix:" in str(e.value) and "config/guardrails.json" in str(e.value)
    assert calls(sim, "panos") == 0 and "blocked_ips" not in sim.state()["effects"].get("panos", {})


async def test_unblock_is_never_refused_and_public_blocks_go_through(fw: Act, sim: Sim) -> None:
    r = await fw("unblock ip", {"ip": "10.20.0.5"})
    assert r.message == "Not blocked on PA-5260; nothing to remove" and calls(sim, "panos") > 0
    assert (await fw("block ip", {"ip": "198.51.100.9"})).summary["blocked"] is True


@pytest.mark.parametrize(("url", "rule"), [
    ("https://vpn.corp.example.com/login", "org_domains"), ("corp.example/", "org_domains"),
    ("*.com", "top_level_wildcard"), ("https://10.1.1.1/x", "never_block_networks"),
])
async def test_block_url_refused_before_any_firewall_call(fw: Act, sim: Sim, url: str, rule: str) -> None:
    with pytest.raises(GuardrailRefused) as e:
        await fw("block url", {"url": url})
    assert e.value.rule == rule and calls(sim, "panos") == 0
    assert (await fw("unblock url", {"url": url if "*" not in url else "https://x.example"})).status == "success"


async def test_an_assets_own_guardrails_add_to_the_file(fw: Act, sim: Sim) -> None:
    extra = {"org_domains": ["partner.example.net"]}
    with pytest.raises(GuardrailRefused, match="partner.example.net"):
        await fw("block url", {"url": "https://portal.partner.example.net/"}, guardrails=extra)
    with pytest.raises(GuardrailRefused, match="org_domains"):  # the file's rules still apply
        await fw("block url", {"url": "https://corp.example.com/"}, guardrails=extra)
    assert calls(sim, "panos") == 0


# --- CrowdStrike: quarantine device -------------------------------------------------------------------

async def quarantine_by_id(edr: ConnectorRunner, host: str, **conf: Any) -> ActionResult:
    """`quarantine device` by Falcon id. Approvals name a host name, so this one runs through `execute()`
    with an approval check that passes (what `soar action run --approve-as` does for an operator)."""
    store = edr.store(**conf)
    asset = store.get("crowdstrike")
    return await execute(CS, CS.find("quarantine device"),
                         ActionInput(asset="crowdstrike", params={"device_id": device_id(host)}), asset,
                         store.client(asset), authorize=lambda *_: None, guard=store.guardrails)


async def test_protected_host_is_never_isolated_by_name_or_by_id(edr: ConnectorRunner, sim: Sim) -> None:
    with pytest.raises(GuardrailRefused, match="'DC01' is a protected host") as e:
        await edr("quarantine device", {"hostname": "DC01"}, approve=True)
    assert e.value.rule == "protected_hosts" and calls(sim, "crowdstrike") == 0  # refused on the parameter
    # By id the guard cannot know the name: the action reads the device, then refuses before `contain`.
    with pytest.raises(GuardrailRefused, match="'DC01' is a protected host"):
        await quarantine_by_id(edr, "DC01")
    assert calls(sim, "crowdstrike") > 0 and "contain_calls" not in sim.state()["effects"].get("crowdstrike", {})
    assert (await edr("unquarantine device", {"hostname": "DC01"}, approve=True)).status == "success"


async def test_protected_host_by_address_on_the_asset(edr: ConnectorRunner, sim: Sim) -> None:
    extra = {"protected_hosts": ["10.0.1.0/24"]}  # web-prod-01 is 10.0.1.21
    with pytest.raises(GuardrailRefused, match="10.0.1.0/24"):
        await quarantine_by_id(edr, "web-prod-01", guardrails=extra)
    assert "contain_calls" not in sim.state()["effects"].get("crowdstrike", {})
    r = await quarantine_by_id(edr, "MacBook-jdoe", guardrails=extra)  # 10.0.2.33
    assert r.summary["status"] == "contained"


# --- Active Directory (the simulator's directory) -----------------------------------------------------

@pytest.mark.parametrize(("username", "rule", "words"), [
    ("krbtgt", "protected_accounts", "krbtgt is a protected account"),
    ("Administrator", "protected_accounts", "Administrator is a protected account"),
    ("administrator@corp.example.com", "protected_accounts", "Administrator is a protected account"),
    ("t0-ops", "protected_groups", "'Domain Admins' (through nested groups)"),
    ("svc-soar", "bind_account", "bind account of asset 'active_directory'"),
    ("CORP\\svc-soar", "bind_account", "lock itself out"),
    ("OTHERFOREST\\jdoe", "foreign_domain", "names the domain OTHERFOREST"),
])
async def test_disable_user_refusals_write_nothing(sim: Sim, assets, username: str, rule: str,  # noqa: F811
                                                   words: str) -> None:
    with pytest.raises(GuardrailRefused) as e:
        await ad(assets(), "disable user", approve_as="bob", username=username)
    assert e.value.rule == rule and words in str(e.value), str(e.value)
    assert "modifications" not in effects(sim) and effects(sim).get("disabled_users", []) == []


async def test_protected_names_are_refused_before_the_directory_is_asked(sim: Sim, assets) -> None:  # noqa: F811
    with pytest.raises(GuardrailRefused, match="krbtgt"):
        await ad(assets(), "disable user", approve_as="bob", username="CORP\\KRBTGT")
    assert "binds" not in effects(sim)


async def test_bind_account_in_every_form(sim: Sim, assets) -> None:  # noqa: F811
    for bind in ("CN=svc-soar,OU=Service Accounts,DC=corp,DC=example,DC=com", "CORP\\svc-soar",
                 "svc-soar@corp.example.com"):
        with pytest.raises(GuardrailRefused, match="bind account"):
            await ad(assets(username=bind), "disable user", approve_as="bob", username="svc-soar@corp.example.com")
    assert "modifications" not in effects(sim)


async def test_group_of_the_asset_and_the_domain_prefix(sim: Sim, assets) -> None:  # noqa: F811
    path = assets(guardrails={"protected_groups": ["VPN Users"]})
    with pytest.raises(GuardrailRefused, match="'VPN Users' \\(directly\\)"):
        await ad(path, "disable user", approve_as="bob", username="jdoe")
    assert "modifications" not in effects(sim)
    with pytest.raises(InvalidParameter, match="names the domain OTHERFOREST"):  # a lookup: not mapped either
        await ad(assets(), "get user attributes", username="OTHERFOREST\\jdoe")
    r = await ad(assets(), "disable user", approve_as="bob", username="CORP\\jdoe")  # our own prefix
    assert r.message == "jdoe disabled (was enabled)"
    assert (await ad(assets(), "enable user", username="t0-ops")).summary["changed"] is False  # undo: allowed
    r = await ad(assets(netbios_domain="CORPNET"), "get user attributes", username="CORPNET\\jdoe")
    assert r.summary["sAMAccountName"] == "jdoe"


async def test_already_disabled_protected_account_is_still_refused(sim: Sim, assets) -> None:  # noqa: F811
    with pytest.raises(GuardrailRefused, match="Administrator"):
        await ad(assets(), "disable account", approve_as="bob", username="CORP\\Administrator")


def test_specs_are_what_the_rules_name() -> None:
    assert {s.snake for s in (PAN.find("block ip"), PAN.find("block url"), AD.find("disable user"),
                              CS.find("quarantine device"))} == {"block_ip", "block_url", "disable_user",
                                                                 "quarantine_device"}

