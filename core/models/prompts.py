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
    policy: PromptPolicy = Field(default_factory=lambda: PromptPolicy())
    approvals: list[PromptResponse] = Field(default_factory=list,
                                            description="Approving answers so far (a quorum needs several)")
    escalated: bool = False
    delegated_to: str | None = Field(default=None, description="Only this user (or a manager) may answer")
    reminders_sent: int = 0

    def roles_allowed(self) -> set[str]:
        """Who may answer: the prompt's role, its escalation role once escalated, and admins."""
        roles = {self.role, "admin"}
        if self.escalated and self.policy.escalate_to:
            roles.add(self.policy.escalate_to)
        return roles

    def refusal(self, user: str, roles: list[str] | set[str]) -> str | None:
        """Why `user` with `roles` may not answer now (None when they may)."""
        allowed = self.roles_allowed()
        if not allowed & set(roles):
            return f"prompt {self.id} is addressed to role {' or '.join(sorted(allowed - {'admin'}))}; {user} lacks it"
        if self.delegated_to and user != self.delegated_to and not {"admin", "soc_manager"} & set(roles):
            return f"prompt {self.id} was handed to {self.delegated_to}; only they (or a manager) may answer"
        if any(a.responder == user for a in self.approvals):
            return f"{user} already approved prompt {self.id}; a quorum needs {self.policy.quorum} different people"
        return None

    def approving(self, option: str) -> bool:
        """Whether `option` authorises any action (a quorum applies to it; any other option decides at once)."""
        return bool(self.authorizes.get(option))


class PromptPolicy(BaseModel):
    """How a prompt waits: how many distinct approvers, reminders before the deadline, escalation after it."""

    quorum: int = Field(default=1, ge=1, le=10, description="Distinct approvers an approving option needs")
    reminders: list[float] = Field(default_factory=list, description="Fractions of the wait, e.g. [0.5, 0.8]")
    escalate_to: str | None = Field(default=None, description="Role re-asked when the deadline passes")
    escalate_for_s: float = Field(default=600.0, gt=0, le=86_400, description="How long the escalation waits")


class PromptResponse(BaseModel):
    """An analyst's answer to a prompt. Who answered, with which roles, comes from the signed approval."""

    prompt_id: str
    option: str
    comment: str = Field(default="", max_length=5000)
    approval: SignedApproval | None = None
    responder: str = ""
    responder_roles: list[str] = Field(default_factory=list)
    responded_at: datetime | None = None


class PromptEvent(BaseModel):
    """Something that happened to a prompt that analysts should hear about (notifications, the report)."""

    prompt_id: str
    kind: str = Field(description="opened | reminder | escalated | delegated | decided | timed_out")
    at: datetime
    role: str = Field(description="Who is asked now")
    deadline: datetime
    detail: str = ""
    to_user: str | None = Field(default=None, description="A delegation's colleague")
    prompt: Prompt | None = Field(default=None, description="The prompt as it now stands (role, deadline, approvals)")


class PromptAck(BaseModel):
    """What the analyst's client gets back from answering a prompt."""

    prompt_id: str
    option: str
    next_step: str
    waited_s: float = 0.0
    decided: bool = Field(default=True, description="False while a quorum still needs more approvals")
    approvals: int = Field(default=1, description="Distinct approvals of the option so far")
    quorum: int = 1


Prompt.model_rebuild()
PromptResponse.model_rebuild()
PromptEvent.model_rebuild()
