"""ServiceNow actions: create / get / update ticket, test connectivity.

`create ticket` is idempotent per correlation id: it first looks for a record of the table whose
`correlation_id` is the action's, and only inserts when there is none. A retried activity (or a
replayed playbook step) therefore never opens a second incident.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from activities.servicenow.client import SYS_ID_RE, TABLE_RE, ServiceNowClient
from activities.servicenow.config import ServiceNowConfig
from core.connector import ActionContext, action
from core.errors import NotFound
from core.models import ActionResult
from core.params import NoParams

# correlation ids go into an encoded query: no '^' (term separator), '=' or spaces; ServiceNow's
# correlation_id column holds 100 characters.
CORRELATION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@#-]{0,99}$")
NUMBER_RE = re.compile(r"^[A-Za-z]{2,10}[0-9]{4,16}$")
FIELD_RE = re.compile(r"^[a-z][a-z0-9_]{0,79}$")
READ_ONLY_FIELDS = {"number"}
SHORT_DESCRIPTION_MAX = 160
SUMMARY_FIELDS = ("number", "sys_id", "state", "priority")

Level = Literal["1", "2", "3"]
Ctx = ActionContext[ServiceNowConfig, ServiceNowClient]


def _table(v: Any) -> str:
    if not isinstance(v, str) or not TABLE_RE.match(v):
        raise ValueError(f"must be a table name like incident (^[a-z0-9_]+$), got {str(v)[:60]!r}")
    return v


def _level(v: Any) -> Any:
    return str(v).strip() if isinstance(v, int | str) and not isinstance(v, bool) else v


def _ticket_id(v: Any) -> str:
    if isinstance(v, str):
        s = v.strip()
        if SYS_ID_RE.match(s.lower()):
            return s.lower()
        if NUMBER_RE.match(s):
            return s.upper()
    raise ValueError(f"must be a 32-character sys_id or a ticket number like INC0010001, got {str(v)[:60]!r}")


def safe_correlation_id(value: str | None) -> str | None:
    """A correlation id usable in an encoded query: kept as is when safe, else a stable digest of it."""
    if not value:
        return None
    if CORRELATION_RE.match(value):
        return value
    return "soar-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def field_map(v: Any) -> dict[str, str]:
    """Ticket fields from a dict or its JSON text (Splunk's `fields` parameter is a JSON string).

    Raises:
        ValueError: not an object of writable field names to strings/numbers/booleans.
    """
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            raise ValueError('must be a JSON object like {"state": "2", "work_notes": "..."}') from None
    if v in (None, ""):
        return {}
    if not isinstance(v, dict):
        raise ValueError("must be an object of field name -> value")
    if len(v) > 50:
        raise ValueError(f"has {len(v)} fields; the limit is 50")
    out = {}
    for k, val in v.items():
        writable = isinstance(k, str) and FIELD_RE.match(k) and not k.startswith("sys_")
        if not writable or k in READ_ONLY_FIELDS:
            raise ValueError(f"field {str(k)[:40]!r} is not a writable field name (^[a-z][a-z0-9_]*$, "
                             "not sys_* or number)")
        if isinstance(val, bool):
            val = "true" if val else "false"
        if not isinstance(val, str | int | float):
            raise ValueError(f"field {k!r} must be a string, got {type(val).__name__}")
        out[k] = str(val)
    return out


class CreateTicketParams(BaseModel):
    """A new ticket. As in Splunk's ServiceNow app, `fields` (a JSON object or its text) may carry any
    writable field, `short_description`, `urgency` and `impact` included; the explicit parameters win."""

    model_config = ConfigDict(extra="forbid")

    short_description: str = Field(default="", max_length=4000)
    description: str = Field(default="", max_length=65_000)
    urgency: Level = "3"
    impact: Level = "3"
    table: str = "incident"
    fields: dict[str, str] = Field(default_factory=dict, description="More fields (Splunk: a JSON string)")
    vault_id: str | None = Field(default=None, description="Not supported: attachments from a vault")
    correlation_id: str | None = Field(default=None, description="Defaults to the action's correlation id")

    @model_validator(mode="before")
    @classmethod
    def _from_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        try:
            extra = field_map(data.get("fields"))
        except ValueError as e:
            raise ValueError(f"fields: {e}") from None
        for key in ("short_description", "description", "urgency", "impact"):
            if key in extra and data.get(key) in (None, ""):
                data[key] = extra.pop(key)
        data["fields"] = extra
        if not str(data.get("short_description") or "").strip():
            raise ValueError("short_description: give it directly or inside fields")
        return data

    @field_validator("vault_id")
    @classmethod
    def _no_vault(cls, v: str | None) -> str | None:
        if v:
            raise ValueError("attachments from a vault are not supported; attach files in ServiceNow")
        return None

    @field_validator("table", mode="before")
    @classmethod
    def _t(cls, v: Any) -> str:
        return _table(v)

    @field_validator("urgency", "impact", mode="before")
    @classmethod
    def _l(cls, v: Any) -> Any:
        return _level(v)

    @field_validator("short_description")
    @classmethod
    def _short(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("must not be blank")
        return v if len(v) <= SHORT_DESCRIPTION_MAX else v[:SHORT_DESCRIPTION_MAX - 3] + "..."

    @field_validator("correlation_id")
    @classmethod
    def _corr(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not CORRELATION_RE.match(v):
            raise ValueError("must be 1-100 letters, digits or _.:/@#- (no spaces, '^' or '=')")
        return v


class TicketParams(BaseModel):
    """An existing ticket: sys_id or number."""

    model_config = ConfigDict(extra="forbid")

    id: str
    table: str = "incident"

    @field_validator("id", mode="before")
    @classmethod
    def _i(cls, v: Any) -> str:
        return _ticket_id(v)

    @field_validator("table", mode="before")
    @classmethod
    def _t(cls, v: Any) -> str:
        return _table(v)


class UpdateTicketParams(TicketParams):
    """Fields to set on an existing ticket (a dict, or its JSON text from the command line)."""

    fields: dict[str, str]

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, v: Any) -> Any:
        out = field_map(v)
        if not out:
            raise ValueError("must be a non-empty object of field name -> value")
        return out


def _summary(record: dict[str, Any], **extra: Any) -> dict[str, Any]:
    # `created_ticket_id` (the sys_id) is what Splunk's ServiceNow app puts in its summary.
    return {k: record.get(k) for k in SUMMARY_FIELDS} | {"created_ticket_id": record.get("sys_id")} | extra


async def find_ticket(client: ServiceNowClient, table: str, ticket_id: str) -> dict[str, Any]:
    """A ticket by sys_id or number.

    Raises:
        NotFound: the table has no such ticket.
    """
    if SYS_ID_RE.match(ticket_id):
        record = await client.get(table, ticket_id)
    else:
        rows = await client.query(table, f"number={ticket_id}", limit=1)
        record = next((r for r in rows if str(r.get("number", "")).upper() == ticket_id), None)
    if record is None:
        raise NotFound(f"ServiceNow has no {table} record {ticket_id}")
    return record


@action("create ticket", params=CreateTicketParams, read_only=False, target="short_description")
async def create_ticket(ctx: Ctx, p: CreateTicketParams) -> ActionResult:
    """Open a ticket, or return the one this correlation id already opened."""
    client = ctx.client
    corr = p.correlation_id or safe_correlation_id(ctx.correlation_id)
    if corr:
        rows = await client.query(p.table, f"correlation_id={corr}", limit=1)
        # An instance whose table lacks correlation_id may ignore the term and return any row: check it.
        existing = next((r for r in rows if r.get("correlation_id") == corr), None)
        if existing is not None:
            return ActionResult(message=f"{existing.get('number')} exists",
                                summary=_summary(existing, created=False), data=[existing])
    fields = p.fields | {"short_description": p.short_description, "description": p.description,
                         "urgency": p.urgency, "impact": p.impact}
    if corr:
        fields |= {"correlation_id": corr, "correlation_display": "SOAR"}
    record = await client.create(p.table, fields)
    return ActionResult(message=f"{record.get('number')} created", summary=_summary(record, created=True),
                        data=[record])



@action("get ticket", params=TicketParams, read_only=True, target="id")
async def get_ticket(ctx: Ctx, p: TicketParams) -> ActionResult:
    """Read a ticket by sys_id or number."""
    record = await find_ticket(ctx.client, p.table, p.id)
    return ActionResult(message=f"{record.get('number')}: state {record.get('state')}, "
                                f"priority {record.get('priority')}",
                        summary=_summary(record), data=[record])


@action("update ticket", params=UpdateTicketParams, read_only=False, target="id")
async def update_ticket(ctx: Ctx, p: UpdateTicketParams) -> ActionResult:
    """Set fields of a ticket (state, work_notes, assignment_group, ...)."""
    client = ctx.client
    record = await find_ticket(client, p.table, p.id)
    updated = await client.update(p.table, str(record["sys_id"]), p.fields)
    return ActionResult(message=f"{updated.get('number')} updated ({', '.join(sorted(p.fields))})",
                        summary=_summary(updated), data=[updated])


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Read one incident: proves the URL, the credentials and read access to the incident table."""
    client = ctx.client
    await client.query("incident", "", limit=1, fields=["sys_id"])
    return ActionResult(message=f"Connected to ServiceNow at {client.base_url} as {client.username}",
                        summary={"base_url": client.base_url, "username": client.username})
