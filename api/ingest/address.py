"""Who sent a reported message: the sender's address and display name, and the originating IP.

Phishing hides the sender from strict parsers, so the address is read in three steps, stopping at the
first valid addr-spec: the stdlib's structured parse (policy.default, bounded); then a tolerant scan of the
raw value, which finds `<addr>` anywhere (also inside a comment: `"x@y" (<real@evil.example>)`, or after
a `;` in an unquoted display name) and then a bare addr-spec (`(real@evil.example)`); then the same for
the `Sender:` header when `From:` has none. The display name is kept as its own value: a lookalike name
(`"PayPal Service" <x@evil.example>`) is a signal on its own.

No recursive parser sees a raw value here: the stdlib's `getaddresses`, the old fallback, recursed once per
`(` and raised RecursionError on a `From:` of 496 of them.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from api.ingest.common import Notes, clean
from api.ingest.mime import header_str, header_value, header_values
from api.ingest.params import decode_words
from core.cef import validate_email

MAX_ADDRESSES = 20
_DISPLAY_JUNK = " \t\r\n\"',;_()"
_ANGLE_RE = re.compile(r"<\s*([^<>\s\"(),;:]{1,64}@[^<>\s\"(),;:@]{1,253})\s*>")
_BARE_RE = re.compile(r"(?<![^\s<>\"(),;:])([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@"
                      r"(?:[A-Za-z0-9-]{1,63}\.){1,10}[A-Za-z]{2,24})(?![A-Za-z0-9.-])")

# An IP in a Received hop's from-clause: `[203.0.113.7]`, `[IPv6:2001:db8::1]` or `(203.0.113.7)`.
_HOP_IP_RE = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})\]|\(([0-9]{1,3}(?:\.[0-9]{1,3}){3})\)")
# A hop written by the receiving side with the client's IP as the from-domain: webmail submissions
# (`from 102.64.220.94 (SquirrelMail authenticated user x) by host with HTTP`) and Yahoo-style
# `from 168.245.125.197 (EHLO mail.example) by ...`. A bare IP in any other hop is the sender's own
# HELO claim (forged bottom hops look like `from 196.170.26.200 by 200.83.104.67`), so it is not used.
_BARE_HOP_RE = re.compile(r"^from\s+([0-9]{1,3}(?:\.[0-9]{1,3}){3})\s+\((?:E?HLO\s|HELO\s|[^()]*authenticated)",
                          re.IGNORECASE)
_WITH_HTTP_RE = re.compile(r"\swith\s+HTTPS?\b", re.IGNORECASE)
_BY_RE = re.compile(r"\sby\s", re.IGNORECASE)
# The by-clause of a hop: the receiving host's name, then what it wrote about itself (up to with/for/id/;).
_BY_CLAUSE_RE = re.compile(r"\sby\s+([^\s;()\[\]]+)([^;]*?)(?=\s(?:with|for|id|via)\s|;|$)",
                           re.IGNORECASE | re.DOTALL)
_BRACKETED_IP_RE = re.compile(r"[\[(](?:IPv6:)?([0-9A-Fa-f:.]{2,45})[\])]")
# Documentation ranges count as external: they are the demo's "internet" (see simulator/verdicts.py).
_DOC_NETS = [ipaddress.ip_network(n)
             for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]


@dataclass
class Sender:
    """The sender as recovered: its addr-spec, the display name shown to the user, and where it was found."""

    address: str
    display_name: str
    header: str


def _valid(spec: str) -> str | None:
    spec = clean(spec, 320)
    try:
        return validate_email("fromEmail", spec) if spec else None
    except ValueError:
        return None


def _structured(headers: EmailMessage, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs as policy.default reads them (none for a raw or failed value).

    An address without a domain is left out: `"x@y"` alone is a quoted local part, not an address.
    """
    value = header_value(headers, name)
    try:
        return [(a.display_name, a.addr_spec) for a in value.addresses if a.domain]  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a raw value (str) or a parser failure: the tolerant scan follows
        return []


def _raw(headers: EmailMessage, name: str) -> str:
    """The header's first raw value (bounded; `str()` of a parsed address header drops what it misread)."""
    found = header_values(headers, name)
    return found[0] if found else ""


def _tolerant(raw: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) pairs found by scanning the raw value: `<addr>` forms first, then bare."""
    out = []
    prev = 0
    for m in _ANGLE_RE.finditer(raw):
        # Everything since the previous address is the display name: `Bank; Support <a@x>` keeps its `;`,
        # and the `,_` that some kits put before the bracket (`Microsoft account team ,_<a@x>`) goes.
        display = raw[prev : m.start()].strip(_DISPLAY_JUNK)
        prev = m.end()
        out.append((decode_words(display), m.group(1)))
    if not out:
        for m in _BARE_RE.finditer(raw):
            rest = _ANGLE_RE.sub("", raw).replace(m.group(1), "").strip(' "()<>')
            out.append((decode_words(rest), m.group(1)))
    return out


def sender(headers: EmailMessage) -> tuple[Sender | None, str | None]:
    """The message's sender and, when it was not a plain `From:` address, a note saying how it was found."""
    for name in ("From", "Sender"):
        raw = _raw(headers, name)
        found = _structured(headers, name)
        how = None
        if not any(_valid(spec) for _, spec in found):
            found, how = _tolerant(raw), "read leniently"
        for display, spec in found:
            addr = _valid(spec)
            if addr:
                if not display.strip(_DISPLAY_JUNK):  # `Name ,_<addr>`: the strict parse split the name off
                    display = next((d for d, s in _tolerant(raw) if s == spec), display)
                display = clean(display.strip(_DISPLAY_JUNK), 256)
                if name != "From":
                    return Sender(addr, display, name), (f"the From header has no valid address; the sender "
                                                         f"{addr} was taken from the {name} header")
                note = f"the From address {addr} was {how} from a malformed header" if how else None
                return Sender(addr, display, name), note
    return None, None


def addresses(headers: EmailMessage, name: str, notes: Notes) -> list[str]:
    """The valid addr-specs of an address header (e.g. Reply-To), in order; invalid ones are noted."""
    if header_value(headers, name) is None:
        return []
    specs = [spec for _, spec in _structured(headers, name)]
    if not any(_valid(s) for s in specs):
        specs = [spec for _, spec in _tolerant(_raw(headers, name))] or specs
    out: list[str] = []
    for spec in specs[:MAX_ADDRESSES]:
        addr = _valid(spec)
        if addr:
            out.append(addr)
        elif spec.strip():
            notes.add(f"{name} address {clean(spec, 80)!r} is not a valid e-mail address; skipped")
    return list(dict.fromkeys(out))


def _external(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global or any(ip in net for net in _DOC_NETS)


def _hop_ips(hop: str) -> list[str]:
    """The IPs the receiving side recorded for the client of one Received hop (from-clause only)."""
    by = _BY_RE.search(hop)
    clause = hop[: by.start() if by else None]
    found = [m.group(1) or m.group(2) for m in _HOP_IP_RE.finditer(clause)]
    bare = _BARE_HOP_RE.match(hop)
    if not found and (bare or _WITH_HTTP_RE.search(hop)):
        m = bare or re.match(r"from\s+([0-9]{1,3}(?:\.[0-9]{1,3}){3})(?=[\s;]|$)", hop, re.IGNORECASE)
        if m:
            found.append(m.group(1))
    return found


def originating_ip(headers: EmailMessage) -> str | None:
    """The earliest external hop: the last Received header whose from-clause has a public client IP.

    Falls back to X-Originating-IP (set by webmail services) when no Received hop has one.
    """
    found = originating_hop(headers)
    return found[0] if found else None


def originating_hop(headers: EmailMessage, trusted_relays: Sequence[str] = ()) -> tuple[str, str] | None:
    """The originating IP (as `originating_ip`) and its provenance.

    `received_header_trusted` when the hop that names it was added by one of our `trusted_relays` (CIDRs of
    our relays, or the host names they write after `by`), `received_header` for any other hop (the sender
    may have written it: a forged bottom hop looks exactly like a real one), `originating_ip_header` for the
    X-Originating-IP fallback.
    """
    hops = [v.strip() for v in header_values(headers, "Received")]
    trusted = _trusted_hops(hops, _Relays(trusted_relays)) if trusted_relays else 0
    for index in range(len(hops) - 1, -1, -1):
        hop = hops[index]
        if hop[:4].lower() != "from":
            continue
        for text in _hop_ips(hop):
            try:
                ip = ipaddress.ip_address(text)
            except ValueError:
                continue
            if _external(ip):
                return str(ip), "received_header_trusted" if index < trusted else "received_header"
    fallback = header_str(headers, "X-Originating-IP").strip().strip("[]")
    try:
        ip = ipaddress.ip_address(fallback)
    except ValueError:
        return None
    return (str(ip), "originating_ip_header") if _external(ip) else None


class _Relays:
    """The trusted relays: networks (for a hop's client IP) and host names or patterns (for its `by` host)."""

    def __init__(self, entries: Sequence[str]) -> None:
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: list[str] = []
        for e in entries:
            try:
                self.networks.append(ipaddress.ip_network(e.strip(), strict=False))
            except ValueError:
                self.names.append(e.strip().lower().rstrip("."))

    def has_ip(self, text: str) -> bool:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(ip.version == n.version and ip in n for n in self.networks)

    def has_name(self, host: str) -> bool:
        h = host.lower().rstrip(".")
        return any(fnmatch.fnmatchcase(h, n) for n in self.names)


def _trusted_hops(hops: list[str], relays: _Relays) -> int:
    """How many hops, from the top, our own relays added.

    The top hop is ours when its `by` host is a trusted relay (by name, or an IP written beside it); each
    next hop down is ours while the hop above it names a trusted relay as its client, by the client IP the
    receiving relay recorded (never by the HELO name, which the client chooses).
    """
    by = _BY_CLAUSE_RE.search(hops[0]) if hops else None
    if by is None or not (relays.has_name(by.group(1))
                          or any(relays.has_ip(a) for a in _BRACKETED_IP_RE.findall(by.group(0)))):
        return 0
    count = 1
    while count < len(hops) and any(relays.has_ip(ip) for ip in _hop_ips(hops[count - 1])):
        count += 1
    return count
