"""Domain models shared by workflows, activities, the API and the CLI (all pydantic v2)."""

from core.models.actions import ActionInput, ActionRecord, ActionResult, AssetRoute
from core.models.audit import AuditEvent, AuditKind
from core.models.container import (
    Artifact,
    Comment,
    Container,
    ContainerEvent,
    Note,
    Pin,
    Sensitivity,
    Severity,
    Status,
)
from core.models.notifications import NotifyInput, NotifyResult, NotifyRule, PromptNotice
from core.models.prompts import Prompt, PromptAck, PromptEvent, PromptPolicy, PromptResponse, PromptState, Target
from core.models.runs import PlaybookInput, PlaybookOutcome, PlaybookRun, RunStatus

__all__ = [
    "ActionInput",
    "ActionRecord",
    "ActionResult",
    "AuditEvent",
    "AuditKind",
    "Artifact",
    "AssetRoute",
    "Comment",
    "Container",
    "ContainerEvent",
    "Note",
    "NotifyInput",
    "NotifyResult",
    "NotifyRule",
    "PlaybookInput",
    "PlaybookOutcome",
    "PlaybookRun",
    "Pin",
    "Prompt",
    "PromptAck",
    "PromptEvent",
    "PromptNotice",
    "PromptPolicy",
    "PromptResponse",
    "PromptState",
    "RunStatus",
    "Sensitivity",
    "Severity",
    "Status",
    "Target",
]
