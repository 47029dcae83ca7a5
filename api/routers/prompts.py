"""Analyst prompts: list the pending ones, answer one (delivered as a Temporal update)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import WorkflowExecution

from api.answers import answer, delegate, withdraw
from api.auth import Analyst, Reader, directory
from api.deps import ClientDep
from api.service import Page, fresh_prompts, visibility_page
from core.config.users import User
from core.models import Prompt, PromptAck
from core.prometheus import observe_prompt_response
from core.visibility import pending_prompts

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


async def _pending(wf: WorkflowExecution, user: User, now: datetime) -> list[PendingPrompt]:
    memo = await wf.memo()
    rows = memo.get("prompts")  # every pending prompt of the run (a Phantom run may wait on several)
    if not isinstance(rows, list):
        rows = [memo["prompt"]] if isinstance(memo.get("prompt"), dict) else []  # runs started before "prompts"
    out = []
    for p in rows:
        try:
            prompt = Prompt.model_validate(p)
        except ValidationError:
            continue  # not a prompt this API can show (e.g. written by a newer, incompatible worker)
        out.append(_row(prompt, user, now))
    return out  # empty: the run answered them between the listing and now


@router.get("", response_model=PromptList)
async def list_prompts(request: Request, user: Reader, client: ClientDep,
                       state: str = Query("pending", pattern="^pending$"),
                       page_size: int = Query(100, ge=1, le=1000), page_token: str | None = None) -> PromptList:
    """Every pending prompt: id, container, playbook, role, message, options, deadline, time left. The first
    page also carries the prompts opened in the last minutes that the visibility index does not list yet (from
    the prompt board, `workflows.board`); a prompt closed meanwhile is left out even while the index lags."""
    found, next_token = await visibility_page(client, pending_prompts(), page_size, page_token)
    now = datetime.now(UTC)
    rows = [p for wf in found for p in await _pending(wf, user, now)]
    board = await fresh_prompts(client, request.app.state.settings.playbook_task_queue)
    if board is not None:  # what visibility does not show yet (or still shows after the prompt closed)
        gone = set(board.closed)
        if page_token is None:  # the first page leads with the fresh prompts not listed yet
            listed = {p.id for p in rows}
            rows = [_row(p, user, now) for p in board.opened if p.id not in listed and p.id not in gone] + \
                [p for p in rows if p.id not in gone]
        else:  # later pages leave out what the first page showed from the board
            shown = {p.id for p in board.opened}
            rows = [p for p in rows if p.id not in gone and p.id not in shown]
    return PromptList(count=len(rows), data=rows, next_page_token=next_token)


def _row(prompt: Prompt, user: User, now: datetime) -> PendingPrompt:
    return PendingPrompt(**dict(prompt), can_respond=user.has_role(prompt.role),
                         time_left_s=max(0.0, round((prompt.deadline - now).total_seconds(), 1)))


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
    observe_prompt_response(ack.waited_s)
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
