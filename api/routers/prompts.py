"""Analyst prompts: list the pending ones, answer one (delivered as a Temporal update)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.answers import answer, answered, delegate, withdraw
from api.auth import Analyst, Reader, directory
from api.deps import ClientDep
from api.service import Page, PendingPrompt, pending_prompt_page
from core.models import PromptAck

router = APIRouter(prefix="/api/v1/prompts", tags=["prompts"])


class ResponseIn(BaseModel):
    """An analyst's decision."""

    model_config = ConfigDict(extra="forbid")
    option: str = Field(min_length=1, max_length=256)
    comment: str = Field(default="", max_length=5000)


class PromptList(Page[PendingPrompt]):
    """`GET /api/v1/prompts`: one page of pending prompts."""


@router.get("", response_model=PromptList)
async def list_prompts(request: Request, user: Reader, client: ClientDep,
                       state: str = Query("pending", pattern="^pending$"),
                       page_size: int = Query(100, ge=1, le=1000), page_token: str | None = None) -> PromptList:
    """Every pending prompt: id, container, playbook, role, message, options, deadline, time left. The first
    page leads with prompts opened in the last minute that visibility does not list yet (`api.prompt_feed`)."""
    rows, next_token = await pending_prompt_page(client, user, page_size, page_token, request.app.state.board)
    return PromptList(count=len(rows), data=rows, next_page_token=next_token)


@router.post("/{prompt_id}/response", response_model=PromptAck,
             responses={403: {"description": "wrong role, or the approval was refused"},
                        404: {"description": "unknown prompt"},
                        409: {"description": "already answered or expired"},
                        422: {"description": "option not offered"}})
async def respond(prompt_id: str, body: ResponseIn, request: Request, user: Analyst,
                  client: ClientDep) -> PromptAck:
    """Deliver a decision, signed for this analyst. Synchronous: 200 says what happens next. Retrying the same
    request is idempotent."""
    source = request.client.host if request.client else None
    ack = await answer(client, request.app.state.settings, user, prompt_id, body.option, body.comment, source)
    answered(request, prompt_id, ack)
    return ack


class DelegateIn(BaseModel):
    """Hand the prompt to a colleague."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, max_length=128, description="The colleague's user name (they must hold the role)")


@router.post("/{prompt_id}/delegate", response_model=PromptAck,
             responses={403: {"description": "you or the colleague lack the role"},
                        404: {"description": "unknown prompt or user"}, 409: {"description": "not waiting"}})
async def delegate_prompt(prompt_id: str, body: DelegateIn, request: Request, user: Analyst,
                          client: ClientDep) -> PromptAck:
    """Hand a waiting prompt to a named colleague: from then on only they (or a manager) may answer it."""
    source = request.client.host if request.client else None
    return await delegate(client, request.app.state.settings, directory(request), user, prompt_id, body.to, source)


@router.post("/{prompt_id}/withdraw", response_model=PromptAck,
             responses={409: {"description": "no approval of yours to withdraw, or the prompt is decided"}})
async def withdraw_approval(prompt_id: str, request: Request, user: Analyst, client: ClientDep) -> PromptAck:
    """Take back your approval of a prompt that still waits for its quorum."""
    source = request.client.host if request.client else None
    return await withdraw(client, request.app.state.settings, user, prompt_id, source)
