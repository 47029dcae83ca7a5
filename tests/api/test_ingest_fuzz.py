"""Property tests of both ingestion parsers: any input gives a valid container or an IngestError.

Also an oracle test: for well-formed MIME trees written by the stdlib generator, the bounded walker finds
the same attachments (same bytes, same order) as the stdlib parser.
"""

from __future__ import annotations

import copy
import hashlib
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.ingest import IngestError, parse_email, parse_splunk
from api.ingest.splunk import FIELD_MAP
from core.models import Container

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("raw")


def valid(container: Container) -> None:
    """The container survives a JSON round trip unchanged (so it can travel to Temporal and back)."""
    assert Container.model_validate_json(container.model_dump_json()) == container


# --- e-mail -------------------------------------------------------------------------------------------

HEADER_NAMES = ["From", "To", "Subject", "Reply-To", "Received", "Message-ID", "Date", "Content-Type",
                "Content-Transfer-Encoding", "Content-Disposition", "X-Originating-IP", "MIME-Version"]
HEADER_VALUES = [
    '"Alice" <alice@sender.example>', "<>", "a@", "=?utf-8?b?!!!?=", "=?x-bad?q?=FF?=", "(((((", '"unterminated',
    "multipart/mixed; boundary=b", "multipart/alternative; boundary=\"b\"", "multipart/mixed", "text/html",
    "text/plain; charset=rot13", "message/rfc822", "base64", "quoted-printable", "x-uuencode",
    'attachment; filename="../../x.exe"', "attachment; filename*=utf-8''%FF%FE", "from x ([8.8.8.8]) by y",
    "from x (x [IPv6:::1]) by y", "[999.1.1.1]",
]
BODY_LINES = ["--b", "--b--", "", "hxxp://evil[.]example/x", "<a href='http://x.example/a'>", "<!--", "=",
              "=3D", "QUJD", "Content-Type: text/html", "Content-Type: multipart/mixed; boundary=b",
              "http://[::1", "hxxps[:]//a(.)b[dot]example/(", "<meta http-equiv=refresh content='0;url=http://r.example'>"]

header = st.tuples(st.sampled_from(HEADER_NAMES), st.one_of(st.sampled_from(HEADER_VALUES), st.text(max_size=60)))
body_line = st.one_of(st.sampled_from(BODY_LINES), st.text(max_size=60))


@st.composite
def messages(draw) -> bytes:
    headers = draw(st.lists(header, max_size=12))
    lines = draw(st.lists(body_line, max_size=40))
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    text = eol.join(f"{k}: {v}" for k, v in headers) + eol + eol + eol.join(lines)
    return text.encode("utf-8", "surrogatepass")


def check_email(raw: bytes, store: Path) -> None:
    try:
        r = parse_email(raw, store_dir=store, max_parts=50, max_urls=20, max_attachments=5)
    except IngestError as e:
        assert e.field == "body"
        return
    c = r.container
    valid(c)
    assert c.label == "phishing" and c.name.startswith("Phishing: ")
    assert c.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert Path(c.raw_ref).read_bytes() == raw
    assert len(c.artifacts) <= 1000 and all(isinstance(n, str) and n for n in r.notes)
    assert len([a for a in c.artifacts if a.name == "URL"]) <= 20


@FUZZ
@given(raw=st.binary(max_size=3000))
def test_email_arbitrary_bytes(store, raw):
    check_email(raw, store)


@FUZZ
@given(raw=messages())
def test_email_message_like_bytes(store, raw):
    check_email(raw, store)


# A MIME tree built with the stdlib: leaves are text, HTML or binary attachments; inner nodes multipart.
leaf = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=200)),
    st.tuples(st.just("html"), st.text(max_size=200)),
    st.tuples(st.just("file"), st.binary(max_size=300), st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)),
)
tree = st.recursive(leaf, lambda kids: st.tuples(st.just("multi"), st.sampled_from(["mixed", "alternative",
                                                                                      "related"]),
                                                  st.lists(kids, min_size=1, max_size=4)), max_leaves=12)


def build(node) -> EmailMessage:
    m = EmailMessage()
    if node[0] == "text":
        m.set_content(node[1])
    elif node[0] == "html":
        m.set_content(node[1], subtype="html")
    elif node[0] == "file":
        m.set_content(node[1], maintype="application", subtype="octet-stream", filename=node[2])
    else:
        m["Content-Type"] = f"multipart/{node[1]}"
        for child in node[2]:
            m.attach(build(child))
    return m


def stdlib_attachments(raw: bytes) -> list[tuple[str, str | None]]:
    out = []
    for part in BytesParser(policy=default_policy).parsebytes(raw).walk():
        if part.is_multipart():
            continue
        if part.get_filename() or part.get_content_disposition() == "attachment" or \
                part.get_content_maintype() not in ("text", "message"):
            out.append((hashlib.sha256(part.get_payload(decode=True)).hexdigest(), part.get_filename()))
    return list(dict.fromkeys(out))  # artifacts are deduplicated


@settings(FUZZ, max_examples=100)  # each example also runs the stdlib generator and parser
@given(node=tree, eol=st.sampled_from(["\r\n", "\n"]))
def test_mime_walk_agrees_with_stdlib(store, node, eol):
    root = build(node)
    root["From"] = "a@sender.example"
    root["Subject"] = "tree"
    raw = root.as_bytes(policy=default_policy.clone(linesep=eol))
    r = parse_email(raw, store_dir=store, max_attachments=1000, max_artifacts=10_000)
    got = [(a.cef["fileHash"], a.cef.get("fileName")) for a in r.container.artifacts if a.name == "Attachment"]
    assert got == stdlib_attachments(raw)
    assert r.notes == []


# --- Splunk -------------------------------------------------------------------------------------------

json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_value = st.recursive(json_scalar, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                              st.dictionaries(st.text(max_size=10), kids,
                                                                              max_size=4)),
                          max_leaves=10)
KNOWN = [*FIELD_MAP, "urgency", "severity", "rule_name", "rule_title", "rule_description", "event_id",
         "orig_rid", "_raw", "_time", "count", "search_name"]
field_value = st.one_of(st.sampled_from(["10.0.0.1", "999.1.1.1", "::1", "HOST-1", "a" * 64, "https://x.example/",
                                         "", " ", "critical", "informational"]),
                        st.lists(st.sampled_from(["10.0.0.2", "bad value", "b" * 40]), max_size=5), json_value)
alerts = st.fixed_dictionaries(
    {"result": st.dictionaries(st.one_of(st.sampled_from(KNOWN), st.text(max_size=20)), field_value, max_size=15),
     "sid": st.one_of(st.from_regex(r"[a-z0-9_.]{1,30}", fullmatch=True), st.text(max_size=40), json_scalar)},
    optional={"search_name": st.one_of(st.none(), st.text(max_size=40)), "results_link": json_value,
              "app": json_value, "owner": json_value},
)


def check_splunk(payload) -> None:
    before = copy.deepcopy(payload)
    try:
        r = parse_splunk(payload, max_artifacts=50)
    except IngestError as e:
        assert e.field in ("body", "result", "sid") and e.message
        return
    assert payload == before or payload != payload  # not mutated (NaN is never equal to itself)
    c = r.container
    valid(c)
    assert c.label == "notable" and c.source_data_identifier and len(c.artifacts) <= 50
    assert parse_splunk(payload, max_artifacts=50).container.source_data_identifier == c.source_data_identifier


@FUZZ
@given(payload=json_value)
def test_splunk_arbitrary_json(payload):
    check_splunk(payload)


@FUZZ
@given(payload=alerts)
def test_splunk_alert_like_payloads(payload):
    check_splunk(payload)
