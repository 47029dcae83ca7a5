"""Analyst prompts, their responses and the approvals high-impact actions require."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class PromptState(StrEnum):
    """Lifecycle of a prompt."""

    PENDING = "pending"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Prompt(BaseModel):
    """A question put to analysts holding `role`, answered by choosing one of `options`."""

    id: str
    container_id: str
    playbook: str
    workflow_id: str
    role: str
    message: str
    options: list[str]
    on_timeout: str
    created: datetime
    deadline: datetime
    state: PromptState = PromptState.PENDING
    response: PromptResponse | None = None


class PromptResponse(BaseModel):
    """An analyst's answer to a prompt."""

    prompt_id: str
    option: str
    responder: str
    responder_roles: list[str] = Field(default_factory=list)
    comment: str = Field(default="", max_length=5000)
    responded_at: datetime | None = None


class PromptAck(BaseModel):
    """What the analyst's client gets back from answering a prompt."""

    prompt_id: str
    option: str
    next_step: str
    waited_s: float = 0.0


class Approval(BaseModel):
    """Proof that an analyst decided: high-impact actions refuse to run without one."""

    prompt_id: str
    responder: str
    option: str
    approved_at: datetime


Prompt.model_rebuild()
