"""Fake CrowdStrike Falcon API (`/crowdstrike/...`): OAuth2 client credentials, the
`{"meta", "resources", "errors"}` envelope, `X-Ratelimit-Limit/Remaining` on every answer and
`X-Ratelimit-Retryafter` (an epoch timestamp) on a 429.

Devices: a fixed table (`DEVICES`) plus every host name matching `^[A-Za-z0-9-]+$` that starts with
`WORKSTATION-`, `SRV-` or `LAPTOP-` (device id = md5 of the lower-cased host name). Host names match
case-insensitively, as in Falcon's FQL.

Side effects (GET /_sim/state):
    effects.crowdstrike.contained      set of host names currently contained
    effects.crowdstrike.contain_calls  {hostname: number of `contain` actions received}
    effects.crowdstrike.lift_calls     {hostname: number of `lift_containment` actions received}
    effects.crowdstrike.tokens_issued  {client_id: number of tokens issued}
    effects.crowdstrike.seen_hosts     generated host names queried so far (their ids resolve afterwards)
    effects.crowdstrike.token_expiry   {sha256(token): epoch expiry} of the issued tokens
    effects.crowdstrike.rate_window    the one-minute window behind X-Ratelimit-Remaining

The 6,000/min account limit is reported in the headers but not enforced: inject a 429 fault, or set a
quota (`POST /_sim/quota {"crowdstrike": N}`), to test throttling. Wrong client credentials get
Falcon's 403 "Failed to issue access token"; an unknown or expired bearer token gets 401
"access denied, invalid bearer token".
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulator import credentials
from simulator.core import gate, sim_state

PREFIX = "/crowdstrike"
VENDOR = "crowdstrike"
router = APIRouter()

CID = "0123456789abcdef0123456789abcdef"
TOKEN_TTL_S = 1799
ACCOUNT_LIMIT = 6000  # per minute, per CID
UNAUTH_LIMIT = 15  # per minute, per source IP, for calls without a valid token
DEFAULT_RETRY_S = 60
GENERATED_PREFIXES = ("WORKSTATION-", "SRV-", "LAPTOP-")
GENERATED_RE = re.compile(r"^[A-Za-z0-9-]+$")
FILTER_TERM_RE = re.compile(r"\s*hostname\s*:\s*'((?:[^'\\]|\\.)*)'\s*(?:,|$)")
GENERIC_MESSAGES = ("injected fault", "quota exceeded")  # simulator wording, replaced by Falcon's
MESSAGES = {401: "access denied, invalid bearer token", 403: "access denied, authorization failed",
            429: "API rate limit exceeded.", 500: "Internal Server Error", 503: "Service Unavailable"}


def _fixed(hostname: str, **kw: Any) -> dict[str, Any]:
    return {"hostname": hostname, **kw}


DEVICES: list[dict[str, Any]] = [
    _fixed("DC01", platform_name="Windows", os_version="Windows Server 2019",
           product_type_desc="Domain Controller", local_ip="10.0.0.10", machine_domain="corp.example.com"),
    _fixed("web-prod-01", platform_name="Linux", os_version="Ubuntu 22.04", product_type_desc="Server",
           local_ip="10.0.1.21", machine_domain=""),
    _fixed("MacBook-jdoe", platform_name="Mac", os_version="Sonoma (14)", product_type_desc="Workstation",
           local_ip="10.0.2.33", machine_domain=""),
]


def device_id(hostname: str) -> str:
    """Falcon agent id of a simulated host: md5 of the lower-cased host name."""
    return hashlib.md5(hostname.lower().encode(), usedforsecurity=False).hexdigest()


def make_device(hostname: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A full device record, deterministic per host name."""
    aid = device_id(hostname)
    h = bytes.fromhex(aid)
    upper = hostname.upper()
    if upper.startswith("SRV-"):
        kind = {"os_version": "Windows Server 2022", "product_type_desc": "Server"}
    elif upper.startswith("LAPTOP-"):
        kind = {"os_version": "Windows 11", "product_type_desc": "Workstation"}
    else:
        kind = {"os_version": "Windows 10", "product_type_desc": "Workstation"}
    dev = {
        "device_id": aid, "cid": CID, "hostname": hostname, "agent_version": "7.10.17706.0",
        "local_ip": f"10.{h[0] % 250}.{h[1]}.{h[2] % 254 + 1}",
        "external_ip": f"203.0.113.{h[3] % 254 + 1}",
        "mac_address": "-".join(f"{b:02x}" for b in h[4:10]),
        "machine_domain": "corp.example.com", "first_seen": "2024-01-15T09:12:44Z",
        "last_seen": "2024-05-01T11:58:02Z", "modified_timestamp": "2024-05-01T11:58:10Z",
        "platform_id": "0", "platform_name": "Windows", "status": "normal", "tags": [], **kind,
    }
    dev.update(extra or {})
    return dev


def lookup(hostname: str) -> dict[str, Any] | None:
    """The device called `hostname` (case-insensitive), or None."""
    for d in DEVICES:
        if d["hostname"].lower() == hostname.lower():
            return make_device(d["hostname"], {k: v for k, v in d.items() if k != "hostname"})
    if GENERATED_RE.match(hostname) and hostname.upper().startswith(GENERATED_PREFIXES):
        return make_device(hostname.upper())
    return None


def envelope(resources: list[Any], *, errors: list[dict[str, Any]] | None = None, status: int = 200,
             headers: dict[str, str] | None = None, powered_by: str = "device-api",
             pagination: dict[str, int] | None = None, writes: int | None = None) -> JSONResponse:
    """Falcon's envelope."""
    meta: dict[str, Any] = {"query_time": 0.004, "powered_by": powered_by, "trace_id": str(uuid.uuid4())}
    if pagination is not None:
        meta["pagination"] = pagination
    if writes is not None:
        meta["writes"] = {"resources_affected": writes}
    return JSONResponse({"meta": meta, "resources": resources, "errors": errors or []},
                        status_code=status, headers=headers or {})


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault in Falcon's envelope; a Retry-After becomes X-Ratelimit-Retryafter (epoch)."""
    headers = dict(headers)
    retry = headers.pop("Retry-After", None)
    headers.update({"X-Ratelimit-Limit": str(UNAUTH_LIMIT if status == 401 else ACCOUNT_LIMIT),
                    "X-Ratelimit-Remaining": "0" if status == 429 else str(ACCOUNT_LIMIT - 1)})
    if status == 429:
        headers["X-Ratelimit-Retryafter"] = str(int(time.time()) + int(retry or DEFAULT_RETRY_S))
    if message in GENERIC_MESSAGES:
        message = MESSAGES.get(status, message)
    return JSONResponse({"meta": {"query_time": 0.001, "powered_by": "crowdstrike-api-gateway",
                                  "trace_id": str(uuid.uuid4())},
                         "errors": [{"code": status, "message": message}]},
                        status_code=status, headers=headers)


def rate_headers(request: Request) -> dict[str, str]:
    """X-Ratelimit-Limit / -Remaining over a fixed one-minute window (the limit is the simulator's
    per-minute quota for this vendor when one is set, else Falcon's 6,000)."""
    st = sim_state(request)
    limit = getattr(st, "quota_per_minute", {}).get(VENDOR) or ACCOUNT_LIMIT
    window = st.effect(VENDOR, "rate_window", {"minute": 0, "count": 0})
    minute = int(time.time() // 60)
    if window["minute"] != minute:
        window.update(minute=minute, count=0)
    window["count"] += 1
    return {"X-Ratelimit-Limit": str(limit), "X-Ratelimit-Remaining": str(max(limit - window["count"], 0))}


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def authorize(request: Request) -> dict[str, str]:
    """Gate the call and check its bearer token; returns the rate headers for the answer.

    Raises:
        FaultResponse: injected fault.
        _Denied: no valid token (answered by the route as Falcon's 401).
    """
    await gate(request, VENDOR, error_formatter)
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    tokens = sim_state(request).effect(VENDOR, "token_expiry", {})
    expiry = tokens.get(_token_key(token.strip())) if scheme.lower() == "bearer" else None
    if expiry is None or expiry < time.time():
        raise _Denied()
    return rate_headers(request)


class _Denied(Exception):  # noqa: N818 - control flow
    pass


def denied() -> JSONResponse:
    """Falcon's 401 for a missing, unknown or expired token."""
    return JSONResponse({"meta": {"query_time": 1.27e-07, "powered_by": "crowdstrike-api-gateway",
                                  "trace_id": str(uuid.uuid4())},
                         "errors": [{"code": 401, "message": MESSAGES[401]}]}, status_code=401,
                        headers={"X-Ratelimit-Limit": str(UNAUTH_LIMIT),
                                 "X-Ratelimit-Remaining": str(UNAUTH_LIMIT - 1)})


@router.post("/oauth2/token")
async def token(request: Request) -> Response:
    """Client-credentials token: form `client_id`, `client_secret` [, `member_cid`] -> 201."""
    await gate(request, VENDOR, error_formatter)
    form = await request.form()
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    headers = {"X-Ratelimit-Limit": "300", "X-Ratelimit-Remaining": "299", "X-Cs-Region": "us-1"}
    ok = secrets.compare_digest(client_id.encode(), credentials.CS_CLIENT_ID.encode()) and \
        secrets.compare_digest(secret.encode(), credentials.CS_CLIENT_SECRET.encode())
    if not ok:
        err = {"code": 403, "message": "Failed to issue access token - Not Authorized"}
        return envelope([], errors=[err], status=403, headers=headers, powered_by="csam")
    access_token = secrets.token_urlsafe(48)
    st = sim_state(request)
    st.effect(VENDOR, "token_expiry", {})[_token_key(access_token)] = time.time() + TOKEN_TTL_S
    issued = st.effect(VENDOR, "tokens_issued", {})
    issued[client_id] = issued.get(client_id, 0) + 1
    return JSONResponse({"access_token": access_token, "token_type": "bearer", "expires_in": TOKEN_TTL_S},
                        status_code=201, headers=headers)


def _with_status(request: Request, dev: dict[str, Any]) -> dict[str, Any]:
    if dev["hostname"] in sim_state(request).effect(VENDOR, "contained", set()):
        dev["status"] = "contained"
    return dev


@router.get("/devices/queries/devices/v1")
async def query_devices(request: Request, filter: str = "", limit: int = 100, offset: int = 0) -> Response:
    """Device ids matching an FQL filter (only `hostname:'X'` terms, OR-ed with commas)."""
    try:
        headers = await authorize(request)
    except _Denied:
        return denied()
    if not filter:
        ids = [device_id(d["hostname"]) for d in DEVICES]
    else:
        pos, names = 0, []
        while pos < len(filter):
            m = FILTER_TERM_RE.match(filter, pos)
            if not m or m.end() == pos:
                return envelope([], errors=[{"code": 400, "message": f"Invalid filter: {filter[:100]}"}],
                                status=400, headers=headers)
            names.append(re.sub(r"\\(.)", r"\1", m.group(1)))
            pos = m.end()
        devices = [d for d in (lookup(n) for n in names) if d is not None]
        sim_state(request).effect(VENDOR, "seen_hosts", set()).update(d["hostname"] for d in devices)
        ids = list(dict.fromkeys(d["device_id"] for d in devices))
    page = ids[offset:offset + max(min(limit, 5000), 1)]
    return envelope(page, headers=headers, pagination={"offset": offset, "limit": limit, "total": len(ids)})


def _by_id(request: Request, aid: str) -> dict[str, Any] | None:
    # Generated hosts are unbounded: an id resolves once its host name has been queried (as a client must).
    names = [d["hostname"] for d in DEVICES] + sorted(sim_state(request).effect(VENDOR, "seen_hosts", set()))
    for n in names:
        if device_id(n) == aid.lower():
            return lookup(n)
    return None


@router.get("/devices/entities/devices/v2")
async def device_details(request: Request) -> Response:
    """Device records for `ids=` (repeatable)."""
    try:
        headers = await authorize(request)
    except _Denied:
        return denied()
    ids = request.query_params.getlist("ids")
    found = []
    for aid in ids:
        dev = _by_id(request, aid)
        if dev is not None:
            found.append(_with_status(request, dev))
    if not found:
        err = {"code": 404, "message": "Device not found."}
        return envelope([], errors=[err], status=404, headers=headers)
    return envelope(found, headers=headers)


@router.post("/devices/entities/devices-actions/v2")
async def device_action(request: Request, action_name: str = "") -> Response:
    """`contain` / `lift_containment` for `{"ids": [...]}` -> 202 with one resource per id."""
    # Read the body first: like the real API, a fully sent request is acted on even if the client
    # disconnects during the (simulated) latency.
    await request.body()
    try:
        headers = await authorize(request)
    except _Denied:
        return denied()
    if action_name not in ("contain", "lift_containment", "hide_host", "unhide_host"):
        return envelope([], errors=[{"code": 400, "message": f"Invalid action_name: {action_name[:50]}"}],
                        status=400, headers=headers)
    try:
        body = await request.json()
        ids = body["ids"]
        assert isinstance(ids, list) and 0 < len(ids) <= 100
    except Exception:  # noqa: BLE001 - any malformed body is the client's error
        err = {"code": 400, "message": 'Invalid request body: expected {"ids": [...]}'}
        return envelope([], errors=[err], status=400, headers=headers)
    st = sim_state(request)
    contained = st.effect(VENDOR, "contained", set())
    calls = st.effect(VENDOR, "contain_calls" if action_name == "contain" else "lift_calls", {})
    resources, errors = [], []
    for aid in ids:
        dev = _by_id(request, str(aid))
        if dev is None:
            errors.append({"code": 404, "message": f"Device {str(aid)[:40]} not found"})
            continue
        host = dev["hostname"]
        calls[host] = calls.get(host, 0) + 1
        if action_name == "contain":
            contained.add(host)
        elif action_name == "lift_containment":
            contained.discard(host)
        resources.append({"id": dev["device_id"], "path": ""})
    status = 202 if resources else 404
    return envelope(resources, errors=errors, status=status, headers=headers, writes=len(resources))
