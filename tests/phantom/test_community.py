"""Real community playbooks from Splunk's public repository (tests/phantom/community/SOURCES.md), unmodified,
against our connectors and the simulator: collect2, condition/decision, format, run data, completed
joins, input playbooks, child playbooks, a high-impact act behind an approval, and old-style callbacks."""

from __future__ import annotations

import json
from pathlib import Path

from core.models import Severity, Status
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack
from tests.phantom.conftest import STANDINS, container, copy_community, done, texts

MAL_IP, MAL_HASH = "198.51.100.7", "deadbeef" + "4" * 56


def outcome(v):
    [run] = v.state.runs
    assert run.status == "success", run.outcome.error if run.outcome else run
    return run.outcome


async def run_one(client, task_queue, assets, name, c, timeout=30.0):
    async with run_stack(client, task_queue, assets) as stack:
        r = await stack.start(c, playbooks=[name])
        return await stack.wait_for(r.container_id, done, timeout=timeout)


async def test_virustotal_v3_identifier_reputation_analysis(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """An input playbook run on a container: its ip and file_hash inputs come from the container's indicators
    (coa.input_spec); condition on playbook inputs, collect2 of filtered results, format %% tables, run data
    as JSON, <block>:custom_function:<name> datapaths, concatenate, save_playbook_output_data."""
    copy_community(phantom_dir, "VirusTotal_v3_Identifier_Reputation_Analysis")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "virustotal_v3_identifier_reputation_analysis",
                      container("events", {"sourceAddress": MAL_IP}, {"fileHash": MAL_HASH}))
    out = outcome(v)
    assert sorted((a.action, a.target) for a in out.actions) == [("file reputation", MAL_HASH),
                                                                  ("ip reputation", MAL_IP)]
    ip_md, file_md = out.outputs["markdown_report"]
    assert ip_md.startswith("SOAR analyzed IP(s) using VirusTotal.")
    assert f"| `{MAL_IP}` | Possibly_Malicious | https://www.virustotal.com/gui/ip-address/{MAL_IP} | VirusTotal v3 |" \
           in ip_md
    # data.*.attributes.meaningful_name and .magic: the row is the VirusTotal object, as in Splunk's app
    assert f"| `{MAL_HASH}` | invoice_0424.exe | PE32 executable (GUI) Intel 80386, for MS Windows | Malicious | https://www.virustotal.com/gui/file/{MAL_HASH} |" in file_md
    ip_obs, file_obs = out.outputs["observable"]
    assert (ip_obs["type"], ip_obs["value"], ip_obs["reputation"]["score"]) == ("ip", MAL_IP, "Possibly_Malicious")
    assert (file_obs["type"], file_obs["value"]) == ("hash", MAL_HASH)
    assert file_obs["source_link"] == f"https://www.virustotal.com/gui/file/{MAL_HASH}"


async def test_domain_investigate(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """Three parallel acts, `completed` joins (each firing once), a condition across two blocks, a decision on
    filtered data, format with drop_none, add_note, playbook output."""
    copy_community(phantom_dir, "domain_investigate")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "domain_investigate",
                      container("events", {"destinationDnsDomain": "evil.example"}))
    out = outcome(v)
    assert out.outputs == {"verdict": "high_risk"}
    assert sorted(a.asset for a in out.actions) == ["ciscoumbrellainvestigate", "safe_browsing", "virustotalv3"]
    [note] = [t for t in texts(v) if t.startswith("Note: Domain Investigate Results")]
    assert "| Domain | VirusTotal | Cisco Umbrella Investigate |\n|---|---|---|\n| evil.example | 14/90 engines " \
           "malicious | 14/90 engines malicious | " in note
    assert len([t for t in texts(v) if t.startswith("Note: ")]) == 1  # the join fired once


async def test_domain_investigate_clean_domain_is_low_risk(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    copy_community(phantom_dir, "domain_investigate")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "domain_investigate",
                      container("events", {"destinationDnsDomain": "intranet.example.com"}))
    assert outcome(v).outputs == {"verdict": "low_risk"}


async def test_automated_enrichment_child_playbooks(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """Child playbooks with and without callback (the parent waits for all), set_status + get_container; a
    (stand-in) dispatcher starts the VirusTotal v3 input playbook with inputs and reads its output."""
    copy_community(phantom_dir, "Automated_Enrichment", "VirusTotal_v3_Identifier_Reputation_Analysis")
    copy_community(phantom_dir, "Identifier_Activity_Analysis_Dispatch", "Attribute_Lookup_Dispatch",
                   "Related_Tickets_Search_Dispatch", folder=STANDINS)
    c = container("events", {"sourceAddress": MAL_IP}, {"fileHash": MAL_HASH})
    c.status = Status.NEW
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "automated_enrichment", c)
    out = outcome(v)
    assert v.state.container.status == Status.OPEN
    comments = texts(v)
    assert "Attribute_Lookup_Dispatch ran; status was open" in comments
    assert "Related_Tickets_Search_Dispatch ran; status was open" in comments
    [note] = [t for t in comments if t.startswith("Note: VirusTotal v3 reputation")]
    assert f"| `{MAL_IP}` | Possibly_Malicious |" in note and "SOAR analyzed file(s) using VirusTotal." in note
    # the grandchild's lookups are numbered actions of the parent's report
    assert sorted(a.action for a in out.actions) == ["file reputation", "ip reputation"]
    assert sorted(a.index for a in out.actions) == [1, 2]


async def test_ad_ldap_account_locking_asks_the_assets_approver(dev_env, task_queue, phantom_assets_file, phantom_dir,
                                                                sim):
    """A community playbook that disables an account outright: the engine asks the asset's approver role."""
    copy_community(phantom_dir, "AD_LDAP_Account_Locking")
    assets = json.loads(phantom_assets_file.read_text())
    for a in assets:
        if a["asset_name"] == "microsoft_ad_ldap":
            a["configuration"]["approver_role"] = "soc_manager"
    phantom_assets_file.write_text(json.dumps(assets))
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceUserName": "jdoe"}), playbooks=["ad_ldap_account_locking"])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        assert p.role == "soc_manager" and p.options == ["Approve", "Deny"]
        assert "Active Directory disable user on jdoe (block disable_user_account)" in p.message
        assert sim.state()["effects"].get("active_directory", {}).get("disabled_users", []) == []
        await answer(dev_env.client, p, "Approve", responder="carol", roles=("soc_manager",))
        v = await stack.wait_for(r.container_id, done)
    out = outcome(v)
    assert sim.state()["effects"]["active_directory"]["disabled_users"] == ["jdoe"]
    [obs] = out.outputs["observable"]
    assert (obs["type"], obs["value"], obs["status"]) == ("Microsoft AD LDAP user name", "jdoe", "success")


async def test_customer_firewall_request_handle_artifact(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """Chained conditions over filtered data (`and`, artifact labels, custom CEF keys), a `context` key kept out
    of the connector's parameters; blocking a source address is refused by our PAN-OS connector."""
    copy_community(phantom_dir, "customer_firewall_request_handle_artifact")
    c = container("events", {"destinationAddress": "198.51.100.20", "action": "block_ip"},
                  {"sourceAddress": "198.51.100.21", "action": "block_ip"},
                  {"destinationAddress": "198.51.100.23", "action": "block_ip"})
    for a in c.artifacts[:2]:
        a.label = "customer_request"
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "customer_firewall_request_handle_artifact", c)
    out = outcome(v)
    blocked = str(sim.state()["effects"]["panos"]["blocked_ips"])
    assert "198.51.100.20" in blocked and "198.51.100.21" not in blocked and "198.51.100.23" not in blocked
    got = sorted((a.action, a.target, a.status) for a in out.actions)
    assert got == [("block ip", "198.51.100.20", "success"), ("block ip", "198.51.100.21", "failed")]
    refused = next(a for a in out.actions if a.target == "198.51.100.21")
    assert "as a source is not supported" in refused.message


async def test_customer_firewall_unblock_request(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    copy_community(phantom_dir, "customer_firewall_request_handle_artifact")
    c = container("events", {"destinationAddress": "198.51.100.22", "action": "unblock_ip"})
    c.artifacts[0].label = "customer_request"
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "customer_firewall_request_handle_artifact", c)
    assert [(a.action, a.target, a.status) for a in outcome(v).actions] == [("unblock ip", "198.51.100.22", "success")]


async def test_ip_enrichment_decides_on_container_severity(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """A decision on a literal (the container dict's severity); `ip reputation` vs its Splunk alias `lookup ip`."""
    copy_community(phantom_dir, "ip_enrichment")
    high = await run_one(dev_env.client, task_queue, phantom_assets_file, "ip_enrichment",
                         container("events", {"sourceAddress": MAL_IP}, severity=Severity.HIGH))
    low = await run_one(dev_env.client, task_queue, phantom_assets_file, "ip_enrichment",
                        container("events", {"sourceAddress": MAL_IP}, severity=Severity.LOW))
    [h], [lo] = outcome(high).actions, outcome(low).actions
    assert (h.asset, h.connector, h.status) == ("greynoise", "abuseipdb", "success")
    assert (lo.asset, lo.connector, lo.status) == ("greynoise", "abuseipdb", "success")
    assert {h.action, lo.action} == {"ip reputation"}


async def test_greynoise_update_severity(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """decision(action_results=results) on parameters, then set_severity("Low") (any case)."""
    copy_community(phantom_dir, "greynoise_update_severity_from_ip_reputation")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "greynoise_update_severity_from_ip_reputation",
                      container("events", {"sourceAddress": MAL_IP}, severity=Severity.HIGH))
    outcome(v)
    # the playbook compares the IP parameter with "malicious", which never matches: it always sets Low
    assert v.state.container.severity == Severity.LOW


async def test_test_connectivity_old_style_callbacks(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    """Callbacks named `(action, success, incident, results, handle)`, an act with no assets (every asset that
    offers it) and no parameters, and on_finish's summary as a string."""
    copy_community(phantom_dir, "test_connectivity")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "test_connectivity",
                      container("events", {"sourceAddress": "10.0.0.1"}), timeout=60)
    out = outcome(v)
    configured = {a["asset_name"] for a in json.loads(Path(phantom_assets_file).read_text())}
    assert {a.asset for a in out.actions} == configured
    assert all(a.action == "test connectivity" and a.status == "success" for a in out.actions), \
        [(a.asset, a.message) for a in out.actions if a.status != "success"]


def test_community_files_are_unmodified():
    """Each copy is byte-identical to the file at the commit SOURCES.md names (when the mirror is here)."""
    import subprocess

    from tests.phantom.conftest import COMMUNITY

    mirror = Path("/work/.mirror/phantomcyber+playbooks/repo")
    if not mirror.is_dir():
        import pytest

        pytest.skip(f"no mirror of phantomcyber/playbooks at {mirror}")
    rows = [line.split("|")[1:5] for line in (COMMUNITY / "SOURCES.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| file") and not line.startswith("| ---")]
    assert len(rows) >= 9
    for file, _branch, commit, path in ((c.strip() for c in row) for row in rows):
        upstream = subprocess.run(["git", "--git-dir", str(mirror), "show", f"{commit}:{path.split(' ')[0]}"],
                                  capture_output=True, check=True).stdout
        assert (COMMUNITY / file).read_bytes() == upstream, file


async def test_virustotal_v3_identifier_reputation_analysis_urls_and_domains(dev_env, task_queue, phantom_assets_file,
                                                                           phantom_dir, sim):
    """The url and domain branches read `data.*.attributes.categories`: present because the data row is the
    VirusTotal object, as Splunk's VirusTotal v3 app returns it."""
    copy_community(phantom_dir, "VirusTotal_v3_Identifier_Reputation_Analysis")
    v = await run_one(dev_env.client, task_queue, phantom_assets_file, "virustotal_v3_identifier_reputation_analysis",
                      container("events", {"requestURL": "http://malicious.example/login"},
                                {"destinationDnsDomain": "evil.example"}))
    out = outcome(v)
    assert sorted((a.action, a.target) for a in out.actions) == [
        ("domain reputation", "evil.example"), ("url reputation", "http://malicious.example/login")]
    url_md, domain_md = out.outputs["markdown_report"]
    assert url_md.startswith("SOAR analyzed URL(s) using VirusTotal.") and "http://malicious.example/login" in url_md
    assert domain_md.startswith("SOAR analyzed Domain(s) using VirusTotal.") and "evil.example" in domain_md
    assert "| `http://malicious.example/login` | Probably_Malicious | ['phishing and other frauds'] |" in url_md
    assert "| `evil.example` | Probably_Malicious | ['phishing and other frauds'] |" in domain_md
    url_obs, domain_obs = out.outputs["observable"]
    assert url_obs["categories"] == ["phishing and other frauds"] and url_obs["attributes"]["path"] == "/login"
    assert (domain_obs["type"], domain_obs["reputation"]["score"]) == ("domain", "Probably_Malicious")
