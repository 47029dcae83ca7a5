"""URL extraction from e-mail text and HTML, in linear time.

Why not `iocextract.extract_urls` or `html.parser.HTMLParser` directly: both take super-linear time on
hostile input (measured on Python 3.11.7: iocextract's regexes backtracked for 185 s on 90 KB of `x\\.`
repeated; HTMLParser, which rescans an unterminated `<!--` at every `<`, did not finish in 10 minutes on
800 KB of them). Candidates are therefore found with patterns that have no nested quantifiers and a
bounded length, and only each bounded candidate is handed to `iocextract.refang_data`, which is linear
(`hxxps[:]//evil[.]com` -> `https://evil.com`).
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
_SCHEME = r"(?:h(?:tt|xx)ps?|f[tx]p)(?::/{2}|\[:\]/{2}|\[://\]|:\\\\)"
SCHEME_START_RE = re.compile(_SCHEME, re.IGNORECASE)
SCHEME_URL_RE = re.compile(rf"(?i)(?<![a-z0-9]){_SCHEME}[^{_STOP}]{{1,{MAX_URL_CHARS}}}")
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

# A plain URL whose host is a DNS name: accepted without urlsplit (the common case, ~30x faster).
_SIMPLE_URL_RE = re.compile(
    r"(?i)(https?|ftp)://((?:[a-z0-9_-]{1,63}\.){1,20}(?=[a-z0-9-]{0,62}[a-z])[a-z0-9-]{1,63})"
    r"((?::[0-9]{1,5})?(?:[/?#][^\s\\\[\]]*)?)"
)

# HTML. Comments are cut with str.find; tags are matched with `[^<>]*`, which stops at the next `<`, so
# every character is looked at a bounded number of times whatever the markup.
_LINK_TAG_RE = re.compile(r"<(a|area|base|form|button|input|iframe|frame|embed|script|meta)\s([^<>]*)>",
                          re.IGNORECASE)
_ANY_TAG_RE = re.compile(r"<[^<>]*>")
_ATTR_RE = re.compile(r"""([^\s"'=<>/`]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?""")
_LINK_ATTRS = {"a": "href", "area": "href", "base": "href", "form": "action", "button": "formaction",
               "input": "formaction", "iframe": "src", "frame": "src", "embed": "src", "script": "src"}


def _trim(candidate: str) -> str:
    """Drop trailing punctuation and unbalanced closing brackets (`(see http://x.com/a).` -> `.../a`).

    At most 64 characters are trimmed: real URLs end in a few, and the bound keeps hostile runs cheap.
    """
    if not candidate or (candidate[-1] not in _TRAIL and candidate[-1] not in _PAIRS):
        return candidate
    counts = {c: candidate.count(c) for c in "()[]{}"}
    end = len(candidate)
    for _ in range(64):
        if not end:
            break
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
    if not SCHEME_START_RE.match(candidate):
        return None
    simple = _SIMPLE_URL_RE.fullmatch(candidate)
    if simple and len(simple.group(2)) <= 253 and not _DEFANG_ANY_RE.search(candidate):
        return f"{simple.group(1).lower()}://{simple.group(2).lower()}{simple.group(3)}"
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
    cache: dict[str, str | None] = {}
    for m in SCHEME_URL_RE.finditer(text):
        spans.extend(m.span())
        candidate = m.group(0)
        url = cache.get(candidate) if candidate in cache else cache.setdefault(candidate, normalize_url(candidate))
        if url:
            yield url
    if not _DEFANG_ANY_RE.search(text):
        return
    for m in BARE_DEFANGED_RE.finditer(text):
        # Inside a URL already taken (e.g. a defanged name in a query string): not a URL of its own.
        if bisect.bisect_right(spans, m.start()) % 2 == 1:
            continue
        if _DEFANG_ANY_RE.search(m.group(0)):
            url = normalize_url("http://" + m.group(0))
            if url:
                yield url


def _strip_comments(doc: str) -> str:
    out: list[str] = []
    i = 0
    while True:
        j = doc.find("<!--", i)
        if j < 0:
            out.append(doc[i:])
            break
        out.append(doc[i:j])
        k = doc.find("-->", j + 4)
        if k < 0:
            break
        i = k + 3
    return " ".join(out)


def scan_html(doc: str) -> tuple[list[str], str]:
    """The link targets (a/area href, form action, frame/script src, meta refresh) and the text of HTML.

    Comments are dropped; tolerant of broken markup; linear in the size of the document.
    """
    doc = _strip_comments(doc)
    links: list[str] = []
    for m in _LINK_TAG_RE.finditer(doc):
        tag, values = m.group(1).lower(), _attributes(m.group(2))
        target = values.get(_LINK_ATTRS.get(tag, ""))
        if target:
            links.append(target)
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            # content="0; url=https://evil.example/"
            links.append(values.get("content", "").partition("=")[2].strip(" '\""))
    return links, html.unescape(_ANY_TAG_RE.sub(" ", doc))


def _attributes(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for am in _ATTR_RE.finditer(text):
        name, raw = am.group(1).lower(), am.group(2)
        if raw is None or name in values:
            continue
        if raw[:1] in ("'", '"'):
            raw = raw[1:-1]
        values[name] = html.unescape(raw)
    return values


def html_urls(doc: str) -> Iterator[str]:
    """Every URL of an HTML document: link targets first, then URLs written in its text."""
    links, visible = scan_html(doc)
    for link in dict.fromkeys(links):
        url = normalize_url(link)
        if url:
            yield url
    yield from text_urls(visible)
