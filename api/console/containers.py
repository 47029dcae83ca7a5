"""Containers in the console: the filtered, paginated list, a container's page, and the analyst's actions on it
(comment, status, severity, owner, disposition, run a playbook), each through `api.container_ops`, the code the
JSON routes use, so the same roles apply and a refusal is audited the same way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client
from temporalio.service import RPCError

from api import container_ops as ops
from api.console.inbox import card
from api.console.render import page
from api.console.session import ConsoleSession, check_csrf, flash
from api.deps import ClientDep
from api.live import still_pending
from api.permissions import permissions
from api.routers.containers import container_filter, summary
from api.service import container_handle, visibility_page
from core.config.roles import Operation
from core.models import Severity, Status
from workflows.registry import PLAYBOOKS

router = APIRouter()
PAGE_SIZE = 50
FIELDS = {"status": Operation.SET_STATUS, "severity": Operation.SET_SEVERITY, "owner": Operation.SET_OWNER,
          "disposition": Operation.SET_DISPOSITION}


@dataclass
class Entry:
    """One line of a container's timeline: a comment or an audit event."""

    time: datetime
    who: str
    what: str
    text: str
    refused: bool = False


def _enum(kind: type[Severity] | type[Status], value: str | None, errors: list[str]) -> str | None:
    if not value:
        return None
    if value not in {m.value for m in kind}:
        errors.append(f"{kind.__name__.lower()} must be one of: {', '.join(m.value for m in kind)}")
        return None
    return value


@router.get("/containers")
async def containers(request: Request, session: ConsoleSession, client: ClientDep, label: str = "", severity: str = "",
                     status: str = "", playbook: str = "", awaiting: str = "", q: str = "",
                     page_token: str | None = None) -> Response:
    errors: list[str] = []
    filters = {"label": label, "severity": _enum(Severity, severity, errors) or "",
               "status": _enum(Status, status, errors) or "", "playbook": playbook, "awaiting": awaiting, "q": q}
    rows, nxt, code = [], None, 200
    try:
        sev, st = filters["severity"], filters["status"]
        query = container_filter(label=label or None, severity=Severity(sev) if sev else None,
                                 status=Status(st) if st else None, playbook=playbook or None,
                                 awaiting_prompt=True if awaiting else None, q=q[:200] or None,
                                 names_indexed=request.app.state.settings.encryption_key is None)
        found, nxt = await visibility_page(client, query, PAGE_SIZE, page_token)
        rows = [summary(wf) for wf in found]
    except HTTPException as e:
        if e.status_code != 422:
            raise
        errors.append(str(e.detail))
    code = 422 if errors else code
    keep = {k: v for k, v in filters.items() if v}
    return page(request, "containers.html", session, status=code, rows=rows, filters=filters, keep=keep,
                next_token=nxt, errors=errors, playbooks=sorted(PLAYBOOKS), severities=[s.value for s in Severity],
                statuses=[s.value for s in Status], first=page_token is None)


async def _notifications(client: Client, container_id: str) -> list[dict[str, object]]:
    """Notifications of this container still being sent or retried (its workflow's pending activities)."""
    try:
        d = await container_handle(client, container_id).describe()
    except RPCError:
        return []
    out = []
    now = datetime.now(UTC)
    for pa in d.raw_description.pending_activities:
        if pa.activity_type.name != "soar.notify":
            continue
        nxt = pa.next_attempt_schedule_time.ToDatetime(tzinfo=UTC) if pa.HasField("next_attempt_schedule_time") \
            else None
        out.append({"attempt": pa.attempt, "error": pa.last_failure.message if pa.HasField("last_failure") else "",
                    "next_in": (nxt - now).total_seconds() if nxt and nxt > now else None,
                    "running": pa.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED})
    return out


@router.get("/containers/{container_id}")
async def container(container_id: str, request: Request, session: ConsoleSession, client: ClientDep) -> Response:
    view = await ops.view_of(client, container_id)
    c = view.state.container
    names = {container_id: c.name}
    timeline = [Entry(x.time, x.author, "comment", x.text) for x in view.state.comments]
    timeline += [Entry(a.time, a.actor, a.kind.value.replace("_", " "), " ".join(
        x for x in (a.option and f'"{a.option}"', a.action, a.target, a.detail) if x), a.outcome != "accepted")
        for a in view.state.audit]
    timeline.sort(key=lambda e: e.time, reverse=True)
    perms = permissions(request)
    roles = session.user.roles
    can = {name: perms.allows(roles, op) for name, op in FIELDS.items()} | {
        "comment": perms.allows(roles, Operation.COMMENT), "close": perms.allows(roles, Operation.CLOSE)}
    runnable = [name for name in sorted(PLAYBOOKS) if perms.allows(roles, Operation.RUN_PLAYBOOK, name)]
    cards = [card(p, session, names) for p in await still_pending(client, view.pending_prompts)]
    notifying = await _notifications(client, container_id)
    return page(request, "container.html", session, view=view, c=c, cards=cards, timeline=timeline[:300], can=can,
                runnable=runnable, severities=[s.value for s in Severity], notifying=notifying,
                statuses=[s.value for s in Status if s != Status.NEW],
                closed=view.closed_at is not None or c.status == Status.CLOSED)


def _back(request: Request, container_id: str, message: str, kind: str = "ok", to: str = "") -> Response:
    resp = RedirectResponse(f"/console/containers/{container_id}{to}", 303)
    flash(request, resp, message, kind)
    return resp


@router.post("/containers/{container_id}/comment")
async def comment(container_id: str, request: Request, session: ConsoleSession, client: ClientDep,
                  text: str = Form(""), csrf: str = Form("")) -> Response:
    check_csrf(session, csrf)
    if not text.strip() or len(text) > 20_000:
        return _back(request, container_id, "Write a comment of 1 to 20,000 characters.", "error")
    try:
        await ops.add_comment(request, client, session.user, container_id, text.strip())
    except HTTPException as e:
        return _back(request, container_id, str(e.detail), "error")
    return _back(request, container_id, "Comment added.")


@router.post("/containers/{container_id}/change")
async def change(container_id: str, request: Request, session: ConsoleSession, client: ClientDep,
                 field: str = Form(""), value: str = Form(""), csrf: str = Form("")) -> Response:
    check_csrf(session, csrf)
    if field not in FIELDS:
        return _back(request, container_id, f"Cannot change {field[:40]!r}.", "error")
    try:
        body = ops.ContainerPatch.model_validate({field: value.strip()})
    except ValidationError as e:
        return _back(request, container_id, f"{field}: {e.errors()[0]['msg']}", "error")
    try:
        await ops.patch(request, client, session.user, container_id, body)
    except HTTPException as e:
        return _back(request, container_id, str(e.detail), "error")
    return _back(request, container_id, f"{field.capitalize()} set to {value.strip()}.")


@router.post("/containers/{container_id}/run")
async def run(container_id: str, request: Request, session: ConsoleSession, client: ClientDep,
              playbook: str = Form(""), csrf: str = Form("")) -> Response:
    check_csrf(session, csrf)
    try:
        wid = await ops.start_playbook(request, client, session.user, container_id, playbook[:128])
    except HTTPException as e:
        return _back(request, container_id, str(e.detail), "error")
    return _back(request, container_id, f"Started {playbook} ({wid}).", to="/report")
