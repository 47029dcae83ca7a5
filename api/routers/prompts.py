"""Analyst prompts: list the pending ones, answer one (delivered as a Temporal update)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import WorkflowExecution, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.service import RPCError, RPCStatusCode

from api.auth import Analyst, Reader
from api.deps import ClientDep
from api.errors import rpc_error, update_error
from api.service import Page, visibility_page
from core.config.users import User
from core.models import PlaybookOutcome, Prompt, PromptResponse
from core.prometheus import observe_prompt_response
from core.visibility import pending_prompts
from workflows.ids import parse_prompt_id
from workflows.playbook import Playbook, PromptAck

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])


class ResponseIn(BaseModel):
    """An analyst's decision."""

    model_config = ConfigDict(extra="forbid")
    option: str = Field(min_length=1, max_length=256)
    comment: str = Field(default="", max_length=5000)


class PendingPrompt(Prompt):
    """A pending prompt as its run publishes it (memo), with the time left and whether the caller may answer."""

    time_left_s: float = Field(description="Seconds until the deadline (0 once passed)")
    can_respond: bool = Field(description="The caller holds the prompt's role")


class PromptList(Page[PendingPrompt]):
    """`GET /api/v1/prompts`: one page of pending prompts."""


async def _pending(wf: WorkflowExecution, user: User, now: datetime) -> PendingPrompt | None:
    p = (await wf.memo()).get("prompt")
    if not isinstance(p, dict):
        return None  # the run answered it between the listing and now
    try:
        prompt = Prompt.model_validate(p)
    except ValidationError:
        return None  # not a prompt this API can show (e.g. written by a newer, incompatible worker)
    return PendingPrompt(**dict(prompt), time_left_s=max(0.0, round((prompt.deadline - now).total_seconds(), 1)),
                         can_respond=user.has_role(prompt.role))


@router.get("", response_model=PromptList)
async def list_prompts(user: Reader, client: ClientDep, state: str = Query("pending", pattern="^pending$"),
                       page_size: int = Query(100, ge=1, le=1000), page_token: str | None = None) -> PromptList:
    """Every pending prompt: id, container, playbook, role, message, options, deadline, time left."""
    found, next_token = await visibility_page(client, pending_prompts(), page_size, page_token)
    now = datetime.now(UTC)
    rows = [p for wf in found if (p := await _pending(wf, user, now)) is not None]
    return PromptList(count=len(rows), data=rows, next_page_token=next_token)


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
    handle = client.get_workflow_handle(wid, result_type=PlaybookOutcome)
    resp = PromptResponse(prompt_id=pid, option=body.option, responder=user.name, responder_roles=user.roles,
                          comment=body.comment)
    try:
        ack = await handle.execute_update(Playbook.respond, resp, id=f"response:{pid}:{user.name}:{body.option}"[:250])
        observe_prompt_response(ack.waited_s)
        return ack
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            raise rpc_error(e, f"prompt {pid}") from None
    # The run already finished (e.g. the same request retried after the playbook completed): answer from its result.
    try:
        out = await handle.result()
    except (RPCError, WorkflowFailureError):
        raise HTTPException(404, f"no prompt {pid}") from None
    for rec in out.actions:
        if rec.kind == "prompt" and rec.summary.get("prompt_id") == pid:
            if rec.summary.get("responder") == user.name and rec.summary.get("option") == body.option:
                return PromptAck(prompt_id=pid, option=body.option,
                                 next_step="already recorded; the playbook has finished")
            raise HTTPException(409, f"prompt {pid} is already closed ({rec.message})")
    raise HTTPException(404, f"no prompt {pid}")
