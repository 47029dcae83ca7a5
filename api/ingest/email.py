"""A reported phishing e-mail (raw RFC 822 bytes) -> a `phishing` container.

Artifacts: the headers (Subject, From, To, Date, Message-ID), the sender (address and display name), each
Reply-To address, the originating IP (earliest external Received hop), each attachment's SHA-256 and name,
each URL (plain, HTML link, defanged or scheme-less `www.`), each URL's domain, and the dotted IP of each
URL whose host is an IP (however obfuscated). The raw message is kept on disk, outside workflow history,
under a name derived only from its SHA-256; the container carries the path and the hash.

Deduplication key (`source_data_identifier`): `email:<Message-ID>#<SHA-256 of the raw bytes>`, or
`email:#<SHA-256>` without a Message-ID. The container id is derived from it, so it is the content that
decides: the same bytes reported twice map to one container, while a different message that reuses an
earlier Message-ID (an attacker's way to be filed as a "duplicate" of a benign mail, and never triaged)
gets a container of its own. The Message-ID is kept in front so Splunk users can still search by it; it is
cut to fit the 512-character limit, the full 64-character hash never is (a shortened hash would let an
attacker prepare a benign and a malicious message that share it).
"""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from api.ingest.address import addresses, originating_hop, sender
from api.ingest.common import Artifacts, IngestError, Notes, ParsedAlert, clean, fit_budget, reading
from api.ingest.limits import (
    MAX_ARTIFACTS,
    MAX_FILENAME_CHARS,
    MAX_HEADER_VALUE_CHARS,
    MAX_PART_HEADER_BYTES,
    MAX_SCAN_CHARS,
    MAX_TOP_HEADER_BYTES,
    MAX_URLS_COUNTED,
)
from api.ingest.markup import html_urls
from api.ingest.mime import (
    Entity,
    HeaderBudget,
    body_view,
    decode_text,
    header_str,
    mime_param,
    parse_entity,
    split_multipart,
)
from api.ingest.params import boundary, content_type, filename
from api.ingest.urls import text_urls, url_domain, url_ip
from core.blobs import write_once
from core.models.container import NAME_MAX, Container, Severity

LABEL = "phishing"
# A message has at least one of these; anything else is not an e-mail.
IDENTIFYING_HEADERS = {"from", "sender", "subject", "date", "message-id", "received", "to", "return-path"}
SUMMARY_HEADERS = ("Subject", "From", "To", "Date", "Message-ID")
MAX_IDENTIFIER = 512
# Stack items still to parse: (buffer, start, end, depth, default Content-Type).
Pending = tuple[bytes, int, int, int, str | None]
_NON_BLANK_RE = re.compile(rb"\S")


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
        """Walk the tree under `top` (depth 0).

        Raises:
            IngestError: ("MIME part <n>", ...) when a library fails on that part (stack, memory, decoding).
        """
        stack: list[Entity | Pending] = [top]
        while stack:
            item = stack.pop()
            self.parts += 1
            if self.parts > self.max_parts:
                self.notes.append(f"the message has more than {self.max_parts} MIME parts; "
                                  "the rest were not read")
                return
            with reading(f"MIME part {self.parts}"):
                if isinstance(item, tuple):
                    buf, start, end, depth, default = item
                    item = parse_entity(buf, start, end, depth, MAX_PART_HEADER_BYTES, self.budget, self.notes)
                    if default:
                        item.headers.set_default_type(default)
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

    def _visit(self, e: Entity) -> list[Pending]:
        ctype = content_type(e.headers)
        if not ctype.startswith("multipart/"):
            return self._leaf(e, ctype)
        if e.depth >= self.max_depth:
            self.notes.append(f"MIME parts nested deeper than {self.max_depth} levels were not read")
            return []
        delim = (boundary(e.headers) or "").encode("utf-8", "surrogateescape")
        spans, reopened = split_multipart(e.buf, e.start, e.end, delim, self.max_parts + 1) if delim else ([], False)
        if reopened:
            self.notes.append(f"a {ctype} part has parts after its close delimiter (a nested multipart reused "
                              "its boundary); they were read as its parts")
        if not spans and _NON_BLANK_RE.search(e.buf, e.start, e.end):
            self.notes.append(f"a {ctype} part has no usable boundary; its body was read as text")
            self._scan(memoryview(e.buf)[e.start : e.end], None, html=False)
        # RFC 2046 5.1.5: in a digest, a part without Content-Type is a message/rfc822.
        default = "message/rfc822" if ctype == "multipart/digest" else None
        return [(e.buf, s, t, e.depth + 1, default) for s, t in spans]

    def _leaf(self, e: Entity, ctype: str) -> list[Pending]:
        h = e.headers
        fname = _filename(filename(h))
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
            return [(buf, start, end, e.depth + 1, None)]
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
                max_parts: int = 500, max_depth: int = 20, max_artifacts: int = MAX_ARTIFACTS,
                trusted_relays: Sequence[str] = ()) -> ParsedAlert:
    """Parse a reported phishing message and store its raw bytes as `store_dir/<sha256>.eml`.

    Args:
        raw: the message exactly as received (an .eml file).
        store_dir: where raw messages are kept (created if missing; an existing file is never overwritten).
        max_urls: URL artifacts kept; more are counted in a note.
        max_attachments: attachment artifacts kept; more are counted in a note.
        max_parts: MIME parts read; the walk stops after that many, with a note.
        max_depth: MIME nesting levels read; deeper parts are skipped, with a note.
        max_artifacts: artifacts in the container at most (the API's limit).
        trusted_relays: our own mail relays (CIDRs, or the host names they write after `by`): an originating
            IP from a Received hop they added gets provenance `received_header_trusted`, one from any other
            hop `received_header` (see `Artifact.provenance`).

    Returns:
        The container (label `phishing`, severity medium) and notes on whatever was skipped or capped; the
        serialised container and notes fit `CONTAINER_BUDGET_BYTES` (the last artifacts are dropped, with a
        note, when they would not).

    Raises:
        IngestError: ("body", ...) when the bytes are empty or not an RFC 822 message at all; ("headers", ...)
            or ("MIME part <n>", ...) when a library fails on that part of hostile input (stack exhausted,
            memory, a decoder error) instead of giving a value to skip.
        OSError: when the raw message cannot be written to `store_dir`.
    """
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise IngestError("body", f"expected the raw message as bytes, got {type(raw).__name__}")
    with reading("body", decoders=False):
        return _parse(bytes(raw), Path(store_dir), max_urls=max_urls, max_attachments=max_attachments,
                      max_parts=max_parts, max_depth=max_depth, max_artifacts=max_artifacts,
                      trusted_relays=tuple(trusted_relays))


def _parse(raw: bytes, store_dir: Path, *, max_urls: int, max_attachments: int, max_parts: int, max_depth: int,
           max_artifacts: int, trusted_relays: tuple[str, ...]) -> ParsedAlert:
    sha = hashlib.sha256(raw).hexdigest()
    data = raw.removeprefix(codecs.BOM_UTF8).lstrip(b"\r\n\t ")
    if not data:
        raise IngestError("body", "the body is empty; send the reported message as raw RFC 822 (.eml) bytes")
    budget = HeaderBudget()
    mime_notes: list[str] = []
    with reading("headers"):
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
    with reading("headers"):
        summary = {h: clean(header_str(headers, h), MAX_HEADER_VALUE_CHARS) for h in SUMMARY_HEADERS}
        present = {k: v for k, v in summary.items() if v}
        if present:
            arts.add("Email headers", "email", {"emailHeaders": present}, provenance="sender")
        who, how = sender(headers)
        if who:
            arts.add("Sender", "email", {"fromEmail": who.address, **(
                {"fromDisplayName": who.display_name} if who.display_name else {})}, provenance="sender")
        elif header_str(headers, "From").strip():
            notes.add("the From header has no valid e-mail address; no sender artifact")
        if how:
            notes.add(how)
        for addr in addresses(headers, "Reply-To", notes):
            arts.add("Reply-To", "email", {"replyToEmail": addr}, provenance="sender")
        origin = originating_hop(headers, trusted_relays)
    if origin:
        arts.add("Originating IP", "ip", {"sourceAddress": origin[0]}, provenance=origin[1])
    for cef in walk.attachments:
        arts.add("Attachment", "file", cef, provenance="attachment")
    _url_artifacts(list(walk.urls)[: max(0, max_urls)], arts)
    for text in mime_notes + walk.cap_notes():
        notes.add(text)

    path = store_raw(raw, sha, store_dir, notes)
    subject = summary["Subject"] or "(no subject)"
    container = Container(
        name=f"Phishing: {subject}"[:NAME_MAX],
        label=LABEL,
        severity=Severity.MEDIUM,
        source_data_identifier=source_identifier(summary["Message-ID"], sha),
        description=_description(summary, walk, sha),
        artifacts=arts.finish(),
        raw_ref=str(path),
        raw_sha256=sha,
    )
    return fit_budget(container, notes.as_list(), aside=arts.aside)


def source_identifier(message_id: str, sha: str) -> str:
    """`email:<Message-ID>#<sha256>` (the Message-ID cut to fit 512 characters), `email:#<sha256>` without one."""
    room = MAX_IDENTIFIER - len("email:#") - len(sha)
    return f"email:{clean(message_id, room)}#{sha}"


def _url_artifacts(urls: list[str], arts: Artifacts) -> None:
    """The URLs, then each URL's domain, then the dotted IP of each URL whose host is an IP address."""
    for url in urls:
        arts.add("URL", "url", {"requestURL": url}, provenance="body")
    for url in urls:
        domain = url_domain(url)
        if domain:
            arts.add("Domain", "domain", {"destinationDnsDomain": domain}, provenance="url")
    for url in urls:
        ip = url_ip(url)
        if ip:
            arts.add("URL IP", "ip", {"destinationAddress": ip}, provenance="url")


def _description(summary: dict[str, str], walk: Walk, sha: str) -> str:
    lines = ["Reported phishing e-mail."]
    lines += [f"{k}: {v}" for k, v in summary.items() if v and k != "Message-ID"]
    lines.append(f"{len(walk.urls)} distinct URLs, {walk.attachment_count} attachments, "
                 f"{walk.parts} MIME parts.")
    lines.append(f"Raw message SHA-256: {sha}")
    return clean("\n".join(lines), 20_000, single_line=False)


def store_raw(raw: bytes, sha: str, store_dir: Path, notes: Notes) -> Path:
    """Write the raw message to `store_dir/<sha>.eml` once; an existing file is never overwritten.

    The name comes only from the hash, so no header can steer the path; `core.blobs.write_once` makes the
    write atomic. A copy already there is checked against the hash (a mismatch is noted, never replaced).
    """
    path = (store_dir / f"{sha}.eml").absolute()
    if not write_once(path, raw):
        _check_existing(path, sha, notes)
    return path


def _check_existing(path: Path, sha: str, notes: Notes) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    if h.hexdigest() != sha:
        notes.add(f"the stored copy {path.name} does not match this message's SHA-256; it was left as is")
