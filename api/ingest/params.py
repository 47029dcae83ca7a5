"""MIME parameters (boundary, file name) read the way mail clients read them, not only as RFC 2045 says.

`policy.default` follows the grammar strictly and loses values that real mail carries and clients accept:

- an unquoted boundary with `=` in it (`boundary=----=_Part_12_3.4`, written by many mailers) comes back
  cut at the `=`, so no delimiter matches and the whole MIME tree is lost;
- an unquoted RFC 2047 file name (`filename==?utf-8?B?...?=`) comes back as None.

So the raw header value is read here with a tolerant tokenizer (`;`-separated `name=value`, quoted or not,
RFC 2231 continuations and charsets, RFC 2047 encoded words), and the stdlib's answer is used when the raw
reading finds nothing. Every input is bounded by `MAX_PARSED_HEADER_CHARS` before it gets here.
"""

from __future__ import annotations

import base64
import quopri
import re
from email.message import EmailMessage
from urllib.parse import unquote_to_bytes

from api.ingest.limits import MAX_PARSED_HEADER_CHARS
from api.ingest.mime import mime_param

# One parameter: a name, `=`, and a quoted string (backslash escapes) or everything up to the next `;`.
_PARAM_RE = re.compile(r'''\s*([^\s=;"]{1,80})\s*=\s*("(?:[^"\\]|\\.){0,4096}"?|[^;]{0,4096})''', re.DOTALL)
_SECTION_RE = re.compile(r"^(.*?)\*(\d{1,3})(\*?)$")
_QUOTED_BOUNDARY_RE = re.compile(r'(?i)boundary\s*=\s*"')
_ESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_FOLD_RE = re.compile(r"\r?\n[ \t]*")
_WORD_RE = re.compile(r"=\?([^?\s]{1,64})\?([bBqQ])\?([^?\s]{0,4096})\?=")
# RFC 2047 6.2: white space between two adjacent encoded words is not displayed.
_BETWEEN_WORDS_RE = re.compile(r"\?=\s+(?==\?)")


def raw_params(value: str) -> dict[str, str]:
    """The parameters of a Content-Type/-Disposition value after the first `;`, by lower-case name.

    RFC 2231 sections (`name*0`, `name*1*`, ...) are joined and charset-decoded under `name`; `name*=` is
    decoded too. The first occurrence of a name wins, as in the stdlib.
    """
    value = _FOLD_RE.sub(" ", value[:MAX_PARSED_HEADER_CHARS])
    _, sep, rest = value.partition(";")
    if not sep:
        return {}
    plain: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    pos = 0
    while pos < len(rest):
        m = _PARAM_RE.match(rest, pos)
        if not m:
            nxt = rest.find(";", pos)
            if nxt < 0:
                break
            pos = nxt + 1
            continue
        name, raw = m.group(1).lower(), m.group(2).strip()
        pos = m.end()
        semi = rest.find(";", pos)
        pos = len(rest) if semi < 0 else semi + 1
        if raw.startswith('"'):
            raw = _ESCAPE_RE.sub(r"\1", raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:])
        sec = _SECTION_RE.match(name)
        if sec:
            sections.setdefault(sec.group(1), {}).setdefault(int(sec.group(2)), (raw, bool(sec.group(3))))
        elif name.endswith("*"):
            plain.setdefault(name[:-1], _rfc2231(raw, first=True, charset="utf-8")[0])
        else:
            plain.setdefault(name, raw)
    for name, parts in sections.items():
        if name in plain:
            continue
        charset, out = "utf-8", []
        for i in sorted(parts):
            raw, extended = parts[i]
            if extended:
                text, charset = _rfc2231(raw, first=i == 0, charset=charset)
                out.append(text)
            else:
                out.append(raw)
        plain[name] = "".join(out)
    return plain


def _rfc2231(raw: str, *, first: bool, charset: str) -> tuple[str, str]:
    """An extended value (`charset'lang'%XX...` in the first section, `%XX...` after) -> (text, charset)."""
    if first and raw.count("'") >= 2:
        cs, _, rest = raw.partition("'")
        raw = rest.partition("'")[2]
        charset = cs.strip().lower() or charset
    data = unquote_to_bytes(raw)
    try:
        return data.decode(charset, "replace"), charset
    except LookupError:
        return data.decode("utf-8", "replace"), "utf-8"


def decode_words(value: str) -> str:
    """RFC 2047 encoded words (`=?utf-8?B?...?=`) decoded, wherever they stand; a malformed word is kept.

    Not `email.header.decode_header`: it puts a space between an encoded word and the text after it
    (`=?utf-8?B?UmVjaG51bmc=?=.pdf.exe` -> `Rechnung .pdf.exe`), which changes a file name.
    """
    if "=?" not in value:
        return value
    return _WORD_RE.sub(_decode_word, _BETWEEN_WORDS_RE.sub("?=", value))


def _decode_word(m: re.Match[str]) -> str:
    charset, kind, text = m.group(1).partition("*")[0], m.group(2).lower(), m.group(3)
    try:
        if kind == "b":
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        else:
            data = quopri.decodestring(text.encode("ascii", "replace"), header=True)
        return data.decode(charset, "replace")
    except (ValueError, LookupError):  # binascii.Error is a ValueError
        return m.group(0)


def _header(headers: EmailMessage, name: str) -> str | None:
    for key, value in headers.raw_items():
        if key.lower() == name:
            return value
    return None


def content_type(headers: EmailMessage) -> str:
    """The entity's Content-Type, lower case; also for a value too long for the structured parser.

    A long value is read as the stdlib's compat32 rule does (the text before the first `;`, `text/plain`
    unless it is `type/subtype`), so 5,000 parameters no longer turn a multipart into an opaque attachment.
    """
    raw = _header(headers, "content-type")
    if raw is not None and len(raw) > MAX_PARSED_HEADER_CHARS:
        ctype = raw.partition(";")[0].strip().lower()
        return ctype if ctype.count("/") == 1 and " " not in ctype else "text/plain"
    return mime_param(headers, headers.get_content_type, "application/octet-stream")


def boundary(headers: EmailMessage) -> str | None:
    """The multipart boundary as mail clients read it (the whole unquoted value, `=` included)."""
    raw = _header(headers, "content-type")
    found = raw_params(raw).get("boundary", "") if raw else ""
    if found and not (raw and _QUOTED_BOUNDARY_RE.search(raw)):
        found = found.split()[0] if found.split() else ""  # unquoted: a blank ends it
    if found.strip():
        return found.rstrip()
    return mime_param(headers, headers.get_boundary, None)


def filename(headers: EmailMessage) -> str | None:
    """The attachment's file name: Content-Disposition `filename`, else Content-Type `name`, decoded.

    The stdlib's answer is used when it has one without encoded words left in it; otherwise the raw
    parameters are read (unquoted RFC 2047 words, RFC 2231 sections the stdlib did not join).
    """
    std = mime_param(headers, headers.get_filename, None)
    if isinstance(std, str) and std.strip() and "=?" not in std:
        return std
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        raw = _header(headers, header)
        value = raw_params(raw).get(param, "").strip() if raw else ""
        if value:
            return decode_words(value)
    return std if isinstance(std, str) else None
