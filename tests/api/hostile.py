"""A generator of adversarial inputs for the ingestion parsers: e-mails and Splunk webhook bodies.

Each case is named, a few MB at most, and aims at one way a parser goes super-linear, runs out of stack or
memory, or raises: deep nesting, 100k parts, 100k URLs, broken base64, mixed charsets, giant headers,
boundary tricks, hostile HTML and defanging, encoded words, uuencode. `python -m tests.api.hostile DIR`
writes them to DIR (as .eml and .json) for use with other tools.
"""

from __future__ import annotations

import base64
import json
import random
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

HEAD = "From: a@sender.example\r\nTo: b@corp.example\r\nSubject: hostile\r\nMessage-ID: <h@sender.example>\r\n"


def _msg(body: str | bytes, ctype: str = "text/plain", headers: str = "") -> bytes:
    head = f"{HEAD}{headers}Content-Type: {ctype}\r\n\r\n".encode()
    return head + (body.encode("utf-8", "surrogateescape") if isinstance(body, str) else body)


def deep_multipart(levels: int = 10_000) -> bytes:
    opens = "".join(f'--b{d}\r\nContent-Type: multipart/mixed; boundary="b{d + 1}"\r\n\r\n' for d in range(levels))
    closes = "".join(f"--b{d}--\r\n" for d in reversed(range(levels)))
    return _msg(opens + "--b{levels}\r\nContent-Type: text/plain\r\n\r\nhttp://deep.example/\r\n" + closes,
                'multipart/mixed; boundary="b0"')


def deep_rfc822(levels: int = 10_000) -> bytes:
    return _msg("Content-Type: message/rfc822\r\n\r\n" * levels + "From: x@y.example\r\n\r\nhttp://in.example/",
                "message/rfc822")


def many_parts(n: int = 100_000) -> bytes:
    return _msg("".join(f"--b\r\nContent-Type: text/plain\r\n\r\nhttp://p{i}.example/\r\n" for i in range(n)) + "--b--",
                "multipart/mixed; boundary=b")


def many_attachments(n: int = 100_000) -> bytes:
    return _msg("".join(f"--b\r\nContent-Disposition: attachment; filename=f{i}.exe\r\n\r\nMZ{i}\r\n"
                        for i in range(n)) + "--b--", "multipart/mixed; boundary=b")


def empty_delimiters(n: int = 200_000) -> bytes:
    return _msg("--b\r\n" * n, "multipart/mixed; boundary=b")


def many_urls_text(n: int = 100_000) -> bytes:
    return _msg("\r\n".join(f"see http://h{i}.evil.example/p?q={i} now" for i in range(n)))


def many_urls_html(n: int = 100_000) -> bytes:
    return _msg("".join(f'<a href="https://h{i}.evil.example/{i}">x</a>' for i in range(n)), "text/html")


def long_url(n: int = 3_000_000) -> bytes:
    return _msg("http://evil.example/" + "a" * n)


def broken_base64(n: int = 2_000_000) -> bytes:
    rnd = random.Random(1)
    data = bytearray(base64.b64encode(rnd.randbytes(n * 3 // 4)))
    for i in range(0, len(data), 7):
        data[i] = rnd.choice(b"!*#$%&\x00\xff=")
    return _msg(bytes(data) + b"A", "application/octet-stream",
                "Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=x.bin\r\n")


def mixed_charsets(parts: int = 400) -> bytes:
    charsets = ["utf-8", "utf-16", "utf-7", "x-no-such", "rot13", "iso-2022-jp", "gb18030", "big5", "", "utf-32",
                "idna", "punycode", "hex", "base64", "zlib"]
    rnd = random.Random(2)
    body = b"".join(b"--b\r\nContent-Type: text/html; charset=\"" + charsets[i % len(charsets)].encode() +
                    b"\"\r\n\r\n" + rnd.randbytes(2000) + b" http://c%d.example/\r\n" % i for i in range(parts))
    return _msg(body + b"--b--", "multipart/mixed; boundary=b",
                "X-Raw: \xff\xfe\x80 caf\xc3\xa9\r\nSubject: =?x-bad?B?////?= =?utf-8?Q?=FF=FE?=\r\n")


def giant_subject(n: int = 3_000_000) -> bytes:
    return _msg("x", headers=f"Subject: {'A' * n}\r\n")


def many_header_lines(n: int = 100_000) -> bytes:
    return _msg("x", headers="".join(f"X-H{i}: v{i}\r\n" for i in range(n)))


def folded_header(n: int = 100_000) -> bytes:
    return _msg("x", headers="Subject: s" + "\r\n w" * n + "\r\n")


def from_parens(n: int = 496) -> bytes:
    return ("From: " + "(" * n + "\r\nSubject: p\r\n\r\nhttp://p.example/").encode()


def from_parens_huge(n: int = 200_000) -> bytes:
    return ("From: " + "(" * n + "\r\nReply-To: " + "<" * n + "\r\nTo: " + '"' * n + "\r\n\r\nx").encode()


def many_recipients(n: int = 100_000) -> bytes:
    return _msg("x", headers="Cc: " + ", ".join(f"u{i}@corp.example" for i in range(n)) + "\r\n")


def many_received(n: int = 50_000) -> bytes:
    return _msg("x", headers="".join(f"Received: from h{i} (h [10.{i % 250}.0.1]) by mx\r\n" for i in range(n)))


def boundary_tricks() -> bytes:
    b = "=_" + "x" * 200
    parts = [
        # a boundary that is a prefix of the next one, regex metacharacters, trailing blanks, no close
        '--a.*+?\r\nContent-Type: multipart/mixed; boundary="a.*+?b"\r\n\r\n--a.*+?b  \r\n\r\nhttp://t1.example/\r\n',
        f"--a.*+?\r\nContent-Type: multipart/alternative; boundary={b}\r\n\r\n--{b}\r\n\r\nhttp://t2.example/\r\n",
        '--a.*+?\r\nContent-Type: multipart/mixed; boundary=""\r\n\r\n--\r\nhttp://t3.example/\r\n',
        "--a.*+?\r\nContent-Type: multipart/mixed; boundary=a.*+?\r\n\r\n--a.*+?\r\n\r\nreused\r\n--a.*+?--\r\n",
    ]
    return _msg("".join(parts * 50) + "--a.*+?--\r\n" + "--a.*+?\r\n\r\nafter close\r\n" * 1000,
                'multipart/mixed; boundary="a.*+?"')


def reused_boundary_every_level(levels: int = 5_000) -> bytes:
    return _msg("--B\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n" * levels + "--B--\r\n" * levels,
                "multipart/mixed; boundary=B")


def param_soup(n: int = 5_000) -> bytes:
    params = "".join(f"; filename*{i}*=utf-8''%41%42" for i in range(n))
    return _msg("--b\r\nContent-Type: application/zip" + "; x=y" * n + "\r\nContent-Disposition: attachment" +
                params + "\r\n\r\nPK\r\n--b--", "multipart/mixed; boundary=b")


def encoded_words(n: int = 100_000) -> bytes:
    return _msg("x", headers="Subject: " + " ".join("=?utf-8?B?QUJD?=" for _ in range(n)) + "\r\n")


def html_comments(n: int = 800_000) -> bytes:
    return _msg("<!--" * (n // 4) + '<a href="http://c.example/">', "text/html")


def html_unclosed_tags(n: int = 300_000) -> bytes:
    return _msg("<a " * n + "href=http://u.example/>" + "<" * n + "<a href=" + "x" * n, "text/html")


def html_attrs(n: int = 200_000) -> bytes:
    return _msg('<a ' + 'x="' * n + ' href="http://a.example/">' + "<a href='" * n, "text/html")


def defang_runs(n: int = 400_000) -> bytes:
    return _msg("x\\." * n + " hxxp[:]//" * (n // 10) + "a." * n + " " + "www." * (n // 4) + " " + "[.]a" * n)


def uuencode_tricks(n: int = 20_000) -> bytes:
    body = "begin 644 x.exe\r\n" + "M" + "!" * 60 + "\r\n" + ("\x7f" * 80 + "\r\n") * n  # no `end`
    return _msg("--b\r\nContent-Transfer-Encoding: x-uuencode\r\nContent-Type: application/zip\r\n\r\n" + body +
                "\r\n--b\r\nContent-Transfer-Encoding: uuencode\r\n\r\nno begin line\r\n--b--",
                "multipart/mixed; boundary=b")


def quoted_printable_soft_breaks(n: int = 1_000_000) -> bytes:
    return _msg("=\r\n" * n + "http://qp.example/", "text/html", "Content-Transfer-Encoding: quoted-printable\r\n")


def giant_content_type(n: int = 30_000) -> bytes:
    return _msg("--b\r\nContent-Type: text/plain\r\n\r\nhttp://ct.example/\r\n--b--",
                "multipart/mixed; boundary=b" + "; x=y" * n)


def digest_bombs(n: int = 20_000) -> bytes:
    return _msg("--d\r\n\r\n\r\n" * n + "--d--", "multipart/digest; boundary=d")


EMAILS: dict[str, Callable[[], bytes]] = {f.__name__: f for f in (
    deep_multipart, deep_rfc822, many_parts, many_attachments, empty_delimiters, many_urls_text, many_urls_html,
    long_url, broken_base64, mixed_charsets, giant_subject, many_header_lines, folded_header, from_parens,
    from_parens_huge, many_recipients, many_received, boundary_tricks, reused_boundary_every_level, param_soup,
    encoded_words, html_comments, html_unclosed_tags, html_attrs, defang_runs, uuencode_tricks,
    quoted_printable_soft_breaks, giant_content_type, digest_bombs)}


def splunk_bodies() -> Iterator[tuple[str, bytes]]:
    """Hostile Splunk webhook bodies (bytes as they arrive over HTTP)."""
    yield "deep_array", b"[" * 50_000 + b"]" * 50_000
    yield "deep_result", b'{"sid": "s", "result": {"x": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001 + b"}"
    yield "many_fields", json.dumps({"sid": "s", "result": {f"f{i}": "v" * 50 for i in range(100_000)}}).encode()
    yield "huge_multivalue", json.dumps({"sid": "s", "result": {"src": [f"10.0.{i // 256 % 256}.{i % 256}"
                                                                        for i in range(100_000)]}}).encode()
    yield "long_strings", json.dumps({"sid": "s" * 100_000, "result": {"url": "http://x/" + "a" * 2_000_000,
                                                                       "rule_name": "r" * 1_000_000}}).encode()
    yield "huge_int", b'{"sid": "s", "result": {"count": ' + b"9" * 100_000 + b"}}"
    yield "bad_utf8", b'{"sid": "s", "result": {"src": "\xff\xfe"}}'
    yield "lone_surrogates", b'{"sid": "\\ud800", "result": {"user": "\\udfff", "x": "\\ud800\\udc00"}}'


def emails() -> Iterator[tuple[str, bytes]]:
    """Every hostile e-mail, by name."""
    for name, make in EMAILS.items():
        yield name, make()


def main(out: Path) -> None:
    """Write every case to `out` (`<name>.eml`, `splunk-<name>.json`)."""
    out.mkdir(parents=True, exist_ok=True)
    for name, raw in emails():
        (out / f"{name}.eml").write_bytes(raw)
    for name, body in splunk_bodies():
        (out / f"splunk-{name}.json").write_bytes(body)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-corpus"))
