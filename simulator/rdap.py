"""Fake RDAP registries (RFC 9082/9083): an ARIN-like service at `/rdap` and a RIPE-like one at `/rdap/ripe`.

    GET /rdap/help, /rdap/ip/{ip}[/{len}]              the "ARIN" service (where assets start)
    GET /rdap/ripe/help, /rdap/ripe/ip/{ip}[/{len}]    the "RIPE NCC" service

Which registry holds an address (the documented rule): IPv4 whose first octet is one of RIPE NCC's /8s
(`RIPE_OCTETS`: 2, 5, 31, 37, 46, 62, 77-95, 109, 141, 145, 151, 176, 178, 185, 188, 193-195, 212, 213, 217)
and IPv6 in 2a00::/12 are RIPE space; everything else is ARIN space. Like the real ARIN, the ARIN service
answers RIPE space with `302 Location: <absolute URL of /rdap/ripe/ip/{ip}>`; the RIPE service answers ARIN
space with `301` back to ARIN. Private, loopback, link-local, CGNAT, multicast and 0/8, 240/4 (and IPv6
equivalents) get a 404 with an RFC 9083 error body. 8.8.8.0/24 is ARIN's documented GOGL example; other
networks are generated from the address (/24 or /48): ARIN nests the abuse contact inside the registrant
entity, RIPE lists it at the top level.

Errors (and injected faults) use the RFC 9083 envelope `{"errorCode", "title", "description": [...]}`;
a 429 keeps `Retry-After` (RFC 7480 section 5.5). Effects: `effects.rdap.arin` / `effects.rdap.ripe`
(ip -> answered lookups) and `effects.rdap.redirects` (ip -> redirects issued).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request, Response

from simulator.core import gate, sim_state

PREFIX = "/rdap"
VENDOR = "rdap"
router = APIRouter()

RDAP_CT = "application/rdap+json"
RIPE_OCTETS = {2, 5, 31, 37, 46, 62, *range(77, 96), 109, 141, 145, 151, 176, 178, 185, 188, 193, 194, 195,
               212, 213, 217}
RIPE_V6 = ipaddress.ip_network("2a00::/12")
RESERVED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
)]
GOGL = ipaddress.ip_network("8.8.8.0/24")
RIPE_COUNTRY_BY_OCTET = {81: "GB", 89: "SE", 5: "DE", 31: "NL", 95: "RU", 212: "FR"}
RIPE_COUNTRIES = ["GB", "DE", "FR", "NL", "SE", "RU", "IT", "PL"]
ARIN_COUNTRIES = ["US", "US", "US", "CA"]

REGISTRIES: dict[str, dict[str, Any]] = {
    "arin": {"port43": "whois.arin.net", "path": "", "conformance": [
        "nro_rdap_profile_0", "rdap_level_0", "cidr0", "arin_originas0"],
        "tos": "https://www.arin.net/resources/registry/whois/tou/"},
    "ripe": {"port43": "whois.ripe.net", "path": "/ripe", "conformance": [
        "cidr0", "rdap_level_0", "nro_rdap_profile_0", "redacted"],
        "tos": "https://apps.db.ripe.net/docs/HTML-Terms-And-Conditions"},
}


def rdap_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """An `application/rdap+json` answer."""
    return Response(json.dumps(body), status_code=status, media_type=RDAP_CT, headers=headers or {})


def rdap_error(status: int, description: str, headers: dict[str, str] | None = None) -> Response:
    """The RFC 9083 section 6 error envelope."""
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return rdap_json({"rdapConformance": ["rdap_level_0"], "errorCode": status, "title": title,
                      "description": [description]}, status, headers)


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault in the RFC 9083 envelope (a 429 keeps `Retry-After`)."""
    return rdap_error(status, message, headers)


def holder(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """`"ripe"` or `"arin"` by the documented rule."""
    if addr.version == 4:
        return "ripe" if int(str(addr).split(".")[0]) in RIPE_OCTETS else "arin"
    return "ripe" if addr in RIPE_V6 else "arin"


def _pick(seq: list[str], key: str) -> str:
    return seq[hashlib.sha256(key.encode()).digest()[0] % len(seq)]


def _vcard(*props: list[Any]) -> list[Any]:
    return ["vcard", [["version", {}, "text", "4.0"], *props]]


def _common(reg: str, base: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> dict[str, Any]:
    first, last = net.network_address, net.broadcast_address
    key = "v4prefix" if net.version == 4 else "v6prefix"
    info = REGISTRIES[reg]
    return {
        "rdapConformance": info["conformance"], "objectClassName": "ip network",
        "startAddress": str(first), "endAddress": str(last), "ipVersion": f"v{net.version}",
        "status": ["active"], "port43": info["port43"],
        "cidr0_cidrs": [{key: str(first), "length": net.prefixlen}],
        "links": [{"value": f"{base}/ip/{first}", "rel": "self", "href": f"{base}/ip/{first}",
                   "type": RDAP_CT}],
        "notices": [{"title": "Terms of Service",
                     "description": ["By using the RDAP service you agree to the terms of use."],
                     "links": [{"rel": "terms-of-service", "href": info["tos"], "type": "text/html"}]}],
    }


def arin_network(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, base: str) -> dict[str, Any]:
    """An ARIN-style `ip network`: abuse contact nested inside the registrant organisation."""
    if addr in GOGL:
        net, org, name, handle = GOGL, "Google LLC", "GOGL", "NET-8-8-8-0-2"
        email = "network-abuse@google.com"
        country, parent, org_handle = "US", "NET-8-0-0-0-0", "GOGL"
        address = "1600 Amphitheatre Parkway\nMountain View\nCA\n94043\nUnited States"
    else:
        net = ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 48}", strict=False)
        tag = str(net.network_address).replace(".", "-").replace(":", "-").strip("-").upper()
        org, name, handle = f"Example Networks {tag}", f"EXAMPLE-{tag}", f"NET-{tag}-1"
        email, country, parent, org_handle = f"abuse@net-{tag.lower()}.example", _pick(ARIN_COUNTRIES, tag), \
            f"NET-{tag.split('-')[0]}-0-0-0-0", f"EXNET-{tag}"
        address = "100 Example Street\nAnytown\nVA\n20166\nUnited States"
    body = {**_common("arin", base, net), "handle": handle, "name": name, "type": "DIRECT ALLOCATION",
            "parentHandle": parent, "country": country,
            "events": [{"eventAction": "registration", "eventDate": "2014-03-14T15:52:05-04:00"},
                       {"eventAction": "last changed", "eventDate": "2014-03-14T16:52:05-04:00"}]}
    abuse_handle = f"ABUSE{int(hashlib.sha256(org.encode()).hexdigest()[:4], 16)}-ARIN"
    body["entities"] = [{
        "objectClassName": "entity", "handle": org_handle, "roles": ["registrant"],
        "vcardArray": _vcard(["fn", {}, "text", org], ["kind", {}, "text", "org"],
                             ["adr", {"label": address}, "text", ["", "", "", "", "", "", ""]]),
        "entities": [
            {"objectClassName": "entity", "handle": f"NOC{abuse_handle[5:]}", "roles": ["technical"],
             "vcardArray": _vcard(["fn", {}, "text", "Network Operations"], ["kind", {}, "text", "group"],
                                  ["email", {}, "text", f"noc@{email.split('@')[1]}"])},
            {"objectClassName": "entity", "handle": abuse_handle, "roles": ["abuse"],
             "vcardArray": _vcard(["fn", {}, "text", "Abuse"], ["kind", {}, "text", "group"],
                                  ["email", {}, "text", email], ["tel", {"type": ["work", "voice"]}, "uri",
                                                                 "tel:+1-650-253-0000"])}],
    }]
    return body


def ripe_network(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, base: str) -> dict[str, Any]:
    """A RIPE-style `ip network`: range handle, abuse contact as a top-level entity."""
    net = ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 48}", strict=False)
    first_octet = int(str(addr).split(".")[0]) if addr.version == 4 else 0
    country = RIPE_COUNTRY_BY_OCTET.get(first_octet) or _pick(RIPE_COUNTRIES, str(net))
    tag = str(net.network_address).replace(".", "-").replace(":", "-").strip("-").upper()
    handle = f"{net.network_address} - {net.broadcast_address}" if net.version == 4 else str(net)
    body = {**_common("ripe", base, net), "handle": handle, "name": f"{country}-EXAMPLE-{tag}",
            "type": "ASSIGNED PA", "country": country,
            "events": [{"eventAction": "registration", "eventDate": "2005-09-01T10:12:44Z"},
                       {"eventAction": "last changed", "eventDate": "2023-11-20T08:31:02Z"}]}
    body["entities"] = [
        {"objectClassName": "entity", "handle": f"ORG-EX{tag[:8]}-RIPE", "roles": ["registrant"],
         "vcardArray": _vcard(["fn", {}, "text", f"Example ISP {country} Ltd"], ["kind", {}, "text", "org"])},
        {"objectClassName": "entity", "handle": f"AR{tag[:6]}-RIPE", "roles": ["abuse"],
         "vcardArray": _vcard(["fn", {}, "text", "Abuse contact"], ["kind", {}, "text", "group"],
                              ["email", {}, "text", f"abuse@isp-{country.lower()}.example"])},
    ]
    return body


def _parse(query: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address of `/ip/{ip}` or `/ip/{prefix}/{len}` (the network address of a CIDR query)."""
    try:
        if "/" in query:
            return ipaddress.ip_network(query, strict=False).network_address
        addr = ipaddress.ip_address(query)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


async def answer_ip(request: Request, reg: str, query: str) -> Response:
    """One registry's answer to an IP query: the network, a redirect, or an RFC 9083 error."""
    await gate(request, VENDOR, error_formatter)
    addr = _parse(query)
    if addr is None:
        return rdap_error(400, f"Invalid IP address or CIDR: {query[:64]}")
    if any(addr in n for n in RESERVED if n.version == addr.version):
        return rdap_error(404, f"{addr} is in reserved or private address space; no registration exists")
    st = sim_state(request)
    owner = holder(addr)
    if owner != reg:
        redirects: dict[str, int] = st.effect(VENDOR, "redirects", {})
        redirects[str(addr)] = redirects.get(str(addr), 0) + 1
        target = f"{_root(request)}{REGISTRIES[owner]['path']}/ip/{query}"
        return Response(status_code=302 if reg == "arin" else 301, headers={"Location": target})
    answered: dict[str, int] = st.effect(VENDOR, reg, {})
    answered[str(addr)] = answered.get(str(addr), 0) + 1
    base = _root(request) + REGISTRIES[reg]["path"]
    body = arin_network(addr, base) if reg == "arin" else ripe_network(addr, base)
    return rdap_json(body)


def help_doc(reg: str) -> dict[str, Any]:
    """The RFC 9082 `/help` document."""
    return {"rdapConformance": REGISTRIES[reg]["conformance"],
            "notices": [{"title": "Help", "description": ["RDAP service of the simulated registry. Query "
                                                          "/ip/{address} for network registrations."]}]}


@router.get("/help")
async def arin_help(request: Request) -> Response:
    """ARIN help."""
    await gate(request, VENDOR, error_formatter)
    return rdap_json(help_doc("arin"))


@router.get("/ip/{query:path}")
async def arin_ip(query: str, request: Request) -> Response:
    """ARIN IP network lookup."""
    return await answer_ip(request, "arin", query)


@router.get("/ripe/help")
async def ripe_help(request: Request) -> Response:
    """RIPE NCC help."""
    await gate(request, VENDOR, error_formatter)
    return rdap_json(help_doc("ripe"))


@router.get("/ripe/ip/{query:path}")
async def ripe_ip(query: str, request: Request) -> Response:
    """RIPE NCC IP network lookup."""
    return await answer_ip(request, "ripe", query)
