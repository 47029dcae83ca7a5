"""Analyst prompts, their responses and the signed approvals high-impact actions require."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from core.approvals import AuthorizedAction, SignedApproval


class PromptState(StrEnum):
    """Lifecycle of a prompt."""

    PENDING = "pending"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class Target(BaseModel):
    """Something a prompt asks to act on, and where it came from (so the analyst can judge it)."""

    kind: str = Field(description="host, user, ip, url, domain, hash")
    value: str
    source: str = Field(default="", description="e.g. 'artifact 2 (EDR detection), added by ingest'")


class Prompt(BaseModel):
    """A question put to analysts holding `role`, answered by choosing one of `options`.

    `authorizes` says, per option, which high-impact actions on which targets an analyst choosing it
    approves: the API signs exactly that into the approval, and the actions verify it.
    """

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
    authorizes: dict[str, list[AuthorizedAction]] = Field(default_factory=dict)
    targets: list[Target] = Field(default_factory=list)
    started_by: str | None = Field(default=None, description="Who started the run (a user or a trigger)")


class PromptResponse(BaseModel):
    """An analyst's answer to a prompt. Who answered, with which roles, comes from the signed approval."""

    prompt_id: str
    option: str
    comment: str = Field(default="", max_length=5000)
    approval: SignedApproval | None = None
    responder: str = ""
    responder_roles: list[str] = Field(default_factory=list)
    responded_at: datetime | None = None


class PromptAck(BaseModel):
    """What the analyst's client gets back from answering a prompt."""

    prompt_id: str
    option: str
    next_step: str
    waited_s: float = 0.0


Prompt.model_rebuild()
