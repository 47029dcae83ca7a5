"""A reported phishing e-mail (raw RFC 822 bytes) -> a `phishing` container.

Artifacts: the headers (Subject, From, To, Date, Message-ID), the sender, each Reply-To address, the
originating IP (earliest external Received hop), each attachment's SHA-256 and name, each URL (plain,
HTML link or defanged) and each URL's domain. The raw message is kept on disk, outside workflow history,
under a name derived only from its SHA-256; the container carries the path and the hash.
"""

from __future__ import annotations

import codecs
import hashlib
import ipaddress
import os
import re
import tempfile
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from api.ingest.common import Artifacts, IngestError, Notes, ParsedAlert, clean
from api.ingest.limits import (
    MAX_ARTIFACTS,
    MAX_FILENAME_CHARS,
    MAX_HEADER_VALUE_CHARS,
    MAX_PART_HEADER_BYTES,
    MAX_SCAN_CHARS,
    MAX_TOP_HEADER_BYTES,
    MAX_URLS_COUNTED,
)
from api.ingest.mime import (
    Entity,
    HeaderBudget,
    body_view,
    decode_text,
    header_str,
    header_value,
    header_values,
    mime_param,
    parse_entity,
    split_multipart,
)
from api.ingest.urls import html_urls, text_urls, url_domain
from core.cef import validate_email
from core.models.container import NAME_MAX, Container, Severity

LABEL = "phishing"
# A message has at least one of these; anything else is not an e-mail.
IDENTIFYING_HEADERS = {"from", "sender", "subject", "date", "message-id", "received", "to", "return-path"}
SUMMARY_HEADERS = ("Subject", "From", "To", "Date", "Message-ID")
MAX_ADDRESSES = 20

# An IP in a Received hop's from-clause: `[203.0.113.7]`, `[IPv6:2001:db8::1]` or `(203.0.113.7)`.
_HOP_IP_RE = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]|\(([0-9]{1,3}(?:\.[0-9]{1,3}){3})\)")
_BY_RE = re.compile(r"\sby\s", re.IGNORECASE)
# Documentation ranges count as external: they are the demo's "internet" (see simulator/verdicts.py).
_DOC_NETS = [ipaddress.ip_network(n)
             for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


class Walk:
    """One pass over a message's MIME tree (document order, bounded): URLs, attachments and notes."""

    def __init__(self, *, max_urls: int, max_attachments: int, max_parts: int, max_depth: int,
                 budget: HeaderBudget, notes: list[str]) -> None:
        self.max_urls, self.max_attachments = max_urls, max_attachments
        self.max_parts, self.max_depth = max_parts, max_depth
        self.budget, self.notes = budget, notes
        self.urls: dict[str, None] = {}  # an ordered set
        self.attachments: list[dict[str, object]] = []
        self.attachment_count = 0
        self.parts = 0
        self.scanned = 0

    def run(self, top: Entity) -> None:
        """Walk the tree under `top` (depth 0)."""
        stack: list[Entity | tuple[bytes, int, int, int]] = [top]
        while stack:
            item = stack.pop()
            self.parts += 1
            if self.parts > self.max_parts:
                self.notes.append(f"the message has more than {self.max_parts} MIME parts; "
                                  "the rest were not read")
                return
            if isinstance(item, tuple):
                buf, start, end, depth = item
                item = parse_entity(buf, start, end, depth, MAX_PART_HEADER_BYTES, self.budget, self.notes)
            stack.extend(reversed(self._visit(item)))

    def cap_notes(self) -> list[str]:
        """Notes on the URL and attachment caps."""
        out = []
        if len(self.urls) >= MAX_URLS_COUNTED:
            out.append(f"more than {MAX_URLS_COUNTED} URLs found; first {self.max_urls} kept")
        elif len(self.urls) > self.max_urls:
            out.append(f"{len(self.urls)} URLs found; first {self.max_urls} kept")
        if self.attachment_count > self.max_attachments:
            out.append(f"{self.attachment_count} attachments found; first {self.max_attachments} kept")
        return out

    def _visit(self, e: Entity) -> list[tuple[bytes, int, int, int]]:
        ctype = mime_param(e.headers, e.headers.get_content_type, "application/octet-stream")
        if not ctype.startswith("multipart/"):
            return self._leaf(e, ctype)
        if e.depth >= self.max_depth:
            self.notes.append(f"MIME parts nested deeper than {self.max_depth} levels were not read")
            return []
        boundary = mime_param(e.headers, e.headers.get_boundary, None)
        spans = []
        if boundary:
            try:
                delim = boundary.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                delim = b""
            spans = split_multipart(e.buf, e.start, e.end, delim, self.max_parts + 1) if delim else []
        if not spans:
            self.notes.append(f"a {ctype} part has no usable boundary; its body was read as text")
            self._scan(memoryview(e.buf)[e.start : e.end], None, html=False)
        return [(e.buf, s, t, e.depth + 1) for s, t in spans]

    def _leaf(self, e: Entity, ctype: str) -> list[tuple[bytes, int, int, int]]:
        h = e.headers
        fname = _filename(mime_param(h, h.get_filename, None))
        maintype = ctype.partition("/")[0]
        nested = ctype in ("message/rfc822", "message/global")
        is_text = maintype == "text"
        is_attachment = (bool(fname) or mime_param(h, h.get_content_disposition, None) == "attachment"
                         or maintype not in ("text", "message"))
        if is_attachment:
            self.attachment_count += 1
        keep = is_attachment and self.attachment_count <= self.max_attachments
        if not (keep or is_text or nested):
            return []
        buf, start, end, problem = body_view(e)
        data = memoryview(buf)[start:end]
        if problem:
            self.notes.append(f"part {fname or ctype!r}: {problem}; the readable bytes were used")
        if keep:
            digest = hashlib.sha256(data).hexdigest()
            cef: dict[str, object] = {"fileHash": digest, "fileHashSha256": digest, "fileSize": len(data),
                                      "fileType": clean(ctype, 128)}
            if fname:
                cef["fileName"] = fname
            self.attachments.append(cef)
        if is_text:
            self._scan(data, mime_param(h, h.get_content_charset, None), html=ctype == "text/html")
        if nested:
            if e.depth >= self.max_depth:
                self.notes.append(f"MIME parts nested deeper than {self.max_depth} levels were not read")
                return []
            return [(buf, start, end, e.depth + 1)]
        return []

    def _scan(self, data: bytes | memoryview, charset: str | None, *, html: bool) -> None:
        room = MAX_SCAN_CHARS - self.scanned
        if room <= 0 or len(self.urls) >= MAX_URLS_COUNTED:
            return
        text, problem = decode_text(data, charset)
        if problem:
            self.notes.append(f"a text part has an {problem}")
        if len(text) > room:
            text = text[:room]
            self.notes.append(f"the message has more than {MAX_SCAN_CHARS} characters of text; "
                              "the rest was not scanned for URLs")
        self.scanned += len(text)
        for url in html_urls(text) if html else text_urls(text):
            self.urls[url] = None
            if len(self.urls) >= MAX_URLS_COUNTED:
                return


def _filename(value: object) -> str | None:
    """An attachment's file name without any directory part, printable and bounded."""
    if not isinstance(value, str):
        return None
    name = clean(value.replace("\\", "/").rsplit("/", 1)[-1], MAX_FILENAME_CHARS)
    return name or None


def parse_email(raw: bytes, *, store_dir: Path, max_urls: int = 500, max_attachments: int = 100,
                max_parts: int = 500, max_depth: int = 20, max_artifacts: int = MAX_ARTIFACTS) -> ParsedAlert:
    """Parse a reported phishing message and store its raw bytes as `store_dir/<sha256>.eml`.

    Args:
        raw: the message exactly as received (an .eml file).
        store_dir: where raw messages are kept (created if missing; an existing file is never overwritten).
        max_urls: URL artifacts kept; more are counted in a note.
        max_attachments: attachment artifacts kept; more are counted in a note.
        max_parts: MIME parts read; the walk stops after that many, with a note.
        max_depth: MIME nesting levels read; deeper parts are skipped, with a note.
        max_artifacts: artifacts in the container at most (the API's limit).

    Returns:
        The container (label `phishing`, severity medium) and notes on whatever was skipped or capped.

    Raises:
        IngestError: ("body", ...) when the bytes are empty or not an RFC 822 message at all.
        OSError: when the raw message cannot be written to `store_dir`.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise IngestError("body", f"expected the raw message as bytes, got {type(raw).__name__}")
    raw = bytes(raw)
    sha = hashlib.sha256(raw).hexdigest()
    data = raw.removeprefix(codecs.BOM_UTF8).lstrip(b"\r\n\t ")
    if not data:
        raise IngestError("body", "the body is empty; send the reported message as raw RFC 822 (.eml) bytes")
    budget = HeaderBudget()
    mime_notes: list[str] = []
    top = parse_entity(data, 0, len(data), 0, MAX_TOP_HEADER_BYTES, budget, mime_notes)
    names = {k.lower() for k, _ in top.headers.raw_items()}
    if not names & IDENTIFYING_HEADERS:
        raise IngestError("body", "the body is not an RFC 822 message: it has no From, Subject, Date, "
                                  "Message-ID or Received header; send the reported message as raw "
                                  ".eml bytes")

    notes = Notes()
    walk = Walk(max_urls=max_urls, max_attachments=max_attachments, max_parts=max_parts,
                max_depth=max_depth, budget=budget, notes=mime_notes)
    walk.run(top)
    headers = top.headers
    arts = Artifacts(LABEL, Severity.MEDIUM, notes, max_artifacts)

    summary = {h: clean(header_str(headers, h), MAX_HEADER_VALUE_CHARS) for h in SUMMARY_HEADERS}
    present = {k: v for k, v in summary.items() if v}
    if present:
        arts.add("Email headers", "email", {"emailHeaders": present})
    for addr in _addresses(headers, "From", notes)[:1]:
        arts.add("Sender", "email", {"fromEmail": addr})
    for addr in _addresses(headers, "Reply-To", notes):
        arts.add("Reply-To", "email", {"replyToEmail": addr})
    ip = originating_ip(headers)
    if ip:
        arts.add("Originating IP", "ip", {"sourceAddress": ip})
    for cef in walk.attachments:
        arts.add("Attachment", "file", cef)
    urls = list(walk.urls)[: max(0, max_urls)]
    for url in urls:
        arts.add("URL", "url", {"requestURL": url})
    for url in urls:
        domain = url_domain(url)
        if domain:
            arts.add("Domain", "domain", {"destinationDnsDomain": domain})
    for text in mime_notes + walk.cap_notes():
        notes.add(text)

    path = store_raw(raw, sha, Path(store_dir), notes)
    subject = summary["Subject"] or "(no subject)"
    message_id = clean(header_str(headers, "Message-ID"), 1024)
    container = Container(
        name=f"Phishing: {subject}"[:NAME_MAX],
        label=LABEL,
        severity=Severity.MEDIUM,
        source_data_identifier=message_id if 0 < len(message_id) <= 512 else sha,
        description=_description(summary, walk, sha),
        artifacts=arts.finish(),
        raw_ref=str(path),
        raw_sha256=sha,
    )
    return ParsedAlert(container=container, notes=notes.as_list())


def _description(summary: dict[str, str], walk: Walk, sha: str) -> str:
    lines = ["Reported phishing e-mail."]
    lines += [f"{k}: {v}" for k, v in summary.items() if v and k != "Message-ID"]
    lines.append(f"{len(walk.urls)} distinct URLs, {walk.attachment_count} attachments, "
                 f"{walk.parts} MIME parts.")
    lines.append(f"Raw message SHA-256: {sha}")
    return clean("\n".join(lines), 20_000, single_line=False)


def _addresses(headers: EmailMessage, name: str, notes: Notes) -> list[str]:
    """The valid addr-specs of an address header, in order (invalid ones noted and skipped)."""
    value = header_value(headers, name)
    if value is None:
        return []
    try:
        specs = [a.addr_spec for a in value.addresses]  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a raw or unparseable value: fall back to the lenient utils parser
        specs = [spec for _, spec in getaddresses([str(value)])]
    out: list[str] = []
    for spec in specs[:MAX_ADDRESSES]:
        spec = clean(spec, 320)
        if not spec:
            continue
        try:
            out.append(validate_email("fromEmail", spec))
        except ValueError:
            notes.add(f"{name} address {spec[:80]!r} is not a valid e-mail address; skipped")
    return list(dict.fromkeys(out))


def _external(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global or any(ip in net for net in _DOC_NETS)


def originating_ip(headers: EmailMessage) -> str | None:
    """The earliest external hop: the last Received header whose from-clause has a public IP.

    Falls back to X-Originating-IP (set by webmail services) when no Received hop has one.
    """
    for value in reversed(header_values(headers, "Received")):
        hop = value.strip()
        if hop[:4].lower() != "from":
            continue
        by = _BY_RE.search(hop)
        for m in _HOP_IP_RE.finditer(hop[: by.start() if by else None]):
            try:
                ip = ipaddress.ip_address(m.group(1) or m.group(2))
            except ValueError:
                continue
            if _external(ip):
                return str(ip)
    fallback = header_str(headers, "X-Originating-IP").strip().strip("[]")
    try:
        ip = ipaddress.ip_address(fallback)
    except ValueError:
        return None
    return str(ip) if _external(ip) else None


def store_raw(raw: bytes, sha: str, store_dir: Path, notes: Notes) -> Path:
    """Write the raw message to `store_dir/<sha>.eml` once; an existing file is never overwritten.

    The name comes only from the hash, so no header can steer the path. The write goes to a temporary
    file first and is hard-linked into place, so readers never see a partial file.
    """
    store_dir.mkdir(parents=True, exist_ok=True)
    path = (store_dir / f"{sha}.eml").absolute()
    if path.exists():
        _check_existing(path, sha, notes)
        return path
    fd, tmp = tempfile.mkstemp(dir=store_dir, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            _check_existing(path, sha, notes)
        except OSError:
            # A file system without hard links: exclusive create still never overwrites.
            try:
                with open(path, "xb") as f:
                    f.write(raw)
            except FileExistsError:
                _check_existing(path, sha, notes)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def _check_existing(path: Path, sha: str, notes: Notes) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != sha:
        notes.add(f"the stored copy {path.name} does not match this message's SHA-256; it was left as is")
