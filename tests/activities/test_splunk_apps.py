"""Asset objects as users have them: the product brief's three (verbatim, tests/data/brief/assets.json) and one
asset per Splunk SOAR app written with that app's own name and configuration keys (from the apps' metadata:
splunk-soar-connectors/<app>/<app>.json), each running an action, under its Splunk name, against the simulator."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from activities import discover_connectors
from core.approvals import load_keyring
from core.config.assets import load_assets
from core.connector import raw_target
from core.models import ActionInput
from core.runtime import AssetStore
from core.settings import ROOT, get_settings
from simulator import credentials as cred
from tests.activities.conftest import sign_approval
from tests.conftest import Sim

BRIEF = ROOT / "tests" / "data" / "brief" / "assets.json"
CONNECTORS = discover_connectors()


def test_the_briefs_three_assets_load_verbatim(caplog: pytest.LogCaptureFixture) -> None:
    shared = ROOT.parent / "shared" / "brief" / "assets.json"
    if shared.exists():  # the fixture is the brief's file, unchanged
        assert json.loads(BRIEF.read_text()) == json.loads(shared.read_text())
    with caplog.at_level(logging.WARNING):
        assets = load_assets(BRIEF, CONNECTORS)
    assert set(assets) == {"virustotal_prod", "crowdstrike_prod", "ad_prod"} and not assets.unavailable
    vt, cs, ad = assets["virustotal_prod"], assets["crowdstrike_prod"], assets["ad_prod"]
    assert vt.connector == "virustotal" and vt.rate_limited and vt.per_second == pytest.approx(4 / 60)
    assert cs.connector == "crowdstrike" and cs.settings.base_url == "https://api.crowdstrike.com"
    assert ad.connector == "active_directory" and ad.settings.transport == "ldaps" and ad.settings.port == 636
    assert ad.settings.server == "dc01.company.com" and ad.configuration_redacted["password"] == "***"
    assert "literal secret" in caplog.text and "SERVICE_ACCOUNT_PASSWORD" not in caplog.text


def splunk_assets(sim: Sim) -> list[dict[str, Any]]:
    """One asset per Splunk SOAR app, with the app's own keys (plus base_url where the app has none, to reach
    the simulator)."""
    return [
        {"app": "VirusTotal v3", "asset_name": "vt", "configuration": {
            "apikey": "${VT_API_KEY}", "rate_limit": False, "timeout": 20, "poll_interval": 5, "waiting_time": 0,
            "cache_reputation_checks": True, "cache_expiration_interval": 600, "cache_size": 1000,
            "base_url": f"{sim.url}/virustotal/api/v3"}},
        {"app": "CrowdStrike OAuth API", "asset_name": "falcon", "configuration": {
            "url": f"{sim.url}/crowdstrike", "client_id": "${CS_CLIENT_ID}", "client_secret": "${CS_CLIENT_SECRET}",
            "max_events": 10000, "ingest_incidents": False, "collate": True, "place_holder": None}},
        {"app": "Palo Alto Networks Firewall", "asset_name": "pafw", "configuration": {
            "device": f"{sim.url}/panos", "verify_server_cert": False, "username": cred.PAN_USERNAME,
            "password": "${PAN_PASSWORD}"}},
        {"app": "ServiceNow", "asset_name": "snow", "configuration": {
            "url": f"{sim.url}/servicenow", "username": cred.SNOW_USERNAME, "password": "${SNOW_PASSWORD}",
            "on_poll_table": "incident", "max_container": 100, "timezone": "UTC"}},
        {"app": "AD LDAP", "asset_name": "adldap", "configuration": {
            "server": "127.0.0.1", "username": cred.AD_BIND_USER, "password": "${AD_PASSWORD}", "force_ssl": True,
            "validate_ssl_cert": False, "ssl_port": str(sim.ldap_port)}},
        {"app": "MaxMind", "asset_name": "geo", "configuration": {
            "license_key": "${MAXMIND_LICENSE_KEY}", "account_id": cred.MAXMIND_ACCOUNT_ID,
            "ip_address": "8.8.8.8", "base_url": f"{sim.url}/maxmind"}},
        {"app": "WHOIS", "asset_name": "whois", "configuration": {
            "update_days": 14, "base_url": f"{sim.url}/rdap"}},
        {"app": "AbuseIPDB", "asset_name": "abuse", "configuration": {
            "api_key": "${ABUSEIPDB_API_KEY}", "base_url": f"{sim.url}/abuseipdb/api/v2"}},
    ]


@pytest.fixture
async def store(sim: Sim, tmp_path: Path) -> Any:
    path = tmp_path / "assets.json"
    path.write_text(json.dumps(splunk_assets(sim)))
    s = AssetStore.load(path, CONNECTORS, keyring=load_keyring(get_settings().trusted_keys_path))
    yield s
    await s.aclose()


def test_splunk_app_keys_map_onto_ours(store: AssetStore, sim: Sim) -> None:
    assert not store.unavailable
    vt = store.get("vt").settings
    assert (vt.timeout_s, vt.cache_ttl_s, vt.rate_limit) == (20, 600, False)
    assert store.get("falcon").settings.base_url.endswith("/crowdstrike")
    pa = store.get("pafw").settings
    assert pa.base_url.endswith("/panos") and pa.verify_ssl is False
    ad = store.get("adldap").settings
    assert (ad.use_ssl, ad.verify_ssl, ad.port, ad.transport) == (True, False, sim.ldap_port, "ldaps")  # "636" too
    assert store.get("geo").settings.test_ip == "8.8.8.8"


def test_a_bare_device_is_an_https_firewall_and_unknown_keys_are_warnings(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps([
        {"app": "Palo Alto Networks Firewall", "asset_name": "pa", "configuration": {
            "device": "10.1.2.3", "username": "admin", "password": "p", "colour": "blue"}},
        {"app": "LDAP", "asset_name": "ldap", "configuration": {
            "server": "dc1.corp.example.com", "username": "svc", "password": "p", "force_ssl": False}},
        {"app": "CrowdStrike Falcon", "asset_name": "cs", "configuration": {
            "client_id": "i", "client_secret": "s", "base_url": "https://api.eu-1.crowdstrike.com"}},
    ]))
    with caplog.at_level(logging.INFO):
        assets = load_assets(path, CONNECTORS)
    assert assets["pa"].settings.base_url == "https://10.1.2.3" and assets["pa"].settings.device_name == "10.1.2.3"
    assert ("asset 'pa': configuration.colour is not a setting of the Palo Alto Networks Firewall connector; "
            "ignored") in caplog.text
    assert assets["ldap"].settings.transport == "ldap" and assets["ldap"].settings.port == 389
    assert assets["cs"].app == "CrowdStrike OAuth API"


def test_insecure_tls_is_honoured_and_logged(store: AssetStore, caplog: pytest.LogCaptureFixture,
                                             tmp_path: Path, sim: Sim) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps([a for a in splunk_assets(sim) if a["asset_name"] == "pafw"]))
    with caplog.at_level(logging.WARNING):
        load_assets(path, CONNECTORS)
    assert "asset 'pafw': TLS certificate verification is OFF" in caplog.text


async def run(store: AssetStore, asset: str, action: str, params: dict[str, Any], approve: bool = False) -> Any:
    a = store.get(asset)
    spec = store.connector_of(a).find(action)
    approval = sign_approval(spec.name, raw_target(spec, params), a.connector, "SOAR-SPLUNKAPPS") if approve else None
    return await store.run(spec, ActionInput(asset=asset, params=params, approval=approval,
                                             container_id="SOAR-SPLUNKAPPS"))


async def test_every_splunk_app_asset_runs_an_action_under_its_splunk_name(store: AssetStore, sim: Sim) -> None:
    vt = await run(store, "vt", "url reputation", {"url": "http://malicious.example/x"})
    assert {"harmless", "malicious", "suspicious", "undetected"} <= set(vt.summary) and vt.summary["malicious"] > 5
    cs = await run(store, "falcon", "quarantine device", {"hostname": "WORKSTATION-042"}, approve=True)
    assert cs.summary["total_quarantined_device"] == 1 and "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"][
        "contained"]
    pa = await run(store, "pafw", "block ip", {"ip": "198.51.100.4", "vsys": "vsys1", "is_source_address": False})
    assert pa.status == "success" and "198.51.100.4" in sim.state()["effects"]["panos"]["blocked_ips"]
    sn = await run(store, "snow", "create ticket", {
        "short_description": "Phishing", "fields": json.dumps({"urgency": "1", "impact": "2", "category": "security"})})
    incident = next(iter(sim.state()["effects"]["servicenow"]["incidents"].values()))
    assert (incident["urgency"], incident["impact"], incident["category"]) == ("1", "2", "security")
    assert sn.summary["created_ticket_id"] == sn.summary["sys_id"] and len(sn.summary["sys_id"]) == 32
    ad = await run(store, "adldap", "disable account", {"user": "asmith", "use_samaccountname": True}, approve=True)
    assert ad.summary["account_status"] == "disabled"
    assert "asmith" in sim.state()["effects"]["active_directory"]["disabled_users"]
    geo = await run(store, "geo", "geolocate ip", {"ip": "81.2.69.160"})
    assert {"city", "state", "country"} <= set(geo.summary) and geo.summary["country"]
    who = await run(store, "whois", "whois ip", {"ip": "8.8.8.8"})
    assert who.summary["country_code"] == "US" and who.summary["nets"][0]["range"].startswith("8.8.8.0")
    assert {"asn", "registry"} <= set(who.summary)
    ab = await run(store, "abuse", "lookup ip", {"ip": "198.51.100.77", "days": 30})
    assert ab.summary["reports_found"] == ab.summary["total_reports"] and ab.message.startswith("Confidence:")
