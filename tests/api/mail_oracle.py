"""An independent reading of an e-mail for the corpus test: the stdlib `email` package and `html.parser` only.

Deliberately naive: compat32 for the MIME tree (it reads the whole unquoted boundary, as mail clients do),
`get_payload(decode=True)` for attachment bytes, `HTMLParser` for link targets, a plain regex for URLs in
text parts, `email.utils.parseaddr` for the sender. Nothing from `api.ingest` is used, so where the two
readings differ one of them is wrong, and the corpus test says which.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

_TEXT_URL_RE = re.compile(r"(?i)\b(?:https?|ftp)://[^\s<>\"'`]+")
_LINK_ATTRS = {"a": "href", "area": "href", "form": "action", "iframe": "src", "frame": "src", "embed": "src",
               "script": "src", "button": "formaction", "input": "formaction"}


@dataclass
class Reading:
    """What the oracle found: absolute http(s)/ftp URLs (normalised), attachment SHA-256s, the sender."""

    urls: set[str] = field(default_factory=set)
    attachments: set[str] = field(default_factory=set)
    sender: str = ""


def normalise(url: str) -> str | None:
    """Lower-case scheme and host, surrounding blanks and trailing punctuation removed; None if not absolute."""
    url = url.strip().rstrip(".,;:!?'\")]}>*")
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not host:
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()))


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v for k, v in reversed(attrs) if v is not None}
        target = values.get(_LINK_ATTRS.get(tag, ""))
        if target:
            self.links.append(target)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            self.links.append(values.get("content", "").partition("=")[2].strip(" '\""))


def _text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _walk(msg: Message, out: Reading) -> None:
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        maintype = part.get_content_maintype()
        if part.get_filename() or part.get_content_disposition() == "attachment" or maintype not in (
                "text", "message"):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                out.attachments.add(hashlib.sha256(data).hexdigest())
        if ctype == "text/html":
            parser = _Links()
            parser.feed(_text(part))
            parser.close()
            found = parser.links
        elif ctype == "text/plain":
            found = _TEXT_URL_RE.findall(_text(part))
        else:
            continue
        out.urls.update(u for u in map(normalise, found) if u)


def read(raw: bytes) -> Reading:
    """The oracle's reading of one raw message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = Reading()
    _walk(msg, out)
    sender = email.utils.parseaddr(str(msg.get("From", "")))[1]
    out.sender = sender.lower() if "@" in sender else ""
    return out
