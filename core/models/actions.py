"""Connector action inputs and results (Splunk SOAR's action-result shape)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.approvals import SignedApproval


class ActionInput(BaseModel):
    """What a connector activity receives. Secrets never travel here: only the asset's name."""

    asset: str
    params: dict[str, Any] = Field(default_factory=dict)
    approval: SignedApproval | None = Field(default=None, description="An analyst's signed approval")
    approvals: list[SignedApproval] = Field(default_factory=list,
                                            description="More approvals of the same decision (a quorum)")
    container_id: str | None = None
    correlation_id: str | None = Field(
        default=None, description="Stable id of this action within a run; makes side effects idempotent"
    )
    require_approval: bool = Field(
        default=False, description="The workflow asks for a verified approval although the asset does not mark "
                                   "the action high impact (its target came only from input a sender can forge)")


class CacheInfo(BaseModel):
    """Where a read-only answer came from: when the vendor gave it, and whether this caller got it from the
    cache (`hit`) rather than from its own call."""

    stored_at: datetime
    hit: bool = False
    process: str = Field(default="", description="The worker process whose cache holds it (internal)")


class ActionResult(BaseModel):
    """The result of one action: `status`, a one-line `message`, a `summary` dict and `data` rows."""

    status: Literal["success", "failed"] = "success"
    message: str = ""
    summary: dict[str, Any] = Field(default_factory=dict)
    data: list[dict[str, Any]] = Field(default_factory=list)
    cache: CacheInfo | None = Field(default=None, description="Set for answers of assets with cache_ttl_s")


class AssetRoute(BaseModel):
    """How a workflow reaches an asset: its connector and the task queue its actions run on."""

    asset: str
    connector: str
    title: str
    task_queue: str
    high_impact_actions: list[str] = Field(default_factory=list, description="Actions needing an approval here")
    approval_quorum: dict[str, int] = Field(default_factory=dict, description="Action -> distinct approvers needed")
    unavailable: str | None = Field(default=None, description="Why the asset cannot be used (config error)")
    approver_role: str = Field(default="soc_tier2", description="Who approves its unrequested high-impact actions")
    cache_ttl_s: float = Field(default=0.0, description="Read-only answers are cached this long (0: never)")
    rate_limited: bool = Field(default=False, description="Its actions wait for the asset queue's rate")


class ActionRecord(BaseModel):
    """One executed step of a playbook, as it appears in the report."""

    index: int
    action: str
    connector: str
    title: str
    asset: str
    target: str = ""
    started: datetime
    duration_s: float
    status: Literal["success", "failed", "skipped"]
    message: str
    summary: dict[str, Any] = Field(default_factory=dict)
    kind: Literal["action", "prompt"] = "action"
    cached_at: datetime | None = Field(default=None, description="Answered from the cache: when it was fetched")
