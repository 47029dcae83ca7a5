"""Playbook runs: their input, outcome and the summary the container keeps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from core.models.actions import ActionRecord, AssetRoute
from core.models.container import Container, ContainerEvent
from core.models.prompts import PromptPolicy


class RunStatus(StrEnum):
    """Status of a playbook run (Splunk SOAR's names)."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"


class PlaybookInput(BaseModel):
    """What a playbook child workflow receives from its container."""

    container: Container
    container_workflow_id: str
    run_as: str = "automation"
    routes: dict[str, AssetRoute] = Field(default_factory=dict, description="connector name -> route")
    respond_in_s: float | None = Field(default=None, description="Override of prompt deadlines (seconds)")
    suffix: str | None = Field(default=None, description="Workflow id suffix (manual re-runs, nested runs)")
    params: dict[str, str] = Field(default_factory=dict, description="Playbook-specific inputs")
    prompt_policy: PromptPolicy | None = Field(default=None, description="The deployment's reminders/escalation")
    playbook: str = Field(default="", description="The playbook to run (the generic Phantom workflow reads it)")
    playbook_sha256: str = Field(default="", description="A Phantom playbook's source version (SHA-256)")
    version: int = Field(default=0, description="The behaviour this run has (workflows/versions.py); 0: before")


class PlaybookOutcome(BaseModel):
    """What a playbook returns: its records, final changes and disposition (carried as the child result)."""

    playbook: str
    title: str
    version: str
    baseline_minutes: float
    status: RunStatus = RunStatus.SUCCESS
    actions: list[ActionRecord] = Field(default_factory=list)
    started: datetime
    ended: datetime
    auto_resolved: bool = False
    final: ContainerEvent | None = Field(default=None, description="Changes applied when the run ends")
    error: str | None = None
    outputs: dict[str, Any] = Field(default_factory=dict, description="A Phantom playbook's saved output data")


class PlaybookRun(BaseModel):
    """A run as the container records it."""

    playbook: str
    workflow_id: str
    status: RunStatus = RunStatus.RUNNING
    started: datetime
    ended: datetime | None = None
    run_as: str = "automation"
    outcome: PlaybookOutcome | None = None
