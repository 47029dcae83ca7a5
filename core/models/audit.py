"""The audit trail: every analyst decision, refused answer, approval failure and guardrail refusal.

Audit events live in the container's state (so they are in Temporal history and on the container's
timeline) and are listed across containers by `GET /api/v1/audit`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class AuditKind(StrEnum):
    """What happened."""

    PROMPT_ANSWERED = "prompt_answered"          # an answer that decided the prompt
    APPROVAL_RECORDED = "approval_recorded"      # one approval of a quorum, not yet enough
    APPROVAL_WITHDRAWN = "approval_withdrawn"
    PROMPT_DELEGATED = "prompt_delegated"
    PROMPT_ESCALATED = "prompt_escalated"
    PROMPT_TIMED_OUT = "prompt_timed_out"
    ANSWER_REFUSED = "answer_refused"            # wrong role, expired, forged, option not offered
    APPROVAL_INVALID = "approval_invalid"        # a high-impact action's approval did not verify
    GUARDRAIL_REFUSED = "guardrail_refused"
    OPERATION_REFUSED = "operation_refused"      # an analyst operation their roles do not allow
    OPERATOR_APPROVAL = "operator_approval"
    NOTIFICATION_FAILED = "notification_failed"  # a channel could not be reached (the playbook went on)


class AuditEvent(BaseModel):
    """Who did what to which container, prompt and target, from where, when, and how it ended."""

    time: datetime
    kind: AuditKind
    actor: str = Field(description="The user (or playbook) that acted")
    roles: list[str] = Field(default_factory=list)
    container_id: str | None = None
    prompt_id: str | None = None
    option: str | None = None
    action: str | None = None
    target: str | None = None
    source: str | None = Field(default=None, description="Client address, or 'workflow' / 'activity'")
    outcome: str = Field(default="accepted", description="accepted | refused")
    detail: str = Field(default="", max_length=2000)
