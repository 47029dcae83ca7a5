"""Prompt notifications as workflows see them: routing rules and notices that name channels, never secrets.

The container workflow matches each prompt event against the rules it got at trigger matching and starts one
`soar.notify` activity per channel; the activity resolves the channel's webhook URL, password or signing key
from notifications.json (`core/config/notifications.py`), so no secret enters workflow history.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from core.models.prompts import Target

# The prompt events analysts are told about (a decision or a delegation is not announced).
NOTIFIED_EVENTS = ("opened", "reminder", "escalated", "timed_out")


class NotifyRule(BaseModel):
    """Which channels hear about which prompts: by the role asked (escalations ask a second role), by the
    playbook that asked, or both (every given key must match)."""

    role: str | None = None
    playbook: str | None = None
    events: list[str] = Field(default_factory=lambda: list(NOTIFIED_EVENTS))
    channels: list[str] = Field(min_length=1)

    def matches(self, kind: str, role: str, playbook: str) -> bool:
        """Whether an event of `kind` for a prompt asking `role`, from `playbook`, goes to these channels."""
        return (kind in self.events and (self.role is None or self.role == role)
                and (self.playbook is None or self.playbook == playbook))


def channels_for(rules: list[NotifyRule], kind: str, role: str, playbook: str) -> list[str]:
    """Every channel named by a matching rule, once each, in the order the rules name them."""
    out: list[str] = []
    for r in rules:
        if r.matches(kind, role, playbook):
            out += [c for c in r.channels if c not in out]
    return out


class PromptNotice(BaseModel):
    """What a notification says: the prompt, what happened to it, and how to answer (no link: the activity
    builds it from `SOAR_PUBLIC_URL`)."""

    kind: str = Field(description="opened | reminder | escalated | timed_out")
    at: datetime
    prompt_id: str
    container_id: str
    container_name: str = ""
    severity: str = ""
    playbook: str
    role: str = Field(description="Who is asked now")
    message: str
    options: list[str]
    high_impact: list[str] = Field(default_factory=list, description="Options that authorise containment")
    on_timeout: str
    deadline: datetime
    detail: str = ""
    started_by: str | None = None
    targets: list[Target] = Field(default_factory=list)


class NotifyInput(BaseModel):
    """Input of the `soar.notify` activity: one notice to one channel, by name."""

    channel: str
    notice: PromptNotice


class NotifyResult(BaseModel):
    """What the channel answered (for the activity's result in history: never the secret URL)."""

    channel: str
    kind: str
    detail: str = ""
