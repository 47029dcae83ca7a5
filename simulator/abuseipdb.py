"""Fake AbuseIPDB APIv2 (`/abuseipdb/api/v2/check`): `Key` header auth, `{"errors": [...]}` envelope,
`X-RateLimit-*` headers on every answer and `Retry-After` + `X-RateLimit-Reset` (epoch) on a 429.

Verdicts come from simulator/verdicts.py: malicious -> score 100, 42 reports, CN; suspicious -> 35,
6 reports, RU; clean -> 0, no reports (private addresses: `isPublic` false, no country).
Every check is counted in `effects.abuseipdb.checks` (ip -> count).
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse

from simulator import credentials
from simulator.core import gate, sim_state
from simulator.verdicts import verdict

PREFIX = "/abuseipdb"
VENDOR = "abuseipdb"
router = APIRouter()

# Addresses AbuseIPDB reports as not public. The documentation ranges (192.0.2.0/24, 198.51.100.0/24,
# 203.0.113.0/24) stand in for internet hosts in the demo, so they count as public here.
PRIVATE_NETS = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.168.0.0/16", "::1/128", "::/128", "fc00::/7", "fe80::/10")]
DAILY_LIMIT = 1000
DEFAULT_RETRY_S = 60  # when a 429 fault names no delay
AUTH_DETAIL = ("Authentication failed. Your API key is either missing, incorrect, or revoked. "
               "Note: The APIv2 key differs from the APIv1 key.")
THROTTLE_DETAIL = ("Daily rate limit of 1000 requests exceeded for this endpoint. "
                   "See headers for additional details.")

PROFILES: dict[str, dict[str, Any]] = {
    "malicious": {"abuseConfidenceScore": 100, "totalReports": 42, "numDistinctUsers": 17,
                  "countryCode": "CN",
                  "countryName": "China", "usageType": "Data Center/Web Hosting/Transit",
                  "isp": "Example Cloud Computing", "domain": "example-cloud.cn",
                  "lastReportedAt": "2024-05-01T12:00:00+00:00", "categories": [18, 22]},
    "suspicious": {"abuseConfidenceScore": 35, "totalReports": 6, "numDistinctUsers": 4, "countryCode": "RU",
                   "countryName": "Russian Federation", "usageType": "Fixed Line ISP",
                   "isp": "Example Telecom", "domain": "example-telecom.ru",
                   "lastReportedAt": "2024-04-20T08:30:00+00:00", "categories": [14]},
    "clean": {"abuseConfidenceScore": 0, "totalReports": 0, "numDistinctUsers": 0, "countryCode": "US",
              "countryName": "United States of America", "usageType": "Content Delivery Network",
              "isp": "Example CDN", "domain": "example-cdn.com", "lastReportedAt": None, "categories": []},
}


def rate_headers(request: Request, remaining: int | None = None) -> dict[str, str]:
    """`X-RateLimit-Limit` / `X-RateLimit-Remaining` as AbuseIPDB sends on every answer."""
    if remaining is None:
        used = sum(sim_state(request).effect(VENDOR, "checks", {}).values())
        remaining = max(DAILY_LIMIT - used, 0)
    return {"X-RateLimit-Limit": str(DAILY_LIMIT), "X-RateLimit-Remaining": str(remaining)}


def abuse_error(status: int, detail: str, headers: dict[str, str] | None = None,
                parameter: str | None = None) -> JSONResponse:
    """AbuseIPDB's error envelope."""
    err: dict[str, Any] = {"detail": detail, "status": status}
    if parameter:
        err["source"] = {"parameter": parameter}
    return JSONResponse({"errors": [err]}, status_code=status, headers=headers or {})


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault; a 429 carries Retry-After (seconds) AND X-RateLimit-Reset (epoch)."""
    headers = dict(headers)
    if status == 429:
        delay = int(headers.get("Retry-After", DEFAULT_RETRY_S))
        headers.update({"Retry-After": str(delay), "X-RateLimit-Reset": str(int(time.time()) + delay),
                        "X-RateLimit-Limit": str(DAILY_LIMIT), "X-RateLimit-Remaining": "0"})
        message = THROTTLE_DETAIL if message == "injected fault" else message
    return abuse_error(status, message, headers)


def wants_json(request: Request) -> bool:
    """AbuseIPDB renders errors as HTML unless the client asks for JSON."""
    return "json" in request.headers.get("accept", "")


def html_error(status: int, detail: str) -> HTMLResponse:
    """The HTML error page a client gets without `Accept: application/json`."""
    return HTMLResponse(f"<!DOCTYPE html><html><head><title>AbuseIPDB</title></head><body><h1>{status}</h1>"
                        f"<p>{detail}</p></body></html>", status_code=status)


@router.get("/api/v2/check")
async def check(request: Request) -> Response:
    """CHECK endpoint: `?ipAddress=<ip>&maxAgeInDays=<1-365>[&verbose]`."""
    await gate(request, VENDOR, error_formatter)
    fail = abuse_error if wants_json(request) else (lambda s, d, *a, **k: html_error(s, d))
    if request.headers.get("key") != credentials.ABUSEIPDB_API_KEY:
        return fail(401, AUTH_DETAIL)
    q = request.query_params
    try:
        addr = ipaddress.ip_address(q.get("ipAddress", "").strip())
    except ValueError:
        return fail(422, "The ip address must be a valid IPv4 or IPv6 address (e.g. 8.8.8.8 or "
                         "2001:4860:4860::8888).", None, "ipAddress")
    try:
        days = int(q.get("maxAgeInDays", "30"))
    except ValueError:
        days = 0
    if not 1 <= days <= 365:
        return fail(422, "The max age in days must be between 1 and 365.", None, "maxAgeInDays")
    ip = str(addr)
    checks: dict[str, int] = sim_state(request).effect(VENDOR, "checks", {})
    checks[ip] = checks.get(ip, 0) + 1
    public = not any(addr in net for net in PRIVATE_NETS if net.version == addr.version)
    profile = dict(PROFILES[verdict(ip) if verdict(ip) in PROFILES else "clean"])
    categories = profile.pop("categories")
    if not public:
        profile.update(countryCode=None, countryName=None, usageType="Reserved", isp="Private network",
                       domain=None)
    data: dict[str, Any] = {"ipAddress": ip, "isPublic": public, "ipVersion": addr.version,
                            "isWhitelisted": False if public else None, "hostnames": [], "isTor": False,
                            **profile}
    if "verbose" not in q:
        data.pop("countryName")
    else:
        data["reports"] = [
            {"reportedAt": profile["lastReportedAt"], "comment": "SSH brute force attempts",
             "categories": categories, "reporterId": i + 1, "reporterCountryCode": "US",
             "reporterCountryName": "United States of America"}
            for i in range(min(profile["totalReports"], 5))
        ]
    return JSONResponse({"data": data}, headers=rate_headers(request))
