"""`POST /internal/v1/prompt-feed`: workers say which runs just opened prompts (api/prompt_feed.py).

No token: the body is only workflow ids, and the API reads each run's prompts from Temporal itself, so a
forged call can list nothing Temporal does not hold (at most `MAX_READING` reads are under way at once)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from activities.prompt_feed import BATCH
from workflows.messages import PROMPT_FEED_PATH

router = APIRouter(tags=["internal"])


class PromptFeedIn(BaseModel):
    """Runs that just opened prompts."""

    model_config = ConfigDict(extra="forbid")
    workflow_ids: list[str] = Field(max_length=BATCH, description="`playbook/...` workflow ids")


class PromptFeedAck(BaseModel):
    """How many runs will be read (the rest were not playbook runs, already being read, or over the bound)."""

    taken: int


@router.post(PROMPT_FEED_PATH, response_model=PromptFeedAck, status_code=202)
async def prompt_feed(body: PromptFeedIn, request: Request) -> PromptFeedAck:
    """Read these runs' pending prompts from Temporal now, for the fresh prompt list (workers call this)."""
    return PromptFeedAck(taken=request.app.state.board.hint(body.workflow_ids))
