"""Analyst prompts: list the pending ones, answer one (delivered as a Temporal update)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.answers import answer
from api.auth import Analyst, Reader
from api.deps import ClientDep
from api.prom import observe_prompt_response
from api.service import decode_page_token, encode_page_token, fetch_page
from core.models import PromptAck

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
async def respond(prompt_id: str, body: ResponseIn, request: Request, user: Analyst,
                  client: ClientDep) -> PromptAck:
    """Deliver a decision, signed for this analyst. Synchronous: 200 says what happens next. Retrying the same
    request is idempotent."""
    source = request.client.host if request.client else None
    ack = await answer(client, request.app.state.settings, user, prompt_id, body.option, body.comment, source)
    observe_prompt_response(ack.waited_s)
    return ack
