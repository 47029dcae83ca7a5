"""Analyst operations on a container: one implementation behind the JSON routes (`api/routers/containers.py`)
and the console (`api/console/`). Each checks the caller's roles (`api.permissions.require`, which audits a
refusal) and then asks the container workflow (an update, so the answer says what happened).
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.errors import rpc_error, update_error
from api.permissions import patch_operations, require
from api.service import container_handle
from core.config.roles import Operation
from core.config.users import User
from core.models import Severity, Status
from workflows.container import ContainerWorkflow
from workflows.messages import AnalystChange, ContainerView, Reopen, RunPlaybookRequest
from workflows.registry import PLAYBOOKS
from workflows.starter import reopen_container

REOPEN_ATTEMPTS = 25


class ContainerPatch(BaseModel):
    """Fields an analyst may change."""

    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    severity: Severity | None = None
    owner: str | None = Field(default=None, max_length=256)
    disposition: str | None = Field(default=None, max_length=256)
    comment: str | None = Field(default=None, max_length=20_000)


async def view_of(client: Client, container_id: str) -> ContainerView:
    """The container's view (query).

    Raises:
        HTTPException: 404 for an unknown container, 503 when Temporal is unavailable.
    """
    h = container_handle(client, container_id)
    try:
        return await h.query(ContainerWorkflow.view)
    except RPCError as e:
        raise rpc_error(e, f"container {container_id}") from None


async def apply_change(client: Client, container_id: str, ch: AnalystChange) -> ContainerView:
    """Deliver an analyst's change (no role check: callers check first) and answer with the container as it is
    now: the update returns a small acknowledgement (every update's result is written to history), the view
    is a query (nothing written).

    Raises:
        HTTPException: 404/409 for a closed or unknown container, 422 for a refused change.
    """
    h = container_handle(client, container_id)
    try:
        await h.execute_update(ContainerWorkflow.change, ch)
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        raise rpc_error(e, f"open container {container_id}") from None
    return await view_of(client, container_id)


async def add_comment(request: Request, client: Client, user: User, container_id: str, text: str) -> ContainerView:
    """Comment as `user` (who needs a role allowed to comment).

    Raises:
        HTTPException: 403 (audited) without the role, else as `apply_change`.
    """
    await require(request, client, user, container_id, [(Operation.COMMENT, None)])
    return await apply_change(client, container_id, AnalystChange(user=user.name, comment=text))


async def is_closed(client: Client, container_id: str) -> bool:
    """Whether the container's workflow has ended (closed)."""
    try:
        d = await container_handle(client, container_id).describe()
    except RPCError as e:
        raise rpc_error(e, f"container {container_id}") from None
    return d.status is not None and d.status != WorkflowExecutionStatus.RUNNING


async def patch(request: Request, client: Client, user: User, container_id: str, body: ContainerPatch) -> ContainerView:
    """Change status, severity, owner or disposition; `status: open` on a closed container reopens it.

    Raises:
        HTTPException: 403 (audited) for an operation the user's roles do not allow; 409 when it cannot be
            reopened or is closing.
    """
    change = AnalystChange(user=user.name, **body.model_dump())
    closed = body.status == Status.OPEN and await is_closed(client, container_id)
    await require(request, client, user, container_id, patch_operations(
        body.status.value if body.status else None, body.severity, body.disposition, body.owner, body.comment, closed))
    if body.status != Status.OPEN:
        return await apply_change(client, container_id, change)
    for _ in range(REOPEN_ATTEMPTS):
        if await is_closed(client, container_id):
            await require(request, client, user, container_id, [(Operation.REOPEN, None)])
            try:
                await reopen_container(client, container_id, Reopen(reason=body.comment or "reopened by an analyst",
                                                                    by=user.name),
                                       task_queue=request.app.state.settings.playbook_task_queue)
            except RuntimeError as e:
                raise HTTPException(409, f"container {container_id} cannot be reopened: {e}") from None
            return await apply_change(client, container_id,
                                      change.model_copy(update={"status": None, "comment": None}))
        try:
            return await apply_change(client, container_id, change)
        except HTTPException as e:
            if e.status_code not in (404, 409):
                raise
            await asyncio.sleep(0.2)  # it was closing (or just closed) as we asked: reopen it once closed
    raise HTTPException(409, f"container {container_id} is closing; retry")


async def start_playbook(request: Request, client: Client, user: User, container_id: str, playbook: str) -> str:
    """Run a playbook on the container by hand; returns the run's workflow id.

    Raises:
        HTTPException: 403 (audited) without a role allowed to run it, 422 for an unknown playbook, 409 closed.
    """
    if playbook not in PLAYBOOKS:  # said before the container's state: a closed container's answer would hide it
        raise HTTPException(422, f"unknown playbook {playbook!r}; choose one of: {', '.join(sorted(PLAYBOOKS))}")
    h = container_handle(client, container_id)
    await require(request, client, user, container_id, [(Operation.RUN_PLAYBOOK, playbook)])
    try:
        return await h.execute_update(ContainerWorkflow.run_playbook, RunPlaybookRequest(playbook=playbook,
                                                                                         user=user.name))
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        raise rpc_error(e, f"open container {container_id}") from None
