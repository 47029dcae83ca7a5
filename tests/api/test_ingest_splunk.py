"""parse_splunk: a Splunk ES webhook payload -> a notable container."""

from __future__ import annotations

import copy
import json

import pytest

from api.ingest import IngestError, parse_splunk
from core.models import Severity

# The example of vendor-apis.md §9 (Splunk docs: webhook alert action), as Splunk sends it.
VENDOR_EXAMPLE = json.loads("""
{"result": {"src": "10.1.1.5", "dest": "10.2.2.9", "user": "jdoe", "count": "8",
            "rule_name": "Brute Force Access Behavior Detected", "urgency": "high"},
 "sid": "scheduler__admin__SplunkEnterpriseSecuritySuite__RMD5..._at_1715000000_123",
 "results_link": "https://splunk:8000/app/SplunkEnterpriseSecuritySuite/@go?sid=...",
 "search_name": "Access - Brute Force Access Behavior Detected - Rule",
 "owner": "admin", "app": "SplunkEnterpriseSecuritySuite"}
""")
SID = VENDOR_EXAMPLE["sid"]


def payload(**result) -> dict:
    p = copy.deepcopy(VENDOR_EXAMPLE)
    p["result"].update(result)
    return p


def splunk_id(p: dict) -> tuple[str, str]:
    """(the Splunk part, the result hash) of the container's source_data_identifier."""
    ident, _, digest = parse_splunk(p).container.source_data_identifier.rpartition("#")
    assert len(digest) == 64 and int(digest, 16) >= 0
    return ident, digest


def test_vendor_example_mapped_exactly():
    r = parse_splunk(VENDOR_EXAMPLE)
    assert r.notes == []
    digest = splunk_id(VENDOR_EXAMPLE)[1]
    assert r.container.model_dump(exclude_none=True) == {
        "name": "Brute Force Access Behavior Detected",
        "label": "notable",
        "severity": Severity.HIGH,
        "sensitivity": "amber",
        "status": "new",
        "source_data_identifier": f"{SID}#{digest}",
        "description": (
            "Search: Access - Brute Force Access Behavior Detected - Rule\n"
            "Splunk results: https://splunk:8000/app/SplunkEnterpriseSecuritySuite/@go?sid=...\n"
            "App: SplunkEnterpriseSecuritySuite\nSearch owner: admin\n"
            f"Search id: {SID}"),
        "artifacts": [{
            "name": "Notable fields", "label": "notable", "type": "notable", "severity": Severity.HIGH,
            "tags": [],
            "cef": {"sourceAddress": "10.1.1.5", "destinationAddress": "10.2.2.9", "sourceUserName": "jdoe",
                    "count": "8", "rule_name": "Brute Force Access Behavior Detected", "urgency": "high"},
        }],
        "tags": [],
    }


def test_all_mapped_fields():
    r = parse_splunk(payload(
        src="WORKSTATION-042", dest="mail.corp.example", src_user="CORP\\jdoe", dest_user="admin",
        url="https://evil.example/x", file_hash="D41D8CD98F00B204E9800998ECF8427E", file_name="a.exe",
        dest_dns="evil.example", user=None, _raw="raw event text", _time="1715000000"))
    cef = r.container.artifacts[0].cef
    assert {k: cef[k] for k in cef if k[0].islower() and k not in ("count", "rule_name", "urgency", "_time")} \
        == {"sourceHostName": "WORKSTATION-042", "destinationHostName": "mail.corp.example",
            "sourceUserName": "CORP\\jdoe", "destinationUserName": "admin", "requestURL": "https://evil.example/x",
            "fileHash": "d41d8cd98f00b204e9800998ecf8427e", "fileHashMd5": "d41d8cd98f00b204e9800998ecf8427e",
            "fileName": "a.exe", "destinationDnsDomain": "evil.example"}
    assert cef["_time"] == "1715000000" and "_raw" not in cef
    assert r.notes == []


def test_multivalue_fields_get_one_artifact_per_value():
    sha1, sha256 = "a" * 40, "b" * 64
    r = parse_splunk(payload(dest=["10.0.0.1", "10.0.0.2"], file_hash=[sha1, sha256], user=["jdoe"]))
    got = [(a.name, a.cef) for a in r.container.artifacts]
    main = got[0][1]
    assert main["sourceAddress"] == "10.1.1.5" and main["sourceUserName"] == "jdoe"  # a 1-item list is single
    assert "destinationAddress" not in main
    assert got[1:] == [
        ("Notable field: dest", {"destinationAddress": "10.0.0.1"}),
        ("Notable field: dest", {"destinationAddress": "10.0.0.2"}),
        ("Notable field: file_hash", {"fileHash": sha1, "fileHashSha1": sha1}),
        ("Notable field: file_hash", {"fileHash": sha256, "fileHashSha256": sha256}),
    ]


def test_conflicting_values_for_one_cef_key_are_kept_apart():
    r = parse_splunk(payload(src="HOST-A", src_host="HOST-B"))
    assert r.container.artifacts[0].cef["sourceHostName"] == "HOST-A"
    assert [(a.name, a.cef) for a in r.container.artifacts[1:]] == [
        ("Notable field: src_host", {"sourceHostName": "HOST-B"})]


def test_invalid_values_are_skipped_with_a_note():
    r = parse_splunk(payload(src="999.1.1.1", url="not a url", file_hash="xyz", dest=["10.0.0.1", "300.0.0.1"]))
    c = r.container
    cef = c.artifacts[0].cef
    assert "sourceAddress" not in cef and "sourceHostName" not in cef and "requestURL" not in cef
    assert cef["sourceUserName"] == "jdoe"  # the rest of the alert is intact
    assert [a.cef for a in c.artifacts[1:]] == [{"destinationAddress": "10.0.0.1"}]
    assert len(r.notes) == 4
    assert r.notes[0].startswith("result.src skipped: cef.sourceAddress must be an IPv4 or IPv6 address")
    assert "'999.1.1.1'" in r.notes[0]
    assert any("result.url" in n for n in r.notes) and any("result.file_hash" in n for n in r.notes)
    assert any("'300.0.0.1'" in n for n in r.notes)


@pytest.mark.parametrize(("body", "field", "words"), [
    ([1, 2], "body", "JSON object"),
    ("text", "body", "JSON object"),
    ({"sid": "x"}, "result", "missing"),
    ({"sid": "x", "result": "src=1.2.3.4"}, "result", "must be an object"),
    ({"sid": "x", "result": None}, "result", "must be an object"),
    ({"result": {"src": "10.0.0.1"}}, "sid", "missing"),
    ({"result": {}, "sid": 123}, "sid", "non-empty string"),
    ({"result": {}, "sid": "  "}, "sid", "non-empty string"),
])
def test_structural_errors(body, field, words):
    with pytest.raises(IngestError) as e:
        parse_splunk(body)
    assert e.value.field == field and words in e.value.message


def test_same_alert_twice_same_identifier():
    assert parse_splunk(VENDOR_EXAMPLE).container.source_data_identifier == \
        parse_splunk(copy.deepcopy(VENDOR_EXAMPLE)).container.source_data_identifier
    assert splunk_id(VENDOR_EXAMPLE)[0] == SID
    a = parse_splunk(payload(orig_rid="3")).container.source_data_identifier
    assert a.startswith(f"{SID}/3#") and a == parse_splunk(payload(orig_rid="3")).container.source_data_identifier
    assert parse_splunk(payload(orig_rid="4")).container.source_data_identifier != a
    ev = "F1C2E3D4-0000-4000-8000-000000000001@@notable@@0123456789abcdef0123456789abcdef"
    assert splunk_id(payload(event_id=ev, orig_rid="3"))[0] == ev
    # Key order in the JSON does not matter: the hash is over the canonical form.
    shuffled = copy.deepcopy(VENDOR_EXAMPLE)
    shuffled["result"] = dict(reversed(list(shuffled["result"].items())))
    assert splunk_id(shuffled) == splunk_id(VENDOR_EXAMPLE)


def test_reused_sid_with_another_result_is_not_a_duplicate():
    # An attacker (or a buggy forwarder) replaying a known sid with other fields must not be merged into the
    # earlier container, where its indicators would never reach a playbook.
    benign, hostile = payload(), payload(src="185.220.101.34", url="https://evil.example/drop")
    assert splunk_id(benign)[0] == splunk_id(hostile)[0] == SID
    assert splunk_id(benign)[1] != splunk_id(hostile)[1]


def test_long_sid_keeps_the_whole_hash():
    p = payload()
    p["sid"] = "s" * 600
    ident, digest = splunk_id(p)
    assert len(ident) + 1 + len(digest) == 512 and ident == "s" * 447


def test_name_precedence():
    assert parse_splunk(payload(rule_title="Brute force by jdoe")).container.name == "Brute force by jdoe"
    p = payload()
    del p["result"]["rule_name"]
    assert parse_splunk(p).container.name == "Access - Brute Force Access Behavior Detected - Rule"
    p["search_name"] = None  # the docs' example shows null
    assert parse_splunk(p).container.name == "Splunk notable"


@pytest.mark.parametrize(("urgency", "severity"), [
    ("informational", Severity.LOW), ("low", Severity.LOW), ("Medium", Severity.MEDIUM),
    ("high", Severity.HIGH), ("critical", Severity.HIGH),
])
def test_urgency_to_severity(urgency, severity):
    c = parse_splunk(payload(urgency=urgency)).container
    assert c.severity == severity and c.artifacts[0].severity == severity


def test_unknown_urgency_falls_back_to_severity_field():
    r = parse_splunk(payload(urgency="extreme", severity="critical"))
    assert r.container.severity == Severity.HIGH
    assert r.notes == ["result.urgency 'extreme' is not one of informational, low, medium, high, critical"]
    p = payload()
    del p["result"]["urgency"]
    assert parse_splunk(p).container.severity == Severity.MEDIUM


def test_many_multivalues_are_capped():
    r = parse_splunk(payload(dest=[f"10.0.{i // 250}.{i % 250}" for i in range(5000)]), max_artifacts=100)
    assert len(r.container.artifacts) == 100
    assert r.notes == ["result.dest has 5000 values; the first 100 were read",
                       "101 artifacts found; first 100 kept"]
