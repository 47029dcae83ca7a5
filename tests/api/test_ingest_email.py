"""parse_email: a reported phishing message -> container, artifacts, notes and the stored raw copy."""

from __future__ import annotations

import email
import email.policy
import hashlib
import random
from email.message import EmailMessage
from pathlib import Path

import pytest

from api.ingest import IngestError, parse_email
from core.models import Container, Severity

DATA = Path(__file__).resolve().parent.parent / "data" / "email"
PDF_SHA256 = "2bdeb806899680a0a78c815457103c82327667891697716043c949a0c9213fb1"


def arts(container: Container) -> list[tuple[str, dict]]:
    return [(a.name, a.cef) for a in container.artifacts]


def cef_values(container: Container, key: str) -> list:
    return [a.cef[key] for a in container.artifacts if key in a.cef]


def msg(body: str = "hello", *, headers: str = "", ctype: str = "text/plain") -> bytes:
    return (f"From: Alice <alice@sender.example>\r\nTo: bob@corp.example\r\nSubject: test\r\n{headers}"
            f"Content-Type: {ctype}\r\n\r\n{body}").encode()


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "raw"


def test_realistic_phish_artifact_by_artifact(store: Path):
    raw = (DATA / "phishing_multipart.eml").read_bytes()
    r = parse_email(raw, store_dir=store)
    c = r.container
    sha = hashlib.sha256(raw).hexdigest()
    assert c.name == "Phishing: Overdue invoice INV-20931 \u2013 action required"
    assert (c.label, c.severity) == ("phishing", Severity.MEDIUM)
    assert c.source_data_identifier == f"email:<20240507091355.4F2A1C@northwind-payments.example>#{sha}"
    assert c.raw_sha256 == sha
    assert c.raw_ref == str((store / f"{sha}.eml").absolute())
    assert Path(c.raw_ref).read_bytes() == raw
    assert r.notes == []
    assert arts(c) == [
        ("Email headers", {"emailHeaders": {
            "Subject": "Overdue invoice INV-20931 \u2013 action required",
            "From": "Northwind Billing <billing@northwind-payments.example>",
            "To": "John Doe <jdoe@corp.example>",
            "Date": "Tue, 07 May 2024 11:13:55 +0200",
            "Message-ID": "<20240507091355.4F2A1C@northwind-payments.example>"}}),
        ("Sender", {"fromEmail": "billing@northwind-payments.example", "fromDisplayName": "Northwind Billing"}),
        ("Reply-To", {"replyToEmail": "ar.northwind@evil-mail.example"}),
        # The earliest external hop: below it only the sender's LAN (192.168.1.20), above it our MX.
        ("Originating IP", {"sourceAddress": "198.51.100.23"}),
        ("Attachment", {"fileHash": PDF_SHA256, "fileHashSha256": PDF_SHA256, "fileSize": 304,
                        "fileType": "application/pdf", "fileName": "INV-20931.pdf"}),
        # text/plain: defanged hxxps/[.], hxxp/(.)/[.], and a scheme-less [dot] address.
        ("URL", {"requestURL": "https://northwind-payments.example/invoices/INV-20931?ref=mail"}),
        ("URL", {"requestURL": "http://login-verify.evil-portal.example/signin"}),
        ("URL", {"requestURL": "http://secure-docs.example/view/20931"}),
        # text/html: href with an entity; the second href repeats a URL above; the commented-out link,
        # the cid: image and the mailto: link are not URLs.
        ("URL", {"requestURL": "https://northwind-payments.example/invoices/INV-20931?ref=mail&lang=en"}),
        ("Domain", {"destinationDnsDomain": "northwind-payments.example"}),
        ("Domain", {"destinationDnsDomain": "login-verify.evil-portal.example"}),
        ("Domain", {"destinationDnsDomain": "secure-docs.example"}),
    ]
    assert {a.label for a in c.artifacts} == {"phishing"}
    # The attachment hash agrees with the stdlib's own decoding of the message.
    std = email.message_from_bytes(raw, policy=email.policy.default)
    (att,) = list(std.iter_attachments())
    assert hashlib.sha256(att.get_payload(decode=True)).hexdigest() == PDF_SHA256
    assert "https://splunk" not in c.description and sha in c.description


def test_same_message_twice_same_identifier_one_file(store: Path):
    raw = (DATA / "phishing_multipart.eml").read_bytes()
    a = parse_email(raw, store_dir=store).container
    b = parse_email(raw, store_dir=store).container
    assert (a.source_data_identifier, a.raw_ref) == (b.source_data_identifier, b.raw_ref)
    assert [p.name for p in store.iterdir()] == [f"{a.raw_sha256}.eml"]  # no temporary files left


def test_existing_file_with_other_content_is_never_overwritten(store: Path):
    raw = msg("x")
    sha = hashlib.sha256(raw).hexdigest()
    store.mkdir()
    (store / f"{sha}.eml").write_bytes(b"tampered")
    r = parse_email(raw, store_dir=store)
    assert (store / f"{sha}.eml").read_bytes() == b"tampered"
    assert any("does not match" in n for n in r.notes)


def test_no_path_traversal_from_headers(tmp_path: Path):
    store = tmp_path / "a" / "b"
    m = EmailMessage()
    m["From"] = "x@evil.example"
    m["Subject"] = "../../../../etc/cron.d/x"
    m["Message-ID"] = "<../../../escape@evil.example>"
    m.set_content("hi")
    m.add_attachment(b"#!/bin/sh\n", maintype="application", subtype="x-sh", filename="../../../../tmp/evil.sh")
    r = parse_email(m.as_bytes(), store_dir=store)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == [f"a/b/{r.container.raw_sha256}.eml"]
    assert cef_values(r.container, "fileName") == ["evil.sh"]


def test_identifier_falls_back_to_sha256(store: Path):
    raw = msg("no message id here")
    c = parse_email(raw, store_dir=store).container
    assert c.source_data_identifier == "email:#" + hashlib.sha256(raw).hexdigest()


@pytest.mark.parametrize(("received", "expected"), [
    # private -> public -> internal: the public hop
    (["from mx1.corp.example (mx1 [10.0.0.5]) by mail.corp.example with ESMTP",
      "from out.sender.example (out.sender.example [185.220.101.34]) by mx1.corp.example with ESMTPS",
      "from [192.168.1.20] (unknown [192.168.1.20]) by out.sender.example with ESMTPSA"], "185.220.101.34"),
    # two public hops: the earliest (lowest) one
    (["from relay.example (relay.example [8.8.4.4]) by mx.corp.example",
      "from origin.example (origin.example [45.33.32.156]) by relay.example"], "45.33.32.156"),
    # an IP in parentheses, and IPv6
    (["from unknown (HELO spam) (91.198.174.192) by mx.corp.example"], "91.198.174.192"),
    (["from mail-ej1.example (mail-ej1.example [IPv6:2a00:1450:4864:20::543]) by mx.corp.example"],
     "2a00:1450:4864:20::543"),
    # the IP of the receiving side (after "by") is not the sender's
    (["from localhost (localhost [127.0.0.1]) by mx.corp.example ([8.8.8.8])"], None),
    (["from a (a [10.1.1.1]) by b", "from c (c [172.16.0.9]) by a"], None),
])
def test_originating_ip_from_received_chain(store: Path, received, expected):
    headers = "".join(f"Received: {r}\r\n\t; Tue, 07 May 2024 09:14:03 +0000\r\n" for r in received)
    c = parse_email(msg(headers=headers), store_dir=store).container
    assert cef_values(c, "sourceAddress") == ([expected] if expected else [])


def test_x_originating_ip_fallback(store: Path):
    raw = msg(headers="Received: from a (a [10.0.0.1]) by b\r\nX-Originating-IP: [185.220.101.7]\r\n")
    assert cef_values(parse_email(raw, store_dir=store).container, "sourceAddress") == ["185.220.101.7"]


def test_reply_to_addresses_and_invalid_sender(store: Path):
    raw = (b"From: not an address\r\nReply-To: a@evil.example, \"B\" <b@evil.example>\r\n"
           b"Subject: s\r\n\r\nbody\r\n")
    r = parse_email(raw, store_dir=store)
    assert cef_values(r.container, "replyToEmail") == ["a@evil.example", "b@evil.example"]
    assert cef_values(r.container, "fromEmail") == []
    assert "the From header has no valid e-mail address; no sender artifact" in r.notes


def test_invalid_charsets(store: Path):
    r = parse_email((DATA / "invalid_charset.eml").read_bytes(), store_dir=store)
    c = r.container
    assert c.name == "Phishing: Mailbox quota exceeded"
    assert cef_values(c, "requestURL") == ["http://quota-upgrade.evil-portal.example/owa",
                                           "https://quota-upgrade.evil-portal.example/owa?u=jdoe"]
    assert any("'x-no-such-charset'" in n for n in r.notes)
    assert any("'rot13'" in n for n in r.notes)


def test_broken_base64_attachment(store: Path):
    r = parse_email((DATA / "broken_base64.eml").read_bytes(), store_dir=store)
    # The stray characters are dropped and the padding restored: the original bytes come back.
    expected = hashlib.sha256(bytes(range(256)) * 3 + b"MZ-not-really-an-exe").hexdigest()
    assert [a.cef for a in r.container.artifacts if a.name == "Attachment"] == [
        {"fileHash": expected, "fileHashSha256": expected, "fileSize": 788,
         "fileType": "application/octet-stream", "fileName": "statement.exe"}]
    assert any("statement.exe" in n and "base64" in n for n in r.notes)


def nested(depth: int) -> bytes:
    """`depth` levels of multipart/mixed; level 5 and the innermost level each carry a URL."""
    out = "From: a@sender.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    for d in range(depth):
        out += f'Content-Type: multipart/mixed; boundary="b{d}"\r\n\r\n--b{d}\r\n'
        if d == 5:
            out += (f"Content-Type: text/plain\r\n\r\nhttp://level5.example/x\r\n--b{d}\r\n")
    out += "Content-Type: text/plain\r\n\r\nhttp://innermost.example/x\r\n"
    for d in reversed(range(depth)):
        out += f"--b{d}--\r\n"
    return out.encode()


def test_nested_mime_depth_50_is_capped(store: Path):
    r = parse_email(nested(50), store_dir=store)
    assert cef_values(r.container, "requestURL") == ["http://level5.example/x"]
    assert "MIME parts nested deeper than 20 levels were not read" in r.notes
    deep = parse_email(nested(50), store_dir=store, max_depth=60)
    assert cef_values(deep.container, "requestURL") == ["http://level5.example/x", "http://innermost.example/x"]
    assert deep.notes == []


def many_attachments(n: int) -> bytes:
    m = EmailMessage()
    m["From"] = "a@sender.example"
    m["Subject"] = "many"
    m.set_content("see attachments")
    for i in range(n):
        m.add_attachment(f"file {i}".encode(), maintype="application", subtype="octet-stream",
                         filename=f"att-{i}.bin")
    return m.as_bytes()


def test_1000_attachments_capped(store: Path):
    raw = many_attachments(1000)
    r = parse_email(raw, store_dir=store, max_parts=2000)
    names = cef_values(r.container, "fileName")
    assert names == [f"att-{i}.bin" for i in range(100)]
    assert cef_values(r.container, "fileHash")[0] == hashlib.sha256(b"file 0").hexdigest()
    assert "1000 attachments found; first 100 kept" in r.notes
    # With the default part cap the walk stops first, and says so.
    r = parse_email(raw, store_dir=store)
    assert len(cef_values(r.container, "fileName")) == 100
    assert "the message has more than 500 MIME parts; the rest were not read" in r.notes
    assert "498 attachments found; first 100 kept" in r.notes


def test_100000_urls_capped(store: Path):
    body = "\r\n".join(f"Visit http://host{i}.example.com/p?x={i} now" for i in range(100_000))
    r = parse_email(msg(body), store_dir=store)
    urls = cef_values(r.container, "requestURL")
    assert len(urls) == 500 and urls[0] == "http://host0.example.com/p?x=0"
    assert "100000 URLs found; first 500 kept" in r.notes
    assert len(r.container.artifacts) <= 1000


@pytest.mark.parametrize("raw", [
    b"", b"  \r\n\r\n  ", b"\x00\x01\x02\xff" * 100, random.Random(7).randbytes(5000),
    b"<html><body>click</body></html>", b'{"result": {}}', b"just a line of text\nand another\n",
    b"X-Custom: only an unknown header\r\n\r\nbody",
])
def test_not_an_email(store: Path, raw: bytes):
    with pytest.raises(IngestError) as e:
        parse_email(raw, store_dir=store)
    assert e.value.field == "body"
    assert "RFC 822" in e.value.message
    assert not store.exists()


@pytest.mark.parametrize(("text", "expected"), [
    ("go to hxxp://evil[.]example/a", ["http://evil.example/a"]),
    ("HXXPS://Evil(.)Example/Path", ["https://evil.example/Path"]),
    ("hxxps[:]//a[dot]evil[.]example/x", ["https://a.evil.example/x"]),
    ("fxp://files[.]evil.example/drop", ["ftp://files.evil.example/drop"]),
    ("(see https://ok.example/a_(b)).", ["https://ok.example/a_(b)"]),
    ("<https://ok.example/q?a=1>, \"http://ok.example/z\"", ["https://ok.example/q?a=1", "http://ok.example/z"]),
    ("bare evil[.]example and evil(dot)example/x", ["http://evil.example", "http://evil.example/x"]),
    ("not urls: example.com mailto:a@b.example http://intranet/ file.pdf", []),
])
def test_defanged_and_plain_urls_in_text(store: Path, text: str, expected: list[str]):
    assert cef_values(parse_email(msg(text), store_dir=store).container, "requestURL") == expected


def test_html_links(store: Path):
    html = """<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/x.dtd">
<html xmlns="http://www.w3.org/1999/xhtml"><head>
<meta http-equiv="refresh" content="5; url=https://redirect.evil.example/r">
<link rel="stylesheet" href="https://fonts.example/css"></head>
<body><form action="https://collect.evil.example/post"><input type="submit"></form>
<a href="https://a.evil.example/?x=1&amp;y=2">a</a> <A HREF=http://b.evil.example/b>b</A>
<iframe src="https://frame.evil.example/"></iframe><img src="https://pixel.example/p.gif">
<!-- <a href="https://commented.example/"> --> text link: hxxps://text[.]evil.example/t
<a href="javascript:void(0)">x</a></body></html>"""
    c = parse_email(msg(html, ctype="text/html; charset=utf-8"), store_dir=store).container
    assert cef_values(c, "requestURL") == [
        "https://redirect.evil.example/r", "https://collect.evil.example/post",
        "https://a.evil.example/?x=1&y=2", "http://b.evil.example/b", "https://frame.evil.example/",
        "https://text.evil.example/t"]


def test_forwarded_message_attachment(store: Path):
    inner = EmailMessage()
    inner["From"] = "attacker@evil.example"
    inner["Subject"] = "original"
    inner.set_content("Log in at https://inner.evil.example/login\n")
    outer = EmailMessage()
    outer["From"] = "jdoe@corp.example"
    outer["Subject"] = "FW: original"
    outer.set_content("Reporting this one.")
    outer.add_attachment(inner, filename="original.eml")
    c = parse_email(outer.as_bytes(), store_dir=store).container
    assert cef_values(c, "requestURL") == ["https://inner.evil.example/login"]
    assert cef_values(c, "fileName") == ["original.eml"]
    assert cef_values(c, "fromEmail") == ["jdoe@corp.example"]
