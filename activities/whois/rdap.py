"""Reading RDAP `ip network` objects (RFC 9083): CIDRs, jCard (RFC 7095) contacts, the abuse mailbox,
events and the registry that answered. Pure functions over the JSON; tolerant of what RIRs leave out.
"""

from __future__ import annotations

import ipaddress
from collections import deque
from typing import Any
from urllib.parse import urlsplit

MAX_ENTITY_DEPTH = 5
REGISTRIES = {"arin": "ARIN", "ripe": "RIPE NCC", "apnic": "APNIC", "lacnic": "LACNIC", "afrinic": "AFRINIC"}


def cidrs(net: dict[str, Any]) -> list[str]:
    """The network's CIDRs: RDAP `cidr0_cidrs`, else computed from startAddress/endAddress."""
    out = []
    for c in net.get("cidr0_cidrs") or []:
        if not isinstance(c, dict):
            continue
        prefix = c.get("v4prefix") or c.get("v6prefix")
        if prefix and c.get("length") is not None:
            out.append(f"{prefix}/{c['length']}")
    if out:
        return out
    try:
        start = ipaddress.ip_address(str(net.get("startAddress")))
        end = ipaddress.ip_address(str(net.get("endAddress")))
        return [str(n) for n in ipaddress.summarize_address_range(start, end)]  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return []


def vcard_values(entity: dict[str, Any], prop: str) -> list[Any]:
    """Values of one jCard property (`fn`, `email`, `tel`, ...) of an entity's `vcardArray`."""
    vcard = entity.get("vcardArray")
    if not (isinstance(vcard, list) and len(vcard) == 2 and isinstance(vcard[1], list)):
        return []
    return [p[3] for p in vcard[1] if isinstance(p, list) and len(p) >= 4 and p[0] == prop]


def walk_entities(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Every entity of the object, breadth first, including entities nested in entities."""
    out: list[dict[str, Any]] = []
    queue: deque[tuple[dict[str, Any], int]] = deque([(obj, 0)])
    while queue:
        node, depth = queue.popleft()
        if depth >= MAX_ENTITY_DEPTH:
            continue
        for ent in node.get("entities") or []:
            if isinstance(ent, dict):
                out.append(ent)
                queue.append((ent, depth + 1))
    return out


def with_role(obj: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Entities (at any depth) that carry `role` (`abuse`, `registrant`, `technical`, ...)."""
    return [e for e in walk_entities(obj) if role in (e.get("roles") or [])]


def abuse_email(obj: dict[str, Any]) -> str | None:
    """The first e-mail address of the nearest entity with the `abuse` role."""
    for ent in with_role(obj, "abuse"):
        for value in vcard_values(ent, "email"):
            if isinstance(value, str) and "@" in value:
                return value
    return None


def registrant(obj: dict[str, Any]) -> str | None:
    """The formatted name (`fn`) of the registrant entity."""
    for ent in with_role(obj, "registrant"):
        for value in vcard_values(ent, "fn"):
            if isinstance(value, str) and value:
                return value
    return None


def event_date(obj: dict[str, Any], action: str) -> str | None:
    """The date of the first event with `eventAction` == `action` (`registration`, `last changed`)."""
    for ev in obj.get("events") or []:
        if isinstance(ev, dict) and ev.get("eventAction") == action:
            return ev.get("eventDate")
    return None


def registry(obj: dict[str, Any], url: str) -> str:
    """Which RIR answered: from `port43` (whois.ripe.net -> RIPE NCC), else the answering host."""
    host = urlsplit(url).hostname or ""
    for source in (str(obj.get("port43") or ""), host):
        for key, name in REGISTRIES.items():
            if key in source.lower():
                return name
    return host or "unknown"


def origin_asn(net: dict[str, Any]) -> str | None:
    """The origin AS ARIN lists for the network (`arin_originas0_originautnums`), if any."""
    asns = net.get("arin_originas0_originautnums")
    if isinstance(asns, list) and asns and isinstance(asns[0], int | str):
        return str(asns[0])
    return None


def registrant_address(net: dict[str, Any]) -> str | None:
    """The postal address label of the registrant entity's vCard, if any."""
    for ent in net.get("entities") or []:
        if not isinstance(ent, dict) or "registrant" not in (ent.get("roles") or []):
            continue
        card = ent.get("vcardArray")
        for prop in card[1] if isinstance(card, list) and len(card) > 1 and isinstance(card[1], list) else []:
            if isinstance(prop, list) and len(prop) > 1 and prop[0] == "adr" and isinstance(prop[1], dict):
                label = prop[1].get("label")
                if isinstance(label, str):
                    return " ".join(label.split())[:300]
    return None


def summarize(net: dict[str, Any], url: str, redirects: list[str]) -> dict[str, Any]:
    """The summary of an `ip network` object."""
    nets = cidrs(net)
    return {
        "found": True,
        "network_name": net.get("name"),
        "handle": net.get("handle"),
        "cidr": ", ".join(nets) or None,
        "start_address": net.get("startAddress"),
        "end_address": net.get("endAddress"),
        "ip_version": net.get("ipVersion"),
        "type": net.get("type"),
        "parent_handle": net.get("parentHandle"),
        "country": net.get("country"),
        "registrant": registrant(net),
        "abuse_email": abuse_email(net),
        "registration_date": event_date(net, "registration"),
        "last_changed": event_date(net, "last changed"),
        "registry": registry(net, url),
        "rdap_url": url,
        "redirected": bool(redirects),
        # The Splunk WHOIS app's summary keys (ipwhois style), so its playbooks read what they expect.
        "asn": origin_asn(net),
        "country_code": net.get("country"),
        "nets": [{"range": f"{net.get('startAddress')} - {net.get('endAddress')}", "cidr": ", ".join(nets) or None,
                  "name": net.get("name"), "address": registrant_address(net)}],
    }


def message(s: dict[str, Any]) -> str:
    """`GOGL 8.8.8.0/24 (US), abuse: network-abuse@google.com`."""
    parts = (s["network_name"] or s["handle"], s["cidr"])
    text = " ".join(str(p) for p in parts if p) or "registered network"
    if s["country"]:
        text += f" ({s['country']})"
    return text + (f", abuse: {s['abuse_email']}" if s["abuse_email"] else ", no abuse contact listed")
