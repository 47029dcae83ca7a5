"""Fake MaxMind GeoIP2 Precision web service (`/maxmind/geoip/v2.1/{city|country}/{ip}`).

HTTP Basic `account_id:license_key` (simulator/credentials.py); answers
`application/vnd.maxmind.com-city+json` records, errors as `{"code", "error"}` with
`application/vnd.maxmind.com-error+json`; 429 and 5xx have no body (an injected 429 keeps `Retry-After`:
MaxMind documents no retry header of its own). An `Accept` header that matches neither JSON type gets 415.

Deterministic data, derived from the IP:

| IP                                           | answer                                           |
| -------------------------------------------- | ------------------------------------------------ |
| 81.2.69.160/27                               | London, GB (MaxMind's own documented example)    |
| 198.51.100.0/24                              | Moscow, RU                                       |
| 192.0.2.0/24                                 | Lagos, NG                                        |
| 203.0.113.0/24                               | 404 IP_ADDRESS_NOT_FOUND                         |
| private, loopback, link-local, CGNAT,        | 400 IP_ADDRESS_RESERVED                          |
| multicast, 0/8, 240/4 (and IPv6 equivalents) |                                                  |
| anything else                                | a stable pick from a table of cities (by sha256) |

`me` means the caller's address (so from loopback: IP_ADDRESS_RESERVED). Every answered lookup is counted
in `effects.maxmind.lookups` (ip -> count) and decrements `maxmind.queries_remaining`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import json
from typing import Any

from fastapi import APIRouter, Request, Response

from simulator import credentials
from simulator.core import gate, sim_state

PREFIX = "/maxmind"
VENDOR = "maxmind"
router = APIRouter()

QUERY_QUOTA = 10_000
CITY_CT = "application/vnd.maxmind.com-city+json; charset=UTF-8; version=2.1"
COUNTRY_CT = "application/vnd.maxmind.com-country+json; charset=UTF-8; version=2.1"
ERROR_CT = "application/vnd.maxmind.com-error+json; charset=UTF-8; version=2.0"
ACCEPTABLE = ("*/*", "application/*", "application/json", "application/vnd.maxmind.com-city+json",
              "application/vnd.maxmind.com-country+json")

RESERVED = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4", "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8",
)]
NOT_FOUND = ipaddress.ip_network("203.0.113.0/24")

MESSAGES = {
    "AUTHORIZATION_INVALID": "You have supplied an invalid MaxMind account ID and/or license key in the "
                             "Authorization header.",
    "ACCOUNT_ID_REQUIRED": "You have not supplied a MaxMind account ID in the Authorization header.",
    "LICENSE_KEY_REQUIRED": "You have not supplied a MaxMind license key in the Authorization header.",
    "INSUFFICIENT_FUNDS": "The license key you have provided is out of queries. Please purchase more queries "
                          "to use this service.",
    "PERMISSION_REQUIRED": "You do not have permission to use this service.",
}
FAULT_CODES = {400: "IP_ADDRESS_INVALID", 401: "AUTHORIZATION_INVALID", 402: "INSUFFICIENT_FUNDS",
               403: "PERMISSION_REQUIRED", 404: "IP_ADDRESS_NOT_FOUND"}

CONTINENTS = {"EU": (6255148, "Europe"), "AF": (6255146, "Africa"), "NA": (6255149, "North America"),
              "AS": (6255147, "Asia"), "SA": (6255150, "South America"), "OC": (6255151, "Oceania")}

# name, geoname_id, continent, (country iso, geoname_id, name), (subdivision iso, geoname_id, name),
# latitude, longitude, accuracy radius km, time zone, postal code
CITIES: dict[str, tuple[Any, ...]] = {
    "London": ("London", 2643743, "EU", ("GB", 2635167, "United Kingdom"), ("ENG", 6269131, "England"),
               51.5142, -0.0931, 100, "Europe/London", "EC2V"),
    "Moscow": ("Moscow", 524901, "EU", ("RU", 2017370, "Russia"), ("MOW", 524894, "Moscow"),
               55.7527, 37.6172, 20, "Europe/Moscow", "101000"),
    "Lagos": ("Lagos", 2332459, "AF", ("NG", 2328926, "Nigeria"), ("LA", 2332453, "Lagos"),
              6.4541, 3.3947, 50, "Africa/Lagos", None),
    "New York": ("New York", 5128581, "NA", ("US", 6252001, "United States"), ("NY", 5128638, "New York"),
                 40.7128, -74.006, 10, "America/New_York", "10001"),
    "Tokyo": ("Tokyo", 1850147, "AS", ("JP", 1861060, "Japan"), ("13", 1850144, "Tokyo"),
              35.6895, 139.6917, 20, "Asia/Tokyo", "100-0001"),
    "Sao Paulo": ("São Paulo", 3448439, "SA", ("BR", 3469034, "Brazil"), ("SP", 3448433, "São Paulo"),
                  -23.5475, -46.6361, 50, "America/Sao_Paulo", "01000"),
    "Sydney": ("Sydney", 2147714, "OC", ("AU", 2077456, "Australia"), ("NSW", 2155400, "New South Wales"),
               -33.8688, 151.2093, 20, "Australia/Sydney", "2000"),
    "Frankfurt": ("Frankfurt am Main", 2925533, "EU", ("DE", 2921044, "Germany"), ("HE", 2905330, "Hesse"),
                  50.1155, 8.6842, 20, "Europe/Berlin", "60311"),
    "Toronto": ("Toronto", 6167865, "NA", ("CA", 6251999, "Canada"), ("ON", 6093943, "Ontario"),
                43.7001, -79.4163, 20, "America/Toronto", "M5H"),
}
FIXED = [(ipaddress.ip_network("81.2.69.160/27"), "London"),
         (ipaddress.ip_network("198.51.100.0/24"), "Moscow"),
         (ipaddress.ip_network("192.0.2.0/24"), "Lagos")]
PICKABLE = [k for k in CITIES if k not in ("London", "Moscow", "Lagos")]


def mm_error(status: int, code: str, error: str, headers: dict[str, str] | None = None) -> Response:
    """MaxMind's error envelope."""
    return Response(json.dumps({"code": code, "error": error}), status_code=status, media_type=ERROR_CT,
                    headers=headers or {})


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault: 429 and 5xx without a body, others in the `{"code", "error"}` envelope."""
    if status == 429 or status >= 500:
        return Response(status_code=status, headers=headers)
    code = FAULT_CODES.get(status, "INVALID_REQUEST")
    return mm_error(status, code, MESSAGES.get(code, message), headers)


def check_auth(request: Request) -> Response | None:
    """The 401 MaxMind answers for missing or wrong Basic credentials, or None when they are right."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    try:
        user, _, key = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user = key = ""
    if scheme.lower() != "basic" or not user:
        return mm_error(401, "ACCOUNT_ID_REQUIRED", MESSAGES["ACCOUNT_ID_REQUIRED"])
    if not key:
        return mm_error(401, "LICENSE_KEY_REQUIRED", MESSAGES["LICENSE_KEY_REQUIRED"])
    if user != credentials.MAXMIND_ACCOUNT_ID or key != credentials.MAXMIND_LICENSE_KEY:
        return mm_error(401, "AUTHORIZATION_INVALID", MESSAGES["AUTHORIZATION_INVALID"])
    return None


def accept_ok(request: Request) -> bool:
    """Whether the `Accept` header (if any) admits one of MaxMind's JSON types."""
    accept = request.headers.get("accept")
    if not accept:
        return True
    ranges = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    return any(r in ACCEPTABLE for r in ranges)


def city_of(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str]:
    """`(city key, traits.network)` for a public address."""
    for net, key in FIXED:
        if addr in net:
            return key, str(net)
    prefix = 24 if addr.version == 4 else 48
    network = ipaddress.ip_network(f"{addr}/{prefix}", strict=False)
    digest = hashlib.sha256(str(network).encode()).digest()
    return PICKABLE[digest[0] % len(PICKABLE)], str(network)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def record(addr: IPAddress, service: str, remaining: int) -> dict[str, Any]:
    """A GeoIP2 City (or Country) record; keys with empty values are left out like MaxMind does."""
    key, network = city_of(addr)
    name, city_id, cont, (iso, country_id, country), (sub_iso, sub_id, sub), lat, lon, radius, tz, postal = (
        CITIES[key])
    cont_id, cont_name = CONTINENTS[cont]
    country_rec = {"geoname_id": country_id, "iso_code": iso, "names": {"en": country}}
    rec: dict[str, Any] = {
        "continent": {"code": cont, "geoname_id": cont_id, "names": {"en": cont_name}},
        "country": country_rec,
        "registered_country": dict(country_rec),
        "traits": {"ip_address": str(addr), "network": network},
        "maxmind": {"queries_remaining": remaining},
    }
    if service == "city":
        rec["city"] = {"geoname_id": city_id, "names": {"en": name}}
        rec["location"] = {"accuracy_radius": radius, "latitude": lat, "longitude": lon, "time_zone": tz}
        rec["subdivisions"] = [{"geoname_id": sub_id, "iso_code": sub_iso, "names": {"en": sub}}]
        if postal:
            rec["postal"] = {"code": postal}
    return rec


async def lookup(request: Request, service: str, ip: str) -> Response:
    """Shared body of the city and country endpoints."""
    await gate(request, VENDOR, error_formatter)
    denied = check_auth(request)
    if denied is not None:
        return denied
    if not accept_ok(request):
        return Response(status_code=415)
    raw = request.client.host if ip == "me" and request.client else ip
    try:
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return mm_error(400, "IP_ADDRESS_INVALID", f"The value \"{raw[:64]}\" is not a valid IP address.")
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    if any(addr in n for n in RESERVED if n.version == addr.version):
        return mm_error(400, "IP_ADDRESS_RESERVED",
                        f"The value {addr} belongs to a reserved or private range.")
    if addr in NOT_FOUND:
        return mm_error(404, "IP_ADDRESS_NOT_FOUND", f"The address {addr} is not in the database.")
    lookups: dict[str, int] = sim_state(request).effect(VENDOR, "lookups", {})
    used = sum(lookups.values())
    if used >= QUERY_QUOTA:
        return mm_error(402, "INSUFFICIENT_FUNDS", MESSAGES["INSUFFICIENT_FUNDS"])
    lookups[str(addr)] = lookups.get(str(addr), 0) + 1
    body = record(addr, service, QUERY_QUOTA - used - 1)
    return Response(json.dumps(body), media_type=CITY_CT if service == "city" else COUNTRY_CT)


@router.get("/geoip/v2.1/city/{ip}")
async def city(ip: str, request: Request) -> Response:
    """GeoIP2 City: continent, country, city, subdivisions, location, postal, traits."""
    return await lookup(request, "city", ip)


@router.get("/geoip/v2.1/country/{ip}")
async def country(ip: str, request: Request) -> Response:
    """GeoIP2 Country: continent, country, registered country, traits."""
    return await lookup(request, "country", ip)
