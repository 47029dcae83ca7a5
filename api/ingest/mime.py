"""A bounded MIME walker over one raw buffer.

The stdlib parser checks every line of a part against every enclosing boundary (time grows with size
times depth; at ~1,000 levels it raises RecursionError) and collects bodies line by line in Python
(measured: 5 s for 9 MB of short lines). So the structure is walked here with `bytes.find` on offsets
into the raw buffer, and the stdlib `email` package (policy.default) parses only each part's header
block, bounded in size. Bodies are copied only at the leaves, which do not overlap.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from typing import Any, TypeVar

from api.ingest.limits import MAX_PARSED_HEADER_CHARS, MAX_TOTAL_HEADER_BYTES

# A header line as the stdlib feed parser recognises it (name and colon, continuation, or envelope From).
_HEADER_LINE_RE = re.compile(rb"From |[\041-\071\073-\176]*:|[\t ]")


class _BoundedPolicy(EmailPolicy):
    """policy.default, except that a header value too long for its pure-Python parser is left a string.

    The feed parser itself asks for the Content-Type of every entity it parses (`get_content_maintype` in
    `close()`), which sends the whole value through the structured parser: measured 0.4 s for one 30 KB
    Content-Type of 5,000 parameters, before any of our own bounds applied. A raw string is read by the
    `Message` methods with the linear compat32 rules instead.
    """

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if len(value) > MAX_PARSED_HEADER_CHARS:
            return value
        return super().header_fetch_parse(name, value)


_PARSER = BytesParser(policy=_BoundedPolicy())
T = TypeVar("T")
_NOT_BASE64 = bytes(sorted(set(range(256)) - set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")))


@dataclass
class Entity:
    """One MIME entity: its parsed headers and where its body lies in `buf`."""

    headers: EmailMessage
    buf: bytes
    start: int
    end: int
    depth: int


class HeaderBudget:
    """Header bytes parsed so far across one message (the header parser is pure Python)."""

    def __init__(self, total: int = MAX_TOTAL_HEADER_BYTES) -> None:
        self.left = total


def parse_entity(buf: bytes, start: int, end: int, depth: int, cap: int, budget: HeaderBudget,
                 notes: list[str]) -> Entity:
    """Parse the header block of the entity in `buf[start:end]`; the body is left in place."""
    window = min(end, start + cap)
    sep = _blank_line(buf, start, window)
    if buf.startswith(b"\n", start, end) or buf.startswith(b"\r\n", start, end):
        head_end = start
        body_start = start + (1 if buf.startswith(b"\n", start, end) else 2)
    elif sep:
        head_end, body_start = sep
    elif end - start <= cap:
        head_end = body_start = end
    else:
        # The header block is longer than the cap: parse what fits, find the body beyond it.
        cut = buf.rfind(b"\n", start, window)
        head_end = cut + 1 if cut > start else window
        sep = _blank_line(buf, window, end)
        body_start = sep[1] if sep else end
        notes.append(f"a header block is longer than {cap} bytes; only its first {cap} bytes were read")
    head = buf[start:head_end]
    if len(head) > budget.left:
        notes.append("the message has more header bytes than the parser reads; later part headers skipped")
        head = b""
    budget.left -= len(head)
    # Lines that are not headers start the body, as in the stdlib parser (MissingHeaderBodySeparator).
    pos = 0
    for line in head.splitlines(keepends=True):
        if not _HEADER_LINE_RE.match(line):
            break
        pos += len(line)
    if pos < len(head):
        body_start = start + pos
        head = head[:pos]
    headers = _PARSER.parsebytes(head + b"\n", headersonly=True)
    assert isinstance(headers, EmailMessage)
    return Entity(headers, buf, body_start, end, depth)


def _blank_line(buf: bytes, lo: int, hi: int) -> tuple[int, int] | None:
    """(end of the header block, start of the body) at the first empty line in buf[lo:hi], if any."""
    found = [(i + 1, i + n) for i, n in ((buf.find(b"\n\n", lo, hi), 2), (buf.find(b"\n\r\n", lo, hi), 3))
             if i >= 0]
    return min(found) if found else None


def split_multipart(buf: bytes, start: int, end: int, boundary: bytes,
                    limit: int) -> tuple[list[tuple[int, int]], bool]:
    """The (start, end) of each body part of a multipart body (at most `limit`), and whether it reopened.

    Delimiter lines are `--boundary` (or `--boundary--` to close) at the start of a line, optionally followed
    by white space; a missing close delimiter ends the last part at the end of the body. A delimiter line
    after a close delimiter reopens the body (the second value is then True): a nested multipart that reuses
    its parent's boundary (Outlook Express for Mac writes these) closes at its own close delimiter, and the
    parent's later parts, attachments included, follow it. Mail clients show those parts, so they are read.
    """
    delimiter = re.compile(rb"^--" + re.escape(boundary) + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    parts: list[tuple[int, int]] = []
    part_start = -1
    closed = reopened = False
    for m in delimiter.finditer(buf, start, end):
        if part_start >= 0:
            # The line break before a delimiter belongs to the delimiter.
            stop = m.start() - 1
            if stop > part_start and buf[stop - 1] == 13:
                stop -= 1
            parts.append((part_start, max(part_start, stop)))
            if len(parts) >= limit:
                return parts, reopened
        reopened = reopened or (closed and not m.group(1))
        closed = bool(m.group(1))
        part_start = -1 if closed else min(m.end() + 1, end)
    if part_start >= 0:
        parts.append((part_start, end))
    return parts, reopened


def body_view(entity: Entity) -> tuple[bytes, int, int, str | None]:
    """The entity's body with its Content-Transfer-Encoding undone, as (buffer, start, end, problem).

    An identity encoding (7bit, 8bit, binary) returns the entity's own buffer, so nested messages cost
    no copies; `problem` says how a malformed base64 body was read.
    """
    cte = header_str(entity.headers, "Content-Transfer-Encoding").strip().lower()
    if cte == "base64":
        data, problem = b64decode_lenient(entity.buf[entity.start : entity.end])
        return data, 0, len(data), problem
    if cte == "quoted-printable":
        data = quopri.decodestring(entity.buf[entity.start : entity.end])
        return data, 0, len(data), None
    if cte in UUENCODE:
        data, problem = uudecode_lenient(entity.buf[entity.start : entity.end])
        return data, 0, len(data), problem
    return entity.buf, entity.start, entity.end, None


# The names the stdlib (`Message.get_payload(decode=True)`) and mail clients accept for uuencode.
UUENCODE = {"x-uuencode", "uuencode", "uue", "x-uue"}


def uudecode_lenient(raw: bytes) -> tuple[bytes, str | None]:
    """A uuencoded body (`begin 644 name` ... `end`) decoded as the stdlib does, bad lines tolerated.

    A line whose length byte overstates its data (trailing blanks stripped in transit) is decoded up to
    what it carries; a body without a `begin` line is returned as it is, with a problem saying so.
    """
    start = raw.find(b"begin")
    while start > 0 and raw[start - 1] not in b"\r\n":
        start = raw.find(b"begin", start + 5)
    if start < 0:
        return raw, "its uuencoded body has no 'begin' line"
    out: list[bytes] = []
    problem = None
    for line in raw[start:].splitlines()[1:]:
        if line.strip() == b"end":
            break
        if not line.strip():
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:
            # The stdlib's workaround for broken encoders: decode only the bytes the length byte covers.
            try:
                out.append(binascii.a2b_uu(line[: (((line[0] - 32) & 63) * 4 + 5) // 3]))
            except binascii.Error:
                problem = "its uuencode had lines that could not be decoded"
    return b"".join(out), problem


def b64decode_lenient(raw: bytes) -> tuple[bytes, str | None]:
    """Base64 as mail clients read it: padding repaired, stray characters and a dangling byte dropped."""
    data = b"".join(raw.split())
    pad = -len(data) % 4
    try:
        decoded = base64.b64decode(data + b"=" * pad, validate=True)
        return decoded, ("its base64 padding was missing" if pad else None)
    except binascii.Error:
        pass
    data = data.translate(None, _NOT_BASE64)
    if len(data) % 4 == 1:
        data = data[:-1]
    decoded = base64.b64decode(data + b"=" * (-len(data) % 4))
    return decoded, "its base64 had invalid characters or a bad length"


def header_value(headers: EmailMessage, name: str) -> object | None:
    """A header's first value, parsed by policy.default (None when absent).

    The stdlib header parser has had crash and slow paths on hostile values, so it only sees values of
    bounded size; an oversized value, or one it fails on, is returned as the raw string.
    """
    for key, value in headers.raw_items():
        if key.lower() != name.lower():
            continue
        if len(value) > MAX_PARSED_HEADER_CHARS:
            return value[:MAX_PARSED_HEADER_CHARS]
        try:
            return headers.policy.header_fetch_parse(key, value)
        except Exception:  # noqa: BLE001 - stdlib parser bugs on hostile input; the raw value is still useful
            return value
    return None


def header_values(headers: EmailMessage, name: str) -> list[str]:
    """Every raw value of a header, in order (e.g. the Received chain), each capped in size."""
    return [v[:MAX_PARSED_HEADER_CHARS] for k, v in headers.raw_items() if k.lower() == name.lower()]


def header_str(headers: EmailMessage, name: str) -> str:
    """A header's decoded value ('' when absent)."""
    value = header_value(headers, name)
    return "" if value is None else str(value)


def mime_param(headers: EmailMessage, getter: Callable[[], T], fallback: T) -> T:
    """Call a Content-Type/-Disposition accessor (`get_content_type`, `get_filename`, ...) safely.

    The accessors parse those headers with no size limit, so oversized ones are not parsed at all.
    """
    for key, value in headers.raw_items():
        if key.lower() in ("content-type", "content-disposition") and len(value) > MAX_PARSED_HEADER_CHARS:
            return fallback
    try:
        return getter()
    except Exception:  # noqa: BLE001 - as in header_value
        return fallback


def decode_text(data: bytes | memoryview, charset: str | None) -> tuple[str, str | None]:
    """Bytes of a text part as str, and a note when the declared charset could not be used."""
    cs = (charset or "utf-8").strip().lower()
    if cs in ("us-ascii", "ascii", ""):
        cs = "utf-8"
    try:
        return str(data, cs, "replace"), None
    except (LookupError, UnicodeError, ValueError, TypeError):
        return str(data, "utf-8", "replace"), f"unknown or unusable charset {cs[:40]!r}; decoded as UTF-8"
