"""Roles per operation (`core.config.roles`), checked by every route that changes a container; a refusal is a
403 naming the operation and the roles that may do it, and an audit event on the container."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from fastapi import HTTPException, Request
from temporalio.client import Client
from temporalio.service import RPCError

from core.config.roles import Operation, Permissions, load_permissions
from core.config.users import User
from core.models import AuditEvent, AuditKind
from workflows.container import ContainerWorkflow
from workflows.ids import CONTAINER_ID_RE, container_workflow_id
from workflows.messages import ContainerView


def permissions(request: Request) -> Permissions:
    """The role table (loaded once per app)."""
    p: Permissions | None = getattr(request.app.state, "permissions", None)
    if p is None:
        p = load_permissions(request.app.state.settings.roles_file)
        request.app.state.permissions = p
    return p


async def require(request: Request, client: Client, user: User, container_id: str,
                  ops: list[tuple[Operation, str | None]], view: ContainerView | None = None) -> None:
    """403 unless `user` may do every operation on the container (closing while a prompt waits needs its role).

    Raises:
        HTTPException: 403, after recording the refusal on the container.
    """
    table = permissions(request)
    for op, playbook in ops:
        why = None
        if not table.allows(user.roles, op, playbook):
            what = f"run {playbook}" if op == Operation.RUN_PLAYBOOK else op.value.replace("_", " ")
            why = (f"user '{user.name}' lacks a role allowed to {what} (one of: "
                   f"{', '.join(table.roles_for(op, playbook))})")
        elif op == Operation.CLOSE:
            why = await _close_refusal(client, user, container_id, view)
        if why is not None:
            await _audit(client, request, user, container_id, op, playbook, why)
            raise HTTPException(403, why)


async def _close_refusal(client: Client, user: User, container_id: str, view: ContainerView | None) -> str | None:
    if view is None:
        try:
            view = await client.get_workflow_handle(container_workflow_id(container_id)).query(ContainerWorkflow.view)
        except RPCError:
            return None  # the change itself will say what is wrong with the container
    for p in view.pending_prompts:
        if not (p.roles_allowed() | {"soc_manager"}) & set(user.roles):
            return (f"prompt {p.id} waits for {p.role}: closing the container would cancel it, so it needs "
                    f"{p.role} or soc_manager; {user.name} holds {', '.join(user.roles) or 'no role'}")
    return None


async def _audit(client: Client, request: Request, user: User, container_id: str, op: Operation,
                 playbook: str | None, why: str) -> None:
    if not CONTAINER_ID_RE.match(container_id):
        return
    event = AuditEvent(time=datetime.now(UTC), kind=AuditKind.OPERATION_REFUSED, actor=user.name, roles=user.roles,
                       container_id=container_id, action=f"{op.value}:{playbook}" if playbook else op.value,
                       source=request.client.host if request.client else None, outcome="refused", detail=why)
    with contextlib.suppress(RPCError):
        await client.get_workflow_handle(container_workflow_id(container_id)).signal(ContainerWorkflow.record_audit,
                                                                                    event)


def patch_operations(status: str | None, severity: object, disposition: object, owner: object, comment: object,
                     closed: bool) -> list[tuple[Operation, str | None]]:
    """The operations a PATCH body asks for."""
    ops: list[tuple[Operation, str | None]] = []
    if status == "closed":
        ops.append((Operation.CLOSE, None))
    elif status == "open" and closed:
        ops.append((Operation.REOPEN, None))
    elif status is not None:
        ops.append((Operation.SET_STATUS, None))
    for value, op in ((severity, Operation.SET_SEVERITY), (disposition, Operation.SET_DISPOSITION),
                      (owner, Operation.SET_OWNER), (comment, Operation.COMMENT)):
        if value is not None:
            ops.append((op, None))
    return ops
