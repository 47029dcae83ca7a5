"""Inputs and results of the workflows' own calls (one model per call, so fields can be added safely)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from core.models import (
    ActionResult,
    Artifact,
    AssetRoute,
    AuditEvent,
    Comment,
    Container,
    NotifyRule,
    PlaybookOutcome,
    PlaybookRun,
    Prompt,
    PromptEvent,
    PromptPolicy,
    RunStatus,
    Severity,
    Status,
)


class Reopen(BaseModel):
    """Why a closed container starts again: a new alert with new content, or an analyst."""

    reason: str
    by: str
    artifacts: list[Artifact] = Field(default_factory=list, description="New artifacts the reopening brings")
    playbooks: list[str] = Field(default_factory=list, description="Playbooks to run on those artifacts")
    run_as: str = "automation"


class ContainerInput(BaseModel):
    """Start (or continue-as-new, or reopening) of a container workflow."""

    container: Container
    playbooks: list[str] | None = Field(default=None, description="Run these instead of matching triggers")
    respond_in_s: float | None = None
    notes: list[str] = Field(default_factory=list, description="Ingestion notes, added as system comments")
    predicted: list[str] | None = Field(default=None, description="Playbooks already in the start-time "
                                                                    "search attributes (status open)")
    state: ContainerState | None = None
    reopen: Reopen | None = Field(default=None, description="Set when a closed container is reopened")
    matched: MatchResult | None = Field(default=None, description="The triggers' matches and the asset routes, "
                                                                  "when the starter matched them (the API does)")
    version: int = Field(default=0, description="The behaviour this run has (workflows/versions.py); 0: before")
    prompts: list[Prompt] = Field(default_factory=list, description="Prompts pending when the previous run "
                                                                    "continued-as-new")
    adopted: list[str] = Field(default_factory=list, description="Runs in flight handed over at continue-as-new "
                                                                 "(workflow ids): they report their end by signal")


class ContainerState(BaseModel):
    """The container's canonical state (also carried across continue-as-new)."""

    container: Container
    comments: list[Comment] = Field(default_factory=list)
    disposition: str | None = None
    promoted_template: str | None = None
    runs: list[PlaybookRun] = Field(default_factory=list)
    auto_resolved: bool = False
    routes: dict[str, AssetRoute] = Field(default_factory=dict)
    prompt_policy: PromptPolicy | None = None
    audit: list[AuditEvent] = Field(default_factory=list, description="The container's audit trail (capped)")
    prompt_events: list[PromptEvent] = Field(default_factory=list, description="Prompts opened, reminded, "
                                                                               "escalated, decided (capped)")
    audit_dropped: int = 0
    comments_dropped: int = Field(default=0, description="Comments not kept past the comment cap")
    notify: list[NotifyRule] = Field(default_factory=list, description="Where prompt events are announced "
                                                                      "(channel names; from notifications.json)")
    manual_runs: int = 0
    awaiting_prompt: bool = False
    notes: list[str] = Field(default_factory=list)
    alerts: int = Field(default=1, description="Alerts merged into this container (the first one included)")
    left_open_by: str | None = Field(default=None, description="The playbook run (workflow id) that left it open "
                                                               "for an analyst; no other run closes it")
    reopened: int = 0
    automations: int = Field(default=1, description="Times its playbooks were started on new content (the first "
                                                   "alert's included); names the runs (`.../alert-<n>`)")
    unautomated: int = Field(default=0, description="Trailing artifacts added without automation (run_automation "
                                                    "false); the next automated addition runs on them too")


class RunEnded(BaseModel):
    """How a playbook run ended, as the container applies it: the child's result, or (a run handed over at
    continue-as-new) the `run_ended` signal the run sends."""

    workflow_id: str
    status: RunStatus
    outcome: PlaybookOutcome | None = None
    error: str | None = Field(default=None, description="Why it failed, when it has no outcome")


PROMPT_FEED_PATH = "/internal/v1/prompt-feed"  # where workers post `PromptHint`s (api/routers/feed.py)


class PromptHint(BaseModel):
    """Runs that just opened prompts, for the API's fresh prompt list (activities/prompt_feed.py)."""

    workflow_ids: list[str]


class MoreAlert(BaseModel):
    """The same alert again, with content: its artifacts are merged (deduplicated) and its playbooks run."""

    artifacts: list[Artifact] = Field(default_factory=list)
    playbooks: list[str] = Field(default_factory=list, description="The playbooks its triggers match")
    run_as: str = "automation"
    source: str = Field(default="ingest", description="Who sent it (the ingesting user or route)")
    notes: list[str] = Field(default_factory=list)
    run_automation: bool = Field(default=True, description="Run the playbooks now, on these artifacts and on "
                                                           "those added earlier without automation (Splunk's "
                                                           "run_automation)")
    count_alert: bool = Field(default=True, description="A new alert (false: artifacts added to the same one)")


class MoreAlertAck(BaseModel):
    """What merging did."""

    artifacts_added: int
    artifacts_duplicate: int
    playbooks: list[str] = Field(default_factory=list, description="Runs started on the new artifacts")
    added: list[bool] = Field(default_factory=list, description="Per artifact sent: new (true) or a duplicate")


class TriggerMatch(BaseModel):
    """A playbook to start and the identity it runs as."""

    playbook: str
    run_as: str = "automation"


class MatchInput(BaseModel):
    """Input of the trigger-matching activity."""

    container: Container
    playbooks: list[str] | None = None


class MatchResult(BaseModel):
    """Which playbooks to run, how to reach every asset, and how prompts wait in this deployment."""

    matches: list[TriggerMatch]
    routes: dict[str, AssetRoute]
    prompt_policy: PromptPolicy | None = None
    notify: list[NotifyRule] = Field(default_factory=list, description="Prompt notification routes")


class CacheLookup(BaseModel):
    """Before dispatching a read-only lookup to a rate-limited asset queue: is the answer cached here?"""

    asset: str
    action: str
    params: dict[str, object] = Field(default_factory=dict)
    workflow_id: str = Field(description="Who to send the answer of an identical call under way (a signal)")
    run_id: str
    token: str = Field(description="Names this lookup in the answer")
    claim_s: float = Field(default=600.0, description="How long this caller's claim on the key holds")


class CacheAnswer(BaseModel):
    """`hit` (the answer), `wait` (an identical call is under way: its answer will be signalled), `miss` (this
    caller claimed the key: dispatch the call), or `off` (the asset does not cache this action here)."""

    outcome: Literal["hit", "wait", "miss", "off"]
    result: ActionResult | None = None
    process: str = Field(default="", description="The worker process that answered (its cache holds the claim)")


class CacheDelivery(BaseModel):
    """The signal that hands a waiting lookup its answer (None: there is none; dispatch the call)."""

    token: str
    result: ActionResult | None = None


class CacheSettle(BaseModel):
    """The claimant's answer, when it came from another worker process or not at all (None)."""

    asset: str
    action: str
    params: dict[str, object] = Field(default_factory=dict)
    result: ActionResult | None = None


class RunPlaybookRequest(BaseModel):
    """An analyst's manual run of a playbook."""

    playbook: str
    user: str
    scope: list[str] | None = Field(default=None, description="Run on these artifacts only (content digests); "
                                                              "None: all of them")


class AnalystChange(BaseModel):
    """An analyst's change to a container (status, severity, owner, comment, artifacts)."""

    user: str
    comment: str | None = Field(default=None, max_length=20_000)
    status: Status | None = None
    severity: Severity | None = None
    owner: str | None = None
    disposition: str | None = None
    artifacts: list[Artifact] = Field(default_factory=list)


class ChangeAck(BaseModel):
    """What an analyst's change returns: small, since every update's result is written to history (the
    full view is a query away)."""

    container_id: str
    status: Status
    severity: Severity
    owner: str | None = None
    disposition: str | None = None
    comments: int = Field(description="Comments on the container now")
    artifacts: int = Field(description="Artifacts in the container now")


class ContainerView(BaseModel):
    """What a query of the container returns."""

    id: str
    state: ContainerState
    pending_prompts: list[Prompt] = Field(default_factory=list)
    closed_at: datetime | None = None


ContainerInput.model_rebuild()
MatchResult.model_rebuild()
