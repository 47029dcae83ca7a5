"""Analyst prompts: list the pending ones, answer one (delivered as a Temporal update)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Analyst, Reader
from api.deps import ClientDep
from api.errors import rpc_error, update_error
from api.prom import observe_prompt_response
from api.service import decode_page_token, encode_page_token, fetch_page
from core.models import PlaybookOutcome, PromptAck, PromptResponse
from workflows.ids import parse_prompt_id

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])


class ResponseIn(BaseModel):
    """An analyst's decision."""

    model_config = ConfigDict(extra="forbid")
    option: str = Field(min_length=1, max_length=256)
    comment: str = Field(default="", max_length=5000)


@router.get("")
async def list_prompts(user: Reader, client: ClientDep, state: str = Query("pending", pattern="^pending$"),
                       page_size: int = Query(100, ge=1, le=1000), page_token: str | None = None) -> dict[str, Any]:
    """Every pending prompt: id, container, playbook, role, message, options, deadline, time left."""
    token = decode_page_token(page_token)
    it = client.list_workflows("SoarKind='playbook' AND SoarAwaitingPrompt=true AND ExecutionStatus='Running'",
                               page_size=page_size, next_page_token=token)
    await fetch_page(it, token is not None)
    now = datetime.now(UTC)
    rows = []
    for wf in it.current_page or []:
        memo = await wf.memo()
        p = memo.get("prompt")
        if not isinstance(p, dict):
            continue
        deadline = datetime.fromisoformat(p["deadline"])
        p["time_left_s"] = max(0.0, round((deadline - now).total_seconds(), 1))
        p["can_respond"] = user.has_role(p.get("role", ""))
        rows.append(p)
    nxt = it.next_page_token
    return {"count": len(rows), "data": rows,
            "next_page_token": encode_page_token(nxt)}


@router.post("/{prompt_id}/response", response_model=PromptAck,
             responses={403: {"description": "wrong role"}, 404: {"description": "unknown prompt"},
                        409: {"description": "already answered or expired"},
                        422: {"description": "option not offered"}})
async def respond(prompt_id: str, body: ResponseIn, user: Analyst, client: ClientDep) -> PromptAck:
    """Deliver a decision. Synchronous: 200 says what happens next. Retrying the same request is idempotent."""
    parsed = parse_prompt_id(prompt_id)
    if parsed is None:
        raise HTTPException(404, f"no prompt {prompt_id[:80]!r}")
    wid, pid = parsed
    handle = client.get_workflow_handle(wid)
    resp = PromptResponse(prompt_id=pid, option=body.option, responder=user.name, responder_roles=user.roles,
                          comment=body.comment)
    try:
        ack: PromptAck = await handle.execute_update(
            "respond", resp, id=f"response:{pid}:{user.name}:{body.option}"[:250], result_type=PromptAck)
        observe_prompt_response(ack.waited_s)
        return ack
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise rpc_error(e, f"prompt {pid}") from None
    # The run already finished (e.g. the same request retried after the playbook completed): answer from its result.
    try:
        out = await client.get_workflow_handle(wid, result_type=PlaybookOutcome).result()
    except (RPCError, WorkflowFailureError):
        raise HTTPException(404, f"no prompt {pid}") from None
    for rec in out.actions:
        if rec.kind == "prompt" and rec.summary.get("prompt_id") == pid:
            if rec.summary.get("responder") == user.name and rec.summary.get("option") == body.option:
                return PromptAck(prompt_id=pid, option=body.option,
                                 next_step="already recorded; the playbook has finished")
            raise HTTPException(409, f"prompt {pid} is already closed ({rec.message})")
    raise HTTPException(404, f"no prompt {pid}")
