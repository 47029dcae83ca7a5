"""Fake ServiceNow Table API (`/servicenow/api/now/table/{table}[/{sys_id}]`): Basic auth, records whose
fields are all strings, the `{"error": {"message", "detail"}, "status": "failure"}` envelope, and
`Retry-After` (seconds) plus `X-RateLimit-*` on a 429.

Supported: POST (insert -> 201), GET one, GET a query (`sysparm_query` with `field=value` and
`field!=value` terms joined by `^`, `ORDERBY`/`ORDERBYDESC` terms; `sysparm_limit`, `sysparm_offset`,
`sysparm_fields`; `X-Total-Count` header), PATCH/PUT. Tables: incident (INC), problem (PRB),
change_request (CHG), sc_task (SCTASK), sn_si_incident (SIR); others answer 400 "Invalid table".
Priority is derived from urgency x impact with ServiceNow's default lookup.

Side effects (GET /_sim/state):
    effects.servicenow.incidents   {number: record} of the incident table
    effects.servicenow.<table>     {number: record} of the other tables
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulator import credentials
from simulator.core import gate, sim_state

PREFIX = "/servicenow"
VENDOR = "servicenow"
router = APIRouter()

TABLES = {"incident": "INC", "problem": "PRB", "change_request": "CHG", "sc_task": "SCTASK",
          "sn_si_incident": "SIR"}
FIRST_NUMBER = 10001
HOURLY_LIMIT = 5000
DEFAULT_RETRY_S = 60
USER_SYS_ID = "6816f79cc0a8016401c5a33be04be441"
# ServiceNow's default priority lookup: (urgency, impact) -> priority.
PRIORITY = {("1", "1"): "1", ("1", "2"): "2", ("2", "1"): "2", ("1", "3"): "3", ("2", "2"): "3",
            ("3", "1"): "3", ("2", "3"): "4", ("3", "2"): "4", ("3", "3"): "5"}
MESSAGES = {401: ("User Not Authenticated", "Required to provide Auth information"),
            403: ("Operation Failed", "ACL Exception Insert Failed due to security constraints"),
            429: ("Rate limit exceeded", "Too many requests; retry after the delay in Retry-After"),
            500: ("Internal Server Error", None), 503: ("Service Unavailable", None)}
TERM_RE = re.compile(r"^([a-z0-9_.]+)(!=|=)(.*)$", re.S)


def sn_error(status: int, message: str, detail: str | None = None,
             headers: dict[str, str] | None = None) -> JSONResponse:
    """ServiceNow's error envelope."""
    return JSONResponse({"error": {"message": message, "detail": detail}, "status": "failure"},
                        status_code=status, headers=headers or {})


def error_formatter(status: int, message: str, headers: dict[str, str]) -> Response:
    """Render an injected fault; a 429 keeps Retry-After (seconds) and adds X-RateLimit-*."""
    headers = dict(headers)
    detail = None
    if message in ("injected fault", "quota exceeded") and status in MESSAGES:
        message, detail = MESSAGES[status]
    if status == 429:
        delay = int(headers.get("Retry-After", DEFAULT_RETRY_S))
        headers.update({"Retry-After": str(delay), "X-RateLimit-Limit": str(HOURLY_LIMIT),
                        "X-RateLimit-Reset": str(int(time.time()) + delay),
                        "X-RateLimit-Rule": "0d8f6a2c1b3e4f5a6b7c8d9e0f1a2b3c"})
    return sn_error(status, message, detail, headers)


def _authenticated(request: Request) -> bool:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return secrets.compare_digest(user.encode(), credentials.SNOW_USERNAME.encode()) and \
        secrets.compare_digest(password.encode(), credentials.SNOW_PASSWORD.encode())


async def check(request: Request, table: str) -> Response | None:
    """Gate the call, check Basic auth and the table; an error response, or None to go on."""
    # The instance has the whole request before it works on it: an insert finishes even when the
    # client gave up waiting for the answer (what makes a retried create dangerous).
    await request.body()
    await gate(request, VENDOR, error_formatter)
    if not _authenticated(request):
        return sn_error(401, *MESSAGES[401], headers={"WWW-Authenticate": 'BASIC realm="Service-now"'})
    if table not in TABLES:
        return sn_error(400, f"Invalid table {table[:80]}")
    return None


def records(request: Request, table: str) -> dict[str, dict[str, Any]]:
    """The table's records keyed by number."""
    return sim_state(request).effect(VENDOR, "incidents" if table == "incident" else table, {})  # type: ignore[no-any-return]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _strings(body: dict[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in body.items():
        if isinstance(v, bool):
            v = "true" if v else "false"
        elif isinstance(v, dict):
            v = str(v.get("value", ""))
        elif v is None:
            v = ""
        out[str(k)] = str(v)
    return out


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + PREFIX


def _view(request: Request, rec: dict[str, Any]) -> dict[str, Any]:
    """A record as the API shows it: references as {link, value} unless excluded; only sysparm_fields."""
    out = dict(rec)
    if request.query_params.get("sysparm_exclude_reference_link") != "true":
        link = f"{_base(request)}/api/now/table/sys_user/{rec['opened_by']}"
        out["opened_by"] = {"link": link, "value": rec["opened_by"]}
    fields = request.query_params.get("sysparm_fields")
    if fields:
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        out = {f: out.get(f, "") for f in wanted}
    return out


def _find(request: Request, table: str, sys_id: str) -> dict[str, Any] | None:
    return next((r for r in records(request, table).values() if r["sys_id"] == sys_id), None)


def _matches(rec: dict[str, Any], terms: list[tuple[str, str, str]]) -> bool:
    for field, op, value in terms:
        equal = str(rec.get(field, "")) == value
        if equal != (op == "="):
            return False
    return True


def _not_found() -> JSONResponse:
    return sn_error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")


async def _json_body(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return sn_error(400, "Exception while reading request", f"Invalid JSON: {str(e)[:80]}")
    if not isinstance(body, dict):
        return sn_error(400, "Exception while reading request", "The payload is not a JSON object")
    return body


@router.post("/api/now/table/{table}")
async def insert(request: Request, table: str) -> Response:
    """Insert a record -> 201 `{"result": {...}}`."""
    if (err := await check(request, table)) is not None:
        return err
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    st = sim_state(request)
    counters = st.effect(VENDOR, "counters", {})
    n = counters.get(table, FIRST_NUMBER)
    counters[table] = n + 1
    now = _now()
    rec: dict[str, Any] = {"short_description": "", "description": "", "urgency": "3", "impact": "3",
                           "correlation_id": "", "correlation_display": "", "assignment_group": "",
                           "work_notes": "", "close_code": "", "close_notes": ""}
    rec |= _strings(body)
    rec |= {"sys_id": uuid.uuid4().hex, "number": f"{TABLES[table]}{n:07d}", "state": rec.get("state") or "1",
            "opened_at": now, "sys_created_on": now, "sys_updated_on": now, "sys_created_by":
            credentials.SNOW_USERNAME, "sys_updated_by": credentials.SNOW_USERNAME, "sys_mod_count": "0",
            "opened_by": USER_SYS_ID, "active": "true", "sys_class_name": table}
    rec["priority"] = PRIORITY.get((rec["urgency"], rec["impact"]), "5")
    records(request, table)[rec["number"]] = rec
    location = f"{_base(request)}/api/now/table/{table}/{rec['sys_id']}"
    return JSONResponse({"result": _view(request, rec)}, status_code=201, headers={"Location": location})


@router.get("/api/now/table/{table}")
async def query(request: Request, table: str) -> Response:
    """Query a table -> `{"result": [...]}` with `X-Total-Count`."""
    if (err := await check(request, table)) is not None:
        return err
    qp = request.query_params
    try:
        limit = int(qp.get("sysparm_limit", "10000"))
        offset = int(qp.get("sysparm_offset", "0"))
    except ValueError:
        return sn_error(400, "Invalid sysparm_limit or sysparm_offset")
    terms, order, desc = [], None, False
    for term in filter(None, qp.get("sysparm_query", "").split("^")):
        if term.startswith("ORDERBYDESC"):
            order, desc = term[11:], True
        elif term.startswith("ORDERBY"):
            order = term[7:]
        elif m := TERM_RE.match(term):
            terms.append((m.group(1), m.group(2), m.group(3)))
        else:
            return sn_error(400, "Unsupported query term (this simulator knows =, != and ORDERBY)", term[:80])
    rows = [r for r in records(request, table).values() if _matches(r, terms)]
    if order:
        rows.sort(key=lambda r: str(r.get(order, "")), reverse=desc)
    page = rows[offset:offset + max(limit, 0)]
    result = [_view(request, r) for r in page]
    return JSONResponse({"result": result}, headers={"X-Total-Count": str(len(rows))})


@router.get("/api/now/table/{table}/{sys_id}")
async def read(request: Request, table: str, sys_id: str) -> Response:
    """One record -> `{"result": {...}}` or 404."""
    if (err := await check(request, table)) is not None:
        return err
    rec = _find(request, table, sys_id)
    if rec is None:
        return _not_found()
    return JSONResponse({"result": _view(request, rec)})


@router.api_route("/api/now/table/{table}/{sys_id}", methods=["PATCH", "PUT"])
async def update(request: Request, table: str, sys_id: str) -> Response:
    """Update fields -> 200 `{"result": {...}}`; priority follows urgency/impact."""
    if (err := await check(request, table)) is not None:
        return err
    rec = _find(request, table, sys_id)
    if rec is None:
        return _not_found()
    body = await _json_body(request)
    if isinstance(body, JSONResponse):
        return body
    changes = {k: v for k, v in _strings(body).items() if k != "number" and not k.startswith("sys_")}
    rec.update(changes)
    rec["priority"] = PRIORITY.get((rec["urgency"], rec["impact"]), rec.get("priority", "5"))
    rec["sys_updated_on"] = _now()
    rec["sys_mod_count"] = str(int(rec.get("sys_mod_count", "0")) + 1)
    return JSONResponse({"result": _view(request, rec)})
