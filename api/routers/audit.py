"""`GET /api/v1/audit`: the audit trail across containers (analyst decisions, refused answers, approval
failures, guardrail refusals, refused operations) and the operators' approvals from the command line.

Containers keep their events (`ContainerState.audit`, in Temporal history); visibility finds the containers
that got one in the window (`SoarLastAudit`), and this route reads them. Reading needs `soc_manager` or
`admin`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field, ValidationError
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.auth import require_roles
from api.deps import ClientDep
from api.errors import rpc_error
from core.config.users import User
from core.models import AuditEvent, AuditKind
from core.temporal import SA_KIND, SA_LAST_AUDIT
from core.visibility import Filter
from workflows.container import ContainerWorkflow

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Auditor = Annotated[User, Depends(require_roles("soc_manager"))]
MAX_CONTAINERS = 500
CONCURRENCY = 16
READ_DEADLINE_S = 10.0  # containers not read by then (no worker answered) are counted in `unread`, not waited for
DEFAULT_WINDOW = timedelta(days=7)


class AuditPage(BaseModel):
    """One page of audit events, newest first."""

    count: int
    total: int = Field(description="Events matching the filters in the window")
    data: list[AuditEvent]
    next_offset: int | None = Field(default=None, description="Pass as `offset` for the next page")
    truncated: bool = Field(default=False, description="More containers had events than are read at once")
    unread: list[str] = Field(default_factory=list, description="Containers with events in the window that could "
                              "not be read now (no worker answered in time): their events are missing; retry")


async def _events_of(client: Client, wid: str, sem: asyncio.Semaphore) -> list[AuditEvent] | None:
    """The container's audit events; None when it cannot be read now."""
    async with sem:
        try:
            view = await client.get_workflow_handle(wid).query(ContainerWorkflow.view)
        except RPCError as e:
            return [] if e.status == RPCStatusCode.NOT_FOUND else None
    return list(view.state.audit)


async def _read_all(client: Client, wids: list[str]) -> tuple[list[AuditEvent], list[str]]:
    """Every container's events read within `READ_DEADLINE_S`, and the containers that could not be read."""
    sem = asyncio.Semaphore(CONCURRENCY)
    tasks = {w: asyncio.ensure_future(_events_of(client, w, sem)) for w in dict.fromkeys(wids)}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=READ_DEADLINE_S)
    events: list[AuditEvent] = []
    unread: list[str] = []
    for w, t in tasks.items():
        got = t.result() if t.done() and not t.cancelled() else None
        if not t.done():
            t.cancel()
        if got is None:
            unread.append(w.removeprefix("container/"))
        else:
            events += got
    return events, unread


def _operator_events(request: Request) -> list[AuditEvent]:
    """Operators' approvals from `soar action run --approve-as` on this machine (data_dir/audit)."""
    path = request.app.state.settings.data_dir / "audit" / "operator-approvals.jsonl"
    out: list[AuditEvent] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()[-5000:]
    except OSError:
        return out
    for line in lines:
        try:
            row = json.loads(line)
            out.append(AuditEvent(time=datetime.fromisoformat(row["time"]), kind=AuditKind.OPERATOR_APPROVAL,
                                  actor=row["responder"], roles=["operator"], action=row.get("action"),
                                  target=row.get("target"), source=row.get("os_user"), detail=row.get("reason", "")))
        except (ValueError, KeyError, ValidationError):
            continue
    return out


@router.get("", response_model=AuditPage)
async def audit(request: Request, user: Auditor, client: ClientDep,
                since: datetime | None = Query(None, description="Default: 7 days ago"),
                until: datetime | None = None, container: str | None = None, actor: str | None = None,
                kind: AuditKind | None = None, outcome: str | None = Query(None, pattern="^(accepted|refused)$"),
                offset: int = Query(0, ge=0), page_size: int = Query(100, ge=1, le=1000)) -> AuditPage:
    """Audit events in a window, filtered (container, actor, kind, outcome), newest first."""
    since = (since or datetime.now(UTC) - DEFAULT_WINDOW).astimezone(UTC)
    until = (until or datetime.now(UTC) + timedelta(minutes=1)).astimezone(UTC)
    query = Filter().where(SA_KIND, "container").where(SA_LAST_AUDIT, since, ">=")
    wids: list[str] = []
    try:
        async for wf in client.list_workflows(str(query), limit=MAX_CONTAINERS + 1):
            if container is None or wf.id == f"container/{container}":
                wids.append(wf.id)
    except RPCError as e:
        raise rpc_error(e, "audit") from None
    truncated = len(wids) > MAX_CONTAINERS
    events, unread = await _read_all(client, wids)
    if container is None:
        events += _operator_events(request)
    wanted = [e for e in events if since <= e.time.astimezone(UTC) <= until and _matches(e, actor, kind, outcome)]
    wanted.sort(key=lambda e: e.time, reverse=True)
    page = wanted[offset: offset + page_size]
    nxt = offset + page_size if offset + page_size < len(wanted) else None
    return AuditPage(count=len(page), total=len(wanted), data=page, next_offset=nxt, truncated=truncated,
                     unread=unread)


def _matches(e: AuditEvent, actor: str | None, kind: AuditKind | None, outcome: str | None) -> bool:
    checks: list[tuple[Any, Any]] = [(actor, e.actor), (kind, e.kind), (outcome, e.outcome)]
    return all(want is None or want == got for want, got in checks)
