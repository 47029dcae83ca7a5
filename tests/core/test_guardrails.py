"""The guardrail rules themselves (core/guardrails.py): every default list refuses, the file and an asset's
additions load and merge as documented, and a refusal travels as a non-retryable `GuardrailRefused`.

The same rules inside real actions, against the simulator and the Samba DC: tests/activities/test_guardrails_*.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from activities import discover_connectors
from core.config.assets import load_assets
from core.errors import NON_RETRYABLE_TYPES, ConfigError, GuardrailRefused
from core.guardrails import Guardrails, load_guardrails, trusted_relays
from core.runtime import to_application_error
from core.settings import ROOT

DEFAULT = Guardrails()
ORG = Guardrails(org_networks=["203.0.113.128/25", "2001:db8:c0de::/48"], org_domains=["corp.example.com"],
                 protected_hosts=["DC01", "dc0?.corp.example.com", "10.9.0.0/16"])


def refused(check, *args) -> GuardrailRefused:
    with pytest.raises(GuardrailRefused) as e:
        check(*args)
    return e.value


# --- block ip: every default list --------------------------------------------------------------------

@pytest.mark.parametrize(("ip", "hit"), [
    ("10.1.2.3", "10.0.0.0/8"), ("172.20.0.9", "172.16.0.0/12"), ("192.168.1.0/24", "192.168.0.0/16"),  # RFC 1918
    ("127.0.0.1", "127.0.0.0/8"), ("::1", "::1/128"),                                                    # loopback
    ("169.254.169.254", "169.254.0.0/16"), ("fe80::1", "fe80::/10"),                                     # link-local
    ("100.64.0.7", "100.64.0.0/10"), ("fd12:3456::1", "fc00::/7"), ("0.0.0.0", "0.0.0.0/8"),
    ("::ffff:10.0.0.1", "10.0.0.0/8"),  # an IPv4-mapped IPv6 address is the IPv4 address
])
def test_block_ip_never_blocks_the_default_networks(ip: str, hit: str) -> None:
    e = refused(DEFAULT.check_block_ip, ip)
    assert e.rule == "never_block_networks" and e.value == ip and hit in str(e)
    assert "Fix: if this block is really intended, remove" in str(e) and "never_block_networks" in str(e)


@pytest.mark.parametrize(("net", "rule"), [
    ("0.0.0.0/0", "whole_address_space"), ("::/0", "whole_address_space"),
    ("8.8.0.0/23", "min_prefix"), ("2001:4860::/32", "min_prefix"), ("45.0.0.0/8", "min_prefix"),
])
def test_block_ip_refuses_the_whole_internet_and_short_prefixes(net: str, rule: str) -> None:
    e = refused(DEFAULT.check_block_ip, net)
    assert e.rule == rule


def test_block_ip_refuses_the_organisations_ranges_and_allows_the_rest() -> None:
    assert refused(ORG.check_block_ip, "203.0.113.200").rule == "org_networks"
    assert refused(ORG.check_block_ip, "203.0.113.0/24").rule == "org_networks"  # a block containing ours
    assert refused(ORG.check_block_ip, "2001:db8:c0de:1::5").rule == "org_networks"
    for ok in ("198.51.100.7", "203.0.113.99", "8.8.8.0/24", "2001:db8::1", "2a00:1450:4001::/48"):
        ORG.check_block_ip(ok)


def test_prefix_limits_are_configurable() -> None:
    Guardrails(min_prefix_v4=16).check_block_ip("45.10.0.0/16")
    assert refused(Guardrails(min_prefix_v4=28).check_block_ip, "45.10.0.0/27").rule == "min_prefix"


# --- block url -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("url", "rule"), [
    ("*.com", "top_level_wildcard"), ("https://*.org/x", "top_level_wildcard"), ("*.co.uk", "top_level_wildcard"),
    ("com", "top_level_wildcard"), ("http://localhost/", "top_level_wildcard"),
    ("https://corp.example.com/login", "org_domains"), ("https://VPN.Corp.Example.com./", "org_domains"),
    ("*.corp.example.com", "org_domains"), ("example.com/", "org_domains"),  # example.com contains ours
    ("https://10.0.0.5/admin", "never_block_networks"), ("http://[::1]:8080/", "never_block_networks"),
    ("https://203.0.113.130/", "org_networks"),
])
def test_block_url_refusals(url: str, rule: str) -> None:
    assert refused(ORG.check_block_url, url).rule == rule


@pytest.mark.parametrize("url", ["https://evil.example.net/landing", "*.evil.example.net", "evil.co.uk/x",
                                 "https://corp.example.com.evil.net/", "http://198.51.100.7/x"])
def test_block_url_allows_other_hosts(url: str) -> None:
    ORG.check_block_url(url)


# --- accounts and hosts ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["krbtgt", "KRBTGT", "Administrator", "CORP\\administrator",
                                  "Administrator@corp.example.com"])
def test_default_protected_accounts_in_every_name_form(name: str) -> None:
    e = refused(DEFAULT.check_account, name)
    assert e.rule == "protected_accounts" and "not allowed:" in str(e) and "is a protected account" in str(e)


def test_other_accounts_pass_and_groups_default_to_the_admin_groups() -> None:
    DEFAULT.check_account("jdoe")
    assert DEFAULT.protected_groups == ["Domain Admins", "Enterprise Admins", "Schema Admins"]
    assert DEFAULT.protected_group(["CN=Domain Admins,CN=Users,DC=x", "domain  admins"]) == "Domain Admins"
    assert DEFAULT.protected_group(["Finance"]) is None


@pytest.mark.parametrize(("host", "addresses"), [
    ("DC01", []), ("dc01.corp.example.com", []), ("DC02", []), ("dc03.corp.example.com.", []),
    ("LAPTOP-7", ["10.9.4.4"]),
])
def test_protected_hosts(host: str, addresses: list[str]) -> None:
    assert refused(ORG.check_host, host, addresses).rule == "protected_hosts"


def test_unprotected_hosts_and_no_default_protected_host() -> None:
    ORG.check_host("WORKSTATION-042", ["10.1.2.3"])
    ORG.check_host("dc10.corp.example.com")  # dc0? matches one character
    DEFAULT.check_host("DC01")  # protected hosts are configured: none by default


# --- loading and merging ----------------------------------------------------------------------------------

def test_example_file_loads_and_keeps_the_built_in_lists(tmp_path: Path) -> None:
    rails = load_guardrails(ROOT / "config" / "guardrails.json")
    assert rails.never_block_networks == DEFAULT.never_block_networks
    assert rails.protected_accounts == DEFAULT.protected_accounts and rails.org_networks
    assert rails.source.endswith("config/guardrails.json")
    assert load_guardrails(None).source == rails.source  # the default file
    assert "trusted_relays" in rails.model_fields_set and trusted_relays() == tuple(rails.trusted_relays)


@pytest.mark.parametrize(("content", "field", "words"), [
    ("{", None, "invalid JSON at line 1"),
    ("[]", None, "not an object"),
    (json.dumps({"org_networks": ["10.0.0.300/8"]}), "org_networks.0", "not an IPv4/IPv6 address"),
    (json.dumps({"org_domains": ["*.*"]}), "org_domains.0", "not a domain name"),
    (json.dumps({"min_prefix_v4": 40}), "min_prefix_v4", "less than or equal to 32"),
    (json.dumps({"protected_host": ["DC01"]}), "protected_host", "Extra inputs"),
])
def test_broken_file_is_a_config_error_naming_the_field(tmp_path: Path, content: str, field: str | None,
                                                         words: str) -> None:
    p = tmp_path / "g.json"
    p.write_text(content)
    with pytest.raises(ConfigError) as e:
        load_guardrails(p)
    assert e.value.file == str(p) and e.value.field == field and words in str(e.value) and "Fix:" in str(e.value)
    assert trusted_relays(p) == ()  # the API then trusts no relay


def test_an_explicit_missing_file_is_an_error_the_default_one_is_not(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="guardrails file not found"):
        load_guardrails(tmp_path / "nope.json")


def test_a_list_in_the_file_replaces_the_built_in_one_comments_are_ignored(tmp_path: Path) -> None:
    p = tmp_path / "g.json"
    p.write_text(json.dumps({"//": "a comment", "never_block_networks": ["192.168.0.0/16"]}))
    rails = load_guardrails(p)
    rails.check_block_ip("10.1.2.3")  # this organisation blocks inside 10/8 (e.g. lateral movement)
    assert refused(rails.check_block_ip, "0.0.0.0/0").rule == "whole_address_space"  # never configurable


def test_asset_guardrails_only_add(tmp_path: Path) -> None:
    base = Guardrails(min_prefix_v4=20, org_domains=["corp.example.com"])
    extra = Guardrails.model_validate({"org_domains": ["partner.example.org"], "min_prefix_v4": 24,
                                       "protected_hosts": ["SRV-DB-01"]})
    both = base.merged(extra)
    assert both.org_domains == ["corp.example.com", "partner.example.org"] and both.min_prefix_v4 == 24
    assert both.protected_hosts == ["srv-db-01"] and both.never_block_networks == DEFAULT.never_block_networks
    looser = base.merged(Guardrails.model_validate({"min_prefix_v4": 8}))
    assert looser.min_prefix_v4 == 20  # an asset cannot loosen the file's limit
    assert "configuration.guardrails" in both.source


def test_asset_guardrails_are_validated_at_load(tmp_path: Path) -> None:
    fw = {"app": "Palo Alto Networks Firewall", "asset_name": "fw",
          "configuration": {"base_url": "https://fw.example", "api_key": "k3y-0123456789"}}
    bad = [{**fw, "configuration": {**fw["configuration"], "guardrails": {"org_networks": ["nope"]}}},
           {**fw, "asset_name": "fw2",
            "configuration": {**fw["configuration"], "guardrails": {"trusted_relays": ["10.0.0.0/8"]}}},
           {**fw, "asset_name": "fw3", "configuration": {**fw["configuration"],
                                                         "guardrails": {"org_networks": ["203.0.113.0/25"]}}}]
    p = tmp_path / "assets.json"
    p.write_text(json.dumps(bad))
    assets = load_assets(p, discover_connectors())
    assert "configuration.guardrails.org_networks.0" in assets.unavailable["fw"].reason
    assert "trusted_relays are read by the e-mail ingestion" in assets.unavailable["fw2"].reason
    rails = DEFAULT.for_asset(assets["fw3"])
    assert refused(rails.check_block_ip, "203.0.113.9").rule == "org_networks"


def test_a_refusal_is_a_non_retryable_application_error() -> None:
    e = refused(DEFAULT.check_block_ip, "10.0.0.1")
    err = to_application_error(e, None)
    assert err.type == "GuardrailRefused" and err.non_retryable and "GuardrailRefused" in NON_RETRYABLE_TYPES
    assert err.message.startswith("refused by guardrail never_block_networks: 10.0.0.1 is in")
