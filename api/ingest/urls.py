"""URL extraction from e-mail text and HTML, in linear time.

Why not `iocextract.extract_urls` or `html.parser.HTMLParser` directly: both backtrack on hostile input
(measured here on Python 3.11: iocextract took 185 s on 90 KB of `x\\.` repeated; HTMLParser took over
10 minutes on 800 KB of unterminated `<!--`). Candidates are therefore found with patterns that have no
nested quantifiers and a bounded length, and only each bounded candidate is handed to
`iocextract.refang_data`, which is linear (`hxxps[:]//evil[.]com` -> `https://evil.com`).
"""

from __future__ import annotations

import bisect
import html
import ipaddress
import re
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import iocextract

from api.ingest.limits import MAX_URL_CHARS
from core.cef import validate_domain, validate_url

_STOP = r"\s<>\"'`\x00-\x1f\x7f"
# A scheme (plain or defanged: hxxp, hXXps, fxp) and a separator (://, [:]//, [://], :\\).
SCHEME_URL_RE = re.compile(
    rf"(?i)(?<![a-z0-9])(?:h(?:tt|xx)ps?|f[tx]p)(?::/{{2}}|\[:\]/{{2}}|\[://\]|:\\\\)[^{_STOP}]{{1,{MAX_URL_CHARS}}}"
)
_DEFANG = r"(?:\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\})"
# A scheme-less host with at least one defanged dot (checked after the match), optionally a path.
BARE_DEFANGED_RE = re.compile(
    rf"(?i)(?<![\w.\-/@:\[\]])(?:[a-z0-9-]{{1,63}}(?:{_DEFANG}|\.)){{1,30}}[a-z]{{2,24}}(?![\w-])"
    rf"(?:[/?#][^{_STOP}]{{0,{MAX_URL_CHARS}}})?"
)
_DEFANG_ANY_RE = re.compile(_DEFANG, re.IGNORECASE)
_DOT_WORD_RE = re.compile(r"\[dot\]|\(dot\)|\{dot\}|\{\.\}", re.IGNORECASE)
_TRAIL = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "[", "}": "{"}

# HTML: tags are found with str.find, attributes within one tag with a pattern bounded by that tag.
_TAG_RE = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]{0,40})")
_ATTR_RE = re.compile(r"""([^\s"'=<>/`]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_LINK_ATTRS = {"href", "action", "formaction"}
_SRC_TAGS = {"iframe", "frame", "embed", "script"}


def _trim(candidate: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets (`(see http://x.com/a).` -> `.../a`)."""
    counts = {c: candidate.count(c) for c in "()[]{}"}
    end = len(candidate)
    while end:
        last = candidate[end - 1]
        if last in _TRAIL:
            end -= 1
        elif last in _PAIRS and counts[_PAIRS[last]] < counts[last]:
            counts[last] -= 1
            end -= 1
        else:
            break
    return candidate[:end]


def normalize_url(candidate: str) -> str | None:
    """A refanged, validated absolute URL with lower-case scheme and host, or None."""
    candidate = _trim(candidate.strip())[:MAX_URL_CHARS]
    if not candidate:
        return None
    lowered = candidate[:8].lower()
    plain = lowered.startswith(("http://", "https://", "ftp://")) and not _DEFANG_ANY_RE.search(candidate)
    if not plain:
        try:
            candidate = _trim(iocextract.refang_data(_DOT_WORD_RE.sub("[.]", candidate)))
        except (ValueError, IndexError, TypeError):
            return None
    try:
        url = validate_url("requestURL", candidate)
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return None
    if url_domain(url) is None and not _is_ip(host):
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def url_domain(url: str) -> str | None:
    """The DNS name of a URL's host (IDN as punycode), or None for an IP literal or an invalid name."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if not host or _is_ip(host):
        return None
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    try:
        return validate_domain("destinationDnsDomain", host)
    except ValueError:
        return None


def text_urls(text: str) -> Iterator[str]:
    """Every URL in plain text, including defanged forms, refanged and validated (may repeat)."""
    spans: list[int] = []
    for m in SCHEME_URL_RE.finditer(text):
        spans.extend(m.span())
        url = normalize_url(m.group(0))
        if url:
            yield url
    for m in BARE_DEFANGED_RE.finditer(text):
        # Inside a URL already taken (e.g. a defanged name in a query string): not a URL of its own.
        if bisect.bisect_right(spans, m.start()) % 2 == 1:
            continue
        if _DEFANG_ANY_RE.search(m.group(0)):
            url = normalize_url("http://" + m.group(0))
            if url:
                yield url


def scan_html(doc: str) -> tuple[list[str], str]:
    """The link targets (href, form action, frame/script src) and the visible text of an HTML document.

    A linear scanner, tolerant of broken markup: an unterminated tag or comment ends the scan.
    """
    links: list[str] = []
    text: list[str] = []
    i, n = 0, len(doc)
    while i < n:
        lt = doc.find("<", i)
        if lt < 0:
            text.append(doc[i:])
            break
        text.append(doc[i:lt])
        if doc.startswith("<!--", lt):
            end = doc.find("-->", lt + 4)
            if end < 0:
                break
            i = end + 3
            continue
        m = _TAG_RE.match(doc, lt)
        if m is None:
            if doc.startswith(("<!", "<?"), lt):
                end = doc.find(">", lt + 2)
                if end < 0:
                    break
                i = end + 1
            else:
                text.append("<")
                i = lt + 1
            continue
        end = doc.find(">", m.end())
        if end < 0:
            break
        if not m.group(1):
            _tag_links(m.group(2).lower(), doc[m.end() : end], links, text)
        text.append(" ")
        i = end + 1
    return links, html.unescape("".join(text))


def _tag_links(tag: str, attrs: str, links: list[str], text: list[str]) -> None:
    values: dict[str, str] = {}
    for am in _ATTR_RE.finditer(attrs):
        name, raw = am.group(1).lower(), am.group(2)
        if raw is None or name in values:
            continue
        if raw[:1] in ("'", '"'):
            raw = raw[1:-1]
        values[name] = html.unescape(raw)
    for name in _LINK_ATTRS:
        if name in values:
            links.append(values[name])
    if tag in _SRC_TAGS and "src" in values:
        links.append(values["src"])
    if tag == "meta" and values.get("http-equiv", "").lower() == "refresh" and "content" in values:
        # <meta http-equiv="refresh" content="0; url=https://evil.example/">: scanned as text.
        text.append(" " + values["content"].replace("url=", " ").replace("URL=", " ") + " ")


def html_urls(doc: str) -> Iterator[str]:
    """Every URL of an HTML document: link targets first, then URLs written in its text."""
    links, visible = scan_html(doc)
    for link in links:
        url = normalize_url(link)
        if url:
            yield url
    yield from text_urls(visible)
