"""The parser findings from real phishing, each as a minimal message written here, with the artifacts expected.

Also: deduplication by content, hostile input that used to raise (RecursionError), the payload budget, and the
places where the parser already beat a naive stdlib reader (kept on purpose).
"""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import hashlib
import json
import sys
from pathlib import Path

import pytest

from api.ingest import IngestError, parse_email, parse_splunk, parse_splunk_body
from api.ingest.limits import CONTAINER_BUDGET_BYTES
from core.models import Container
from workflows.ids import container_id_for

ZIP = b"PK\x03\x04" + bytes(range(200)) + b"malware"
ZIP_SHA = hashlib.sha256(ZIP).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "raw"


def parse(raw: bytes | str, store: Path, **kw):
    return parse_email(raw.encode() if isinstance(raw, str) else raw, store_dir=store, **kw)


def values(c: Container, key: str, name: str | None = None) -> list:
    return [a.cef[key] for a in c.artifacts if key in a.cef and (name is None or a.name == name)]


def mail(body: str, ctype: str = "text/plain", headers: str = "") -> str:
    return (f"From: a@sender.example\nSubject: t\nMessage-ID: <m1@sender.example>\n{headers}"
            f"Content-Type: {ctype}\n\n{body}\n")


# --- deduplication --------------------------------------------------------------------------------------

def test_reused_message_id_gets_its_own_container(store):
    benign = parse(mail("Lunch on Friday?"), store).container
    hostile = parse(mail("Reset your password: https://evil.example/reset"), store).container
    assert benign.source_data_identifier.startswith("email:<m1@sender.example>#")
    assert hostile.source_data_identifier.startswith("email:<m1@sender.example>#")
    assert container_id_for(benign.source_data_identifier) != container_id_for(hostile.source_data_identifier)
    again = parse(mail("Lunch on Friday?"), store).container
    assert again.source_data_identifier == benign.source_data_identifier


def test_long_message_id_keeps_the_whole_hash(store):
    raw = mail("x", headers=f"Message-ID: <{'a' * 600}@x.example>\n").replace("Message-ID: <m1@sender.example>\n", "")
    ident = parse(raw, store).container.source_data_identifier
    assert len(ident) <= 512 and ident.endswith("#" + hashlib.sha256(raw.encode()).hexdigest())


# --- hostile input that used to reach a 500 -----------------------------------------------------------

def test_from_of_496_open_parens_gives_a_container(store):
    r = parse("From: " + "(" * 496 + "\nSubject: x\n\nhttp://evil.example/a\n", store)
    assert values(r.container, "requestURL") == ["http://evil.example/a"]
    assert values(r.container, "fromEmail") == []
    assert "the From header has no valid e-mail address; no sender artifact" in r.notes


def test_exhausted_stack_is_a_422_naming_the_part(store):
    raw = mail("<a href='http://x.example/'>x</a>", "text/html", headers='To: "B" <b@corp.example>\n').encode()

    def dive(n: int):
        return dive(n - 1) if n else parse_email(raw, store_dir=store)

    depth = sys.getrecursionlimit() - len(_stack()) - 12
    with pytest.raises(IngestError) as e:
        dive(depth)
    assert e.value.field in ("body", "headers", "MIME part 1") and "nested too deeply" in e.value.message


def _stack() -> list:
    frames, f = [], sys._getframe()
    while f:
        frames.append(f)
        f = f.f_back
    return frames


def test_splunk_body_nested_50000_levels_is_a_422():
    with pytest.raises(IngestError) as e:
        parse_splunk_body(b"[" * 50_000 + b"]" * 50_000)
    assert e.value.field == "body" and "nested too deeply" in e.value.message
    with pytest.raises(IngestError) as e:
        parse_splunk_body(b'{"result": {"count": ' + b"9" * 5000 + b'}, "sid": "s"}')
    assert e.value.field == "body" and "not valid JSON" in e.value.message


def test_splunk_result_nested_beyond_the_stack_is_a_422():
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(IngestError) as e:
        parse_splunk({"result": {"src": "10.0.0.1", "x": deep}, "sid": "s"})
    assert e.value.field == "result"


# --- 1. obfuscated IP hosts ---------------------------------------------------------------------------

OBFUSCATED = [("http://0x425c45de/", "66.92.69.222"), ("http://1113343455/", "66.92.69.223"),
              ("http://slashdot.org@1113343456/", "66.92.69.224"), ("http://66.92.0x45.221/", "66.92.69.221"),
              ("http://0251.0160.055.0107/", "169.112.45.71")]


@pytest.mark.parametrize("ctype", ["text/plain", "text/html"])
def test_obfuscated_ip_hosts_give_url_and_dotted_ip(store, ctype):
    urls = [u for u, _ in OBFUSCATED]
    body = " ".join(f'<a href="{u}">x</a>' if ctype == "text/html" else f"see {u} now" for u in urls)
    c = parse(mail(body, ctype), store).container
    assert values(c, "requestURL") == urls
    assert values(c, "destinationAddress", "URL IP") == [ip for _, ip in OBFUSCATED]
    assert values(c, "destinationDnsDomain") == []  # none is mislabelled as a domain


# --- 2. a stray `<` inside a tag ----------------------------------------------------------------------

def test_stray_lt_inside_a_tag_does_not_hide_the_link(store):
    html = '<p>Your invoice: <a <button="" href="http://pay.evil.example/inv?id=7">open</a></p>'
    assert values(parse(mail(html, "text/html"), store).container, "requestURL") == [
        "http://pay.evil.example/inv?id=7"]


# --- 3. x-uuencode attachments ------------------------------------------------------------------------

def uuencode(data: bytes, name: str) -> str:
    lines = [binascii.b2a_uu(data[i:i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)]
    return "\n".join([f"begin 644 {name}", *lines, "`", "end"])


def test_uuencoded_attachment_is_hashed_decoded(store):
    raw = mail("--b\nContent-Type: text/plain\n\nsee attached\n--b\n"
               "Content-Type: application/octet-stream; name=invoice.zip\nContent-Transfer-Encoding: x-uuencode\n\n"
               f"{uuencode(ZIP, 'invoice.zip')}\n--b--", 'multipart/mixed; boundary="b"')
    c = parse(raw, store).container
    assert values(c, "fileHashSha256") == [ZIP_SHA] and values(c, "fileName") == ["invoice.zip"]
    (part,) = [p for p in email.message_from_string(raw).walk() if p.get_filename()]
    assert hashlib.sha256(part.get_payload(decode=True)).hexdigest() == ZIP_SHA  # the stdlib agrees


# --- 4. an unquoted boundary with `=` -----------------------------------------------------------------

def test_unquoted_boundary_with_equals_sign(store):
    b = "----=_Part_4711_1.1700000000000"
    raw = mail(f"--{b}\nContent-Type: text/html\n\n<a href='https://evil.example/login'>x</a>\n--{b}\n"
               "Content-Type: application/zip; name=docs.zip\nContent-Transfer-Encoding: base64\n\n"
               f"{base64.b64encode(ZIP).decode()}\n--{b}--", f"multipart/mixed; boundary={b}")
    r = parse(raw, store)
    assert values(r.container, "requestURL") == ["https://evil.example/login"]
    assert values(r.container, "fileHashSha256") == [ZIP_SHA]
    assert not any("no usable boundary" in n for n in r.notes)


# --- 5. a nested multipart reusing the outer boundary -------------------------------------------------

def test_nested_multipart_reusing_the_outer_boundary(store):
    raw = mail("--B\nContent-Type: multipart/alternative; boundary=B\n\n"
               "--B\nContent-Type: text/plain\n\nhttps://evil.example/plain\n"
               "--B\nContent-Type: text/html\n\n<a href='https://evil.example/html'>x</a>\n--B--\n\n"
               "--B\nContent-Type: application/zip; name=payload.zip\nContent-Transfer-Encoding: base64\n\n"
               f"{base64.b64encode(ZIP).decode()}\n--B--\n", "multipart/mixed; boundary=B")
    r = parse(raw, store)
    assert values(r.container, "requestURL") == ["https://evil.example/plain", "https://evil.example/html"]
    assert values(r.container, "fileName") == ["payload.zip"] and values(r.container, "fileHash") == [ZIP_SHA]
    assert any("after its close delimiter" in n for n in r.notes)


# --- 6. sender obfuscations ---------------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "address", "display"), [
    ("From: PayPal; Security Team <alerts@evil.example>\n", "alerts@evil.example", "PayPal; Security Team"),
    ('From: "ceo@corp.example" (<attacker@evil.example>)\n', "attacker@evil.example", "ceo@corp.example"),
    ("From: Service Desk (helpdesk@evil.example)\n", "helpdesk@evil.example", "Service Desk"),
    ("From: Microsoft Account Team\nSender: real@evil.example\n", "real@evil.example", ""),
    ('From: "PayPal Service" <service@paypa1.example>\n', "service@paypa1.example", "PayPal Service"),
    ("From: =?utf-8?B?QmFuayBvZiBBbWVyaWNh?= <x@evil.example>\n", "x@evil.example", "Bank of America"),
    ("From: Microsoft account team ,_<kcj6r@evil.example>\n", "kcj6r@evil.example", "Microsoft account team"),
])
def test_sender_obfuscations(store, headers, address, display):
    r = parse(f"{headers}Subject: s\n\nbody\n", store)
    (sender,) = [a.cef for a in r.container.artifacts if a.name == "Sender"]
    assert sender == {"fromEmail": address, **({"fromDisplayName": display} if display else {})}


def test_sender_header_fallback_is_noted(store):
    r = parse("From: Microsoft Account Team\nSender: real@evil.example\nSubject: s\n\nbody\n", store)
    assert any("taken from the Sender header" in n for n in r.notes)


# --- 7. encoded file names ----------------------------------------------------------------------------

@pytest.mark.parametrize("disposition", [
    "attachment; filename==?utf-8?B?UmVjaG51bmcucGRmLmV4ZQ==?=",
    'attachment; filename="=?utf-8?B?UmVjaG51bmcucGRmLmV4ZQ==?="',
    "attachment; filename*0*=utf-8''Rechnung; filename*1*=%2Epdf; filename*2=.exe",
    "attachment; filename*0==?utf-8?B?UmVjaG51bmc=?=; filename*1=.pdf.exe",
])
def test_encoded_file_names(store, disposition):
    raw = mail("--b\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
               f"Content-Disposition: {disposition}\n\n{base64.b64encode(ZIP).decode()}\n--b--",
               "multipart/mixed; boundary=b")
    c = parse(raw, store).container
    assert values(c, "fileName") == ["Rechnung.pdf.exe"] and values(c, "fileHash") == [ZIP_SHA]


# --- 8. webmail Received hops without brackets --------------------------------------------------------

@pytest.mark.parametrize(("received", "expected"), [
    (["from webmail.example (webmail.example [10.0.0.8]) by mx.corp.example with ESMTP",
      "from 102.64.220.94 (SquirrelMail authenticated user kofi) by webmail.example with HTTP"], "102.64.220.94"),
    (["from 168.245.125.197 (EHLO o1.mail.example) by 10.222.142.150 with SMTPs"], "168.245.125.197"),
    (["from 41.58.1.9 by webmail.example with HTTPS"], "41.58.1.9"),
    # Kept: a bare HELO IP in a bottom hop is the sender's claim; the IP the receiver saw wins.
    (["from relay.example (relay.example [185.220.101.34]) by mx.corp.example",
      "from 196.170.26.200 by 200.83.104.67"], "185.220.101.34"),
    (["from 210.243.215.60 (h137.example [163.31.1.137]) by mail.example with SMTP"], "163.31.1.137"),
])
def test_originating_ip(store, received, expected):
    headers = "".join(f"Received: {r}; Tue, 07 May 2024 09:14:03 +0000\n" for r in received)
    assert values(parse(mail("x", headers=headers), store).container, "sourceAddress") == [expected]


# --- 9. multipart/digest defaults ---------------------------------------------------------------------

def test_digest_part_without_content_type_is_a_message(store):
    inner_body = base64.b64encode(b"Verify at https://verify.evil.example/acct\n").decode()
    raw = mail("--d\n\nFrom: x@evil.example\nSubject: inner\nContent-Transfer-Encoding: base64\n\n"
               f"{inner_body}\n--d--", "multipart/digest; boundary=d")
    assert values(parse(raw, store).container, "requestURL") == ["https://verify.evil.example/acct"]


# --- 10. scheme-less www. ------------------------------------------------------------------------------

def test_schemeless_www_in_text(store):
    c = parse(mail("Log in at www.secure-login.example/account?id=1, or mail info@www.other.example"), store)
    assert values(c.container, "requestURL") == ["http://www.secure-login.example/account?id=1"]


# --- kept: where the parser already beats a naive stdlib reader ---------------------------------------

def test_kept_broken_multipart_is_read_as_text(store):
    r = parse(mail("no delimiters here, but https://evil.example/x", "multipart/mixed; boundary=zz"), store)
    assert values(r.container, "requestURL") == ["https://evil.example/x"]
    assert "a multipart/mixed part has no usable boundary; its body was read as text" in r.notes


def test_kept_raw_utf8_headers(store):
    raw = "From: Službа Банка <bank@evil.example>\nSubject: Підтвердіть рахунок\n\nx\n".encode()
    c = parse(raw, store).container
    assert c.name == "Phishing: Підтвердіть рахунок"
    assert [a.cef for a in c.artifacts if a.name == "Sender"] == [
        {"fromEmail": "bank@evil.example", "fromDisplayName": "Službа Банка"}]


# --- the payload budget -------------------------------------------------------------------------------

def test_container_fits_the_payload_budget(store):
    body = "\n".join(f"https://h{i}.evil.example/{'p' * 3000}" for i in range(500))
    r = parse(mail(body), store)
    assert len(r.container.model_dump_json().encode()) + len(json.dumps(r.notes).encode()) <= CONTAINER_BUDGET_BYTES
    kept = values(r.container, "requestURL")
    assert 50 < len(kept) < 500
    # nothing is lost: the rest is set aside for the ingest service to store outside history
    assert len(kept) + len({a.cef["requestURL"] for a in r.aside if "requestURL" in a.cef}) == 500
