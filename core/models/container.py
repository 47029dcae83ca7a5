"""Containers (cases) and their artifacts, in Splunk SOAR's shape with CEF fields."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.cef import CEF_CONTAINS, validate_cef
from core.models.audit import AuditEvent
from core.models.prompts import Prompt, PromptEvent

NAME_MAX = 1024


class Severity(StrEnum):
    """Container severity."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Status(StrEnum):
    """Container status; `closed` ends the container workflow."""

    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class Sensitivity(StrEnum):
    """Traffic Light Protocol marking."""

    WHITE = "white"
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


class Artifact(BaseModel):
    """One indicator-bearing record of a container. Known CEF keys are validated on construction."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="artifact", max_length=NAME_MAX)
    label: str = Field(default="event", max_length=128)
    type: str = Field(default="", max_length=128)
    cef: dict[str, Any] = Field(default_factory=dict)
    severity: Severity = Severity.MEDIUM
    source_data_identifier: str | None = Field(default=None, max_length=512)
    tags: list[str] = Field(default_factory=list, max_length=50)
    added_by: str | None = Field(default=None, max_length=256,
                                 description="Who added it: the ingesting user, an analyst or a playbook")
    # Where in a parsed alert the values came from, set by the e-mail parser: `received_header` (a Received
    # hop: the sender can forge it), `received_header_trusted` (a hop our own relays added), `originating_ip_header`
    # (X-Originating-IP), `sender`, `body`, `url` (derived from a URL), `attachment`. None: not parsed by us
    # (webhook, API, Splunk REST). Response actions on `received_header` values need an approval.
    provenance: str | None = Field(default=None, max_length=64, pattern=r"^[a-z_]+$",
                                   description="Where the e-mail parser found the values (see the model)")

    @field_validator("cef")
    @classmethod
    def _check_cef(cls, v: dict[str, Any]) -> dict[str, Any]:
        return validate_cef(v)

    def indicators(self) -> dict[str, list[str]]:
        """The artifact's values grouped by kind (`url`, `hash`, `ip`, `domain`, `host`, `user`, `email`)."""
        out: dict[str, list[str]] = {}
        for key, kind in CEF_CONTAINS.items():
            value = self.cef.get(key)
            if isinstance(value, str) and value:
                out.setdefault(kind, []).append(value)
        return out


def artifact_digest(a: Artifact) -> str:
    """The content hash Splunk SOAR dedupes artifacts by within a container (name, label, type and CEF)."""
    body = json.dumps({"name": a.name, "label": a.label, "type": a.type, "cef": a.cef}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


class Comment(BaseModel):
    """A comment on a container, by a user, a playbook or the system."""

    author: str
    text: str = Field(max_length=20_000)
    time: datetime


class Container(BaseModel):
    """A container (case) as ingested: Splunk SOAR's container shape."""

    model_config = ConfigDict(extra="ignore")

    id: str | None = Field(default=None, description="Assigned by the platform, e.g. SOAR-7K2M9QXA4BC3")
    number: int | None = Field(default=None, description="The numeric id Splunk SOAR clients use (stable)")
    name: str = Field(min_length=1, max_length=NAME_MAX)
    label: str = Field(default="events", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\- ]+$")
    severity: Severity = Severity.MEDIUM
    sensitivity: Sensitivity = Sensitivity.AMBER
    status: Status = Status.NEW
    owner: str | None = Field(default=None, max_length=256)
    source_data_identifier: str | None = Field(default=None, max_length=512)
    description: str = Field(default="", max_length=20_000)
    artifacts: list[Artifact] = Field(default_factory=list)
    created: datetime | None = None
    closed: datetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    raw_ref: str | None = Field(default=None, description="Where the raw alert (e.g. an .eml) is kept")
    raw_sha256: str | None = None

    # ---- reading CEF values (what playbooks act on) ---------------------------------------------------
    def values(self, *keys: str, exclude_label: str | None = None) -> list[str]:
        """Distinct non-empty string values of the CEF `keys` across artifacts, in order of appearance.

        `exclude_label` skips artifacts with that label (e.g. a playbook's own `enrichment` artifacts).
        """
        seen: dict[str, None] = {}
        for a in self.artifacts:
            if exclude_label is not None and a.label == exclude_label:
                continue
            for key in keys:
                v = a.cef.get(key)
                if isinstance(v, str) and v:
                    seen.setdefault(v, None)
        return list(seen)

    def first(self, *keys: str) -> str | None:
        """The first value of the first of `keys` that any artifact has, or None."""
        for key in keys:
            found = self.values(key)
            if found:
                return found[0]
        return None

    def provenance(self, value: str) -> str:
        """Where `value` came from: `artifact 2 "EDR detection" (added by ingest:automation_user)`."""
        for i, a in enumerate(self.artifacts, 1):
            if value in (v for v in a.cef.values() if isinstance(v, str)):
                by = f" (added by {a.added_by})" if a.added_by else ""
                return f'artifact {i} "{a.name}"{by}'
        return "not in the artifacts"

    def origins(self, value: str) -> set[str]:
        """The provenances of the artifacts holding `value` ('' for an artifact that has none)."""
        return {a.provenance or "" for a in self.artifacts
                if value in (v for v in a.cef.values() if isinstance(v, str))}

    def indicators(self, kind: str) -> list[str]:
        """Distinct indicators of a kind (`url`, `hash`, `ip`, `domain`, `host`, `user`, `email`), in order."""
        seen: dict[str, None] = {}
        for a in self.artifacts:
            for v in a.indicators().get(kind, []):
                seen.setdefault(v, None)
        return list(seen)


class Note(BaseModel):
    """A note on a container (Splunk SOAR's `add_note`): a title and markdown/html/text content."""

    title: str = Field(default="", max_length=1024)
    content: str = Field(default="", max_length=100_000)
    note_format: str = Field(default="markdown", max_length=16)


class Pin(BaseModel):
    """A pinned card on a container (Splunk SOAR's `pin`): a message and a value."""

    message: str = Field(default="", max_length=1024)
    data: str = Field(default="", max_length=4096)
    name: str | None = Field(default=None, max_length=256)
    style: str = Field(default="grey", max_length=32)


class ContainerEvent(BaseModel):
    """A batch of changes a playbook step (or an analyst) sends to the container workflow.

    One signal carries all of a step's changes, because every signal costs the container a workflow task.
    """

    author: str = "automation"
    run: str | None = Field(default=None, description="The playbook run (workflow id) that sent it")
    comments: list[str] = Field(default_factory=list)
    severity: Severity | None = None
    status: Status | None = None
    owner: str | None = None
    disposition: str | None = None
    promote_template: str | None = None
    artifacts: list[Artifact] = Field(default_factory=list)
    auto_resolved: bool | None = None
    awaiting_prompt: bool | None = None
    prompts_opened: list[Prompt] = Field(default_factory=list)
    prompts_closed: list[str] = Field(default_factory=list)
    audit: list[AuditEvent] = Field(default_factory=list)
    prompt_events: list[PromptEvent] = Field(default_factory=list,
                                             description="Reminders, escalations, timeouts (for notifications)")
    notes: list[Note] = Field(default_factory=list)
    pins: list[Pin] = Field(default_factory=list)
    label: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.\- ]+$")
