"""URL extraction from e-mail text, in linear time; the HTML side is `api.ingest.markup`.

Why not `iocextract.extract_urls` directly: it takes super-linear time on hostile input (measured on
Python 3.11.7: its regexes backtracked for 185 s on 90 KB of `x\\.` repeated). It was compared again (1.16.1)
on the cases below: it finds the obfuscated-IP URLs as written but says nothing of the address behind
them, and it does not find scheme-less `www.example.com/path`; so it is not better here. Candidates
are therefore found with patterns that have no nested quantifiers and a bounded length, and only each
bounded candidate is handed to `iocextract.refang_data`, which is linear (`hxxps[:]//evil[.]com` ->
`https://evil.com`).

Hosts are read as browsers read them (the WHATWG URL standard's IPv4 parser): `0x425c45de`, `1113343455`,
`66.92.0x45.221` and octal `0251.0160.055.0107` are IPv4 addresses, so the URL is kept and `url_ip` gives
the dotted address, never a "domain". Scheme-less `www.` names in text are URLs too, as mail clients
linkify them.
"""

from __future__ import annotations

import bisect
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
# A scheme-less `www.` name, as mail clients linkify it (`www.evil.example/login`).
WWW_RE = re.compile(
    rf"(?i)(?<![\w.\-/@:\[\]])www[0-9]{{0,3}}\.(?:[a-z0-9-]{{1,63}}\.){{1,30}}[a-z]{{2,24}}(?![\w-])"
    rf"(?::[0-9]{{1,5}})?(?:[/?#][^{_STOP}]{{0,{MAX_URL_CHARS}}})?"
)
_WWW_ANY_RE = re.compile(r"(?i)www[0-9]{0,3}\.")
_DEFANG_ANY_RE = re.compile(_DEFANG, re.IGNORECASE)
# One part of a WHATWG IPv4 host: hex (0x...), octal (leading 0) or decimal; bounded in length.
_IPV4_PART_RE = re.compile(r"0[xX][0-9A-Fa-f]{0,16}|0[0-7]{1,24}|[0-9]{1,20}")
_DOT_WORD_RE = re.compile(r"\[dot\]|\(dot\)|\{dot\}|\{\.\}", re.IGNORECASE)
_TRAIL = ".,;:!?'\"*"
_PAIRS = {")": "(", "]": "[", "}": "{"}

# A plain URL whose host is a DNS name: accepted without urlsplit (the common case, ~30x faster).
_SIMPLE_URL_RE = re.compile(
    r"(?i)(https?|ftp)://((?:[a-z0-9_-]{1,63}\.){1,20}(?=[a-z0-9-]{0,62}[a-z])[a-z0-9-]{1,63})"
    r"((?::[0-9]{1,5})?(?:[/?#][^\s\\\[\]]*)?)"
)

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
    except ValueError:
        return None
    if url_domain(url) is None and url_ip(url) is None:
        return None
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower()))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def whatwg_ipv4(host: str) -> str | None:
    """The dotted IPv4 address a browser connects to for `host`, or None when the host is not an IPv4 one.

    `0x425c45de`, `1113343455`, `66.92.0x45.221` and `0251.0160.055.0107` all give an address; a host whose
    last label is not a number is a domain name. A numeric host that browsers reject (a part too large,
    `09` as octal) is not an address either.
    """
    labels = host.split(".")
    if len(labels) > 1 and labels[-1] == "":
        labels.pop()
    if not 1 <= len(labels) <= 4 or not labels[-1] or not ("0" <= labels[-1][0] <= "9"):
        return None
    nums = []
    for label in labels:
        if not _IPV4_PART_RE.fullmatch(label):
            return None
        if label[:2] in ("0x", "0X"):
            nums.append(int(label[2:] or "0", 16))
        elif len(label) > 1 and label[0] == "0":
            if label.strip("01234567"):
                return None
            nums.append(int(label[1:], 8))
        else:
            nums.append(int(label))
    if any(n > 255 for n in nums[:-1]) or nums[-1] >= 256 ** (5 - len(nums)):
        return None
    value = nums[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(nums[:-1]))
    return str(ipaddress.IPv4Address(value))


def url_ip(url: str) -> str | None:
    """The canonical IP address of a URL's host (`http://0x425c45de/` -> `66.92.69.222`), or None."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if _is_ip(host):
        return str(ipaddress.ip_address(host))
    return whatwg_ipv4(host)


def url_domain(url: str) -> str | None:
    """The DNS name of a URL's host (IDN as punycode), or None for an IP host (however written) or an invalid name."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return None
    if not host or _is_ip(host) or whatwg_ipv4(host):
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
    if _WWW_ANY_RE.search(text):
        for m in WWW_RE.finditer(text):
            if bisect.bisect_right(spans, m.start()) % 2 == 0:
                url = normalize_url("http://" + m.group(0))
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
