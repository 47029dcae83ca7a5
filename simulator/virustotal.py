"""Fake VirusTotal API v3 (`/virustotal/api/v3/...`): JSON:API objects, `x-apikey` auth, VT's error envelope.

Verdicts come from simulator/verdicts.py. Engine counts (`last_analysis_stats`):

| object        | malicious | suspicious | clean | unknown |
| ------------- | --------- | ---------- | ----- | ------- |
| url / domain  | 14 of 90  | 3 of 90    | 0/90  | 404     |
| file          | 45 of 72  | 3 of 72    | 0/72  | 404     |
| ip_address    | 8 of 90   | 2 of 90    | 0/90  | -       |

File stats carry VirusTotal's hyphenated keys (`confirmed-timeout`, `failure`, `type-unsupported`).

Every lookup is counted in `effects.virustotal.lookups` (indicator -> count). VirusTotal documents no
rate-limit headers: an injected 429 carries `Retry-After` only when the fault sets `retry_after`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulator import credentials
from simulator.core import gate, sim_state
from simulator.verdicts import verdict

PREFIX = "/virustotal"
VENDOR = "virustotal"
router = APIRouter()

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
HASH_RE = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9_-]{1,63}\.)+[a-z0-9-]{1,63}$")
ANALYSIS_DATE = 1715000000

ERROR_CODES = {400: "BadRequestError", 401: "WrongCredentialsError", 403: "ForbiddenError",
               404: "NotFoundError", 409: "AlreadyExistsError", 424: "FailedDependencyError",
               429: "QuotaExceededError", 503: "TransientError", 504: "DeadlineExceededError"}

ENGINES = ("Acronis", "ADMINUSLabs", "AILabs", "AlienVault", "Antiy-AVL", "Avast", "AVG", "Avira",
           "BitDefender", "Bkav", "CRDF", "CyRadar", "Dr.Web", "Emsisoft", "ESET", "Forcepoint",
           "Fortinet", "G-Data", "Google Safebrowsing", "Kaspersky", "Lionic", "Malwarebytes",
           "McAfee", "Microsoft", "Netcraft", "OpenPhish", "Phishtank", "Quttera", "Sophos",
           "Spamhaus", "Symantec", "Trustwave", "URLhaus", "Webroot", "ZeroCERT", "Zillya")

# Engine counts per (object kind, verdict), in the order engines are assigned categories.
STATS: dict[str, dict[str, dict[str, int]]] = {
    "url": {
        "malicious": {"malicious": 14, "suspicious": 1, "harmless": 60, "undetected": 15, "timeout": 0},
        "suspicious": {"malicious": 3, "suspicious": 2, "harmless": 70, "undetected": 15, "timeout": 0},
        "clean": {"malicious": 0, "suspicious": 0, "harmless": 75, "undetected": 15, "timeout": 0},
    },
    "file": {
        "malicious": {"malicious": 45, "suspicious": 0, "undetected": 22, "harmless": 0, "timeout": 0,
                      "confirmed-timeout": 1, "failure": 1, "type-unsupported": 3},
        "suspicious": {"malicious": 3, "suspicious": 1, "undetected": 63, "harmless": 0, "timeout": 0,
                       "confirmed-timeout": 1, "failure": 1, "type-unsupported": 3},
        "clean": {"malicious": 0, "suspicious": 0, "undetected": 67, "harmless": 0, "timeout": 0,
                  "confirmed-timeout": 1, "failure": 1, "type-unsupported": 3},
    },
    "ip": {
        "malicious": {"malicious": 8, "suspicious": 1, "harmless": 61, "undetected": 20, "timeout": 0},
        "suspicious": {"malicious": 2, "suspicious": 1, "harmless": 66, "undetected": 21, "timeout": 0},
        "clean": {"malicious": 0, "suspicious": 0, "harmless": 70, "undetected": 20, "timeout": 0},
    },
}
STATS["domain"] = STATS["url"]
RESULT_TEXT = {"url": {"malicious": "malicious", "suspicious": "suspicious", "harmless": "clean",
                       "undetected": "unrated", "timeout": "timeout"}}
TYPE_NAMES = {"url": "url", "file": "file", "ip": "ip_address", "domain": "domain"}
COLLECTIONS = {"url": "urls", "file": "files", "ip": "ip_addresses", "domain": "domains"}


def vt_error(status: int, message: str, headers: dict[str, str] | None = None,
             code: str | None = None) -> JSONResponse:
    """VirusTotal's error envelope `{"error": {"code", "message"}}`."""
    code = code or ERROR_CODES.get(status, "BadRequestError" if status < 500 else "TransientError")
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers or {})


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault the way VirusTotal does (no rate-limit headers beyond Retry-After)."""
    if status == 429:
        message = "Quota exceeded" if message == "injected fault" else message
    return vt_error(status, message, headers)


def check_key(request: Request) -> JSONResponse | None:
    """401 unless `x-apikey` is the demo key."""
    key = request.headers.get("x-apikey")
    if not key:
        return vt_error(401, "X-Apikey header is missing", code="AuthenticationRequiredError")
    if key != credentials.VT_API_KEY:
        return vt_error(401, "Wrong API key", code="WrongCredentialsError")
    return None


def count_lookup(request: Request, indicator: str) -> None:
    """Record one lookup of `indicator` (benchmarks read these counts)."""
    lookups: dict[str, int] = sim_state(request).effect(VENDOR, "lookups", {})
    lookups[indicator] = lookups.get(indicator, 0) + 1


def analysis_results(kind: str, stats: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per-engine `last_analysis_results` whose categories add up to `stats`."""
    out: dict[str, dict[str, Any]] = {}
    n = 0
    for category, count in stats.items():
        for _ in range(count):
            name = ENGINES[n] if n < len(ENGINES) else f"Engine{n + 1:02d}"
            n += 1
            if kind == "file":
                result = "Trojan.GenericKD.46021" if category == "malicious" else None
                out[name] = {"category": category, "engine_name": name, "engine_version": "1.0.0",
                             "engine_update": "20240506", "method": "blacklist", "result": result}
            else:
                out[name] = {"category": category, "engine_name": name, "method": "blacklist",
                             "result": RESULT_TEXT["url"].get(category, category)}
    return out


def vt_object(request: Request, kind: str, obj_id: str, v: str, extra: dict[str, Any]) -> JSONResponse:
    """A JSON:API `{"data": {...}}` answer for one object."""
    stats = dict(STATS[kind][v])
    reputation = {"malicious": -42, "suspicious": -5, "clean": 0}[v]
    attrs: dict[str, Any] = {
        "last_analysis_stats": stats, "last_analysis_results": analysis_results(kind, stats),
        "last_analysis_date": ANALYSIS_DATE, "reputation": reputation,
        "total_votes": {"harmless": 0 if v != "clean" else 4, "malicious": 3 if v == "malicious" else 0},
        "tags": ["phishing"] if v == "malicious" and kind in ("url", "domain") else [],
        **extra,
    }
    base = str(request.base_url).rstrip("/")
    link = f"{base}{PREFIX}/api/v3/{COLLECTIONS[kind]}/{obj_id}"
    return JSONResponse({"data": {"type": TYPE_NAMES[kind], "id": obj_id, "links": {"self": link},
                                  "attributes": attrs}})


def decode_url_id(url_id: str) -> str | None:
    """The URL in an unpadded URL-safe base64 identifier, or None."""
    try:
        raw = base64.urlsafe_b64decode(url_id + "=" * (-len(url_id) % 4))
        url = raw.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return url if "://" in url or "." in url else None


@router.get("/api/v3/files/upload_url")
async def upload_url(request: Request) -> Response:
    """A one-time URL for uploading a large file."""
    await gate(request, VENDOR, error_formatter)
    if (denied := check_key(request)) is not None:
        return denied
    base = str(request.base_url).rstrip("/")
    return JSONResponse({"data": f"{base}{PREFIX}/_ah/upload/sim-{sim_state(request).calls[VENDOR]}"})


@router.get("/api/v3/files/{file_id}")
async def get_file(file_id: str, request: Request) -> Response:
    """File report by MD5, SHA-1 or SHA-256."""
    await gate(request, VENDOR, error_formatter)
    if (denied := check_key(request)) is not None:
        return denied
    h = file_id.lower()
    if not HASH_RE.match(h):
        return vt_error(400, f'Invalid file identifier "{file_id}"', code="InvalidArgumentError")
    count_lookup(request, h)
    v = verdict(h)
    if v == "unknown":
        return vt_error(404, f'File "{file_id}" not found')
    md5 = h if len(h) == 32 else hashlib.md5(h.encode(), usedforsecurity=False).hexdigest()
    sha1 = h if len(h) == 40 else hashlib.sha1(h.encode(), usedforsecurity=False).hexdigest()
    sha256 = h if len(h) == 64 else hashlib.sha256(h.encode()).hexdigest()
    name = {"malicious": "invoice_0424.exe", "suspicious": "setup_helper.exe", "clean": "notepad.exe"}[v]
    extra = {"md5": md5, "sha1": sha1, "sha256": sha256, "size": 483328, "type_description": "Win32 EXE",
             "magic": "PE32 executable (GUI) Intel 80386, for MS Windows",
             "meaningful_name": name, "names": [name], "first_submission_date": ANALYSIS_DATE - 86400}
    return vt_object(request, "file", sha256, v, extra)


@router.get("/api/v3/urls/{url_id}")
async def get_url(url_id: str, request: Request) -> Response:
    """URL report by base64url identifier or by the SHA-256 of the URL."""
    await gate(request, VENDOR, error_formatter)
    if (denied := check_key(request)) is not None:
        return denied
    known: dict[str, str] = sim_state(request).effect(VENDOR, "urls", {})
    if SHA256_RE.match(url_id):
        sha256, url = url_id, known.get(url_id)
    else:
        url = decode_url_id(url_id)
        if url is None:
            return vt_error(400, f'Invalid URL identifier "{url_id[:80]}"', code="InvalidArgumentError")
        sha256 = hashlib.sha256(url.encode()).hexdigest()
        known[sha256] = url
    count_lookup(request, url or sha256)
    v = verdict(url or sha256)
    if v == "unknown":
        return vt_error(404, f'URL "{url_id[:80]}" not found')
    extra: dict[str, Any] = {
        "times_submitted": 7 if v != "clean" else 120, "last_submission_date": ANALYSIS_DATE,
        "last_http_response_code": 200, "title": "Sign in" if v == "malicious" else "Welcome",
        "categories": {"Forcepoint ThreatSeeker": "phishing and other frauds" if v == "malicious"
                       else "information technology"},
    }
    if url is not None:
        extra.update(url=url, last_final_url=url)
    return vt_object(request, "url", sha256, v, extra)


@router.get("/api/v3/ip_addresses/{ip}")
async def get_ip(ip: str, request: Request) -> Response:
    """IP address report."""
    await gate(request, VENDOR, error_formatter)
    if (denied := check_key(request)) is not None:
        return denied
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return vt_error(400, f'"{ip[:80]}" is not a valid IP address', code="InvalidArgumentError")
    count_lookup(request, str(addr))
    v = verdict(str(addr))
    if v == "unknown":  # verdicts never say "unknown" for an IP; kept for symmetry
        return vt_error(404, f'IP address "{ip}" not found')
    net = ipaddress.ip_network(f"{addr}/{24 if addr.version == 4 else 48}", strict=False)
    extra = {"asn": 64500 if v != "clean" else 15169,
             "as_owner": "EXAMPLE-HOSTING" if v != "clean" else "GOOGLE",
             "country": "CN" if v == "malicious" else "US", "continent": "AS" if v == "malicious" else "NA",
             "network": str(net), "whois": f"NetRange: {net}\nOrgName: Example Org\n"}
    return vt_object(request, "ip", str(addr), v, extra)


@router.get("/api/v3/domains/{domain}")
async def get_domain(domain: str, request: Request) -> Response:
    """Domain report."""
    await gate(request, VENDOR, error_formatter)
    if (denied := check_key(request)) is not None:
        return denied
    d = domain.lower().rstrip(".")
    if not DOMAIN_RE.match(d):
        return vt_error(400, f'"{domain[:80]}" is not a valid domain pattern', code="InvalidArgumentError")
    count_lookup(request, d)
    v = verdict(d)
    if v == "unknown":
        return vt_error(404, f'Domain "{domain}" not found')
    extra = {"registrar": "NameCheap, Inc." if v != "clean" else "MarkMonitor Inc.",
             "creation_date": ANALYSIS_DATE - (7 * 86400 if v == "malicious" else 3650 * 86400),
             "categories": {"Forcepoint ThreatSeeker": "phishing and other frauds" if v == "malicious"
                            else "information technology"},
             "last_dns_records": [{"type": "A", "ttl": 300,
                                   "value": "198.51.100.23" if v == "malicious" else "203.0.113.80"}],
             "whois": f"Domain Name: {d.upper()}\nRegistrar: Example Registrar\n"}
    return vt_object(request, "domain", d, v, extra)
