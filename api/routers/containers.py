"""Containers: ingest in Splunk SOAR's shape, list, read, change, run playbooks, report."""

from __future__ import annotations

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowExecution

from api import container_ops as ops
from api.auth import Analyst, Ingester, Reader
from api.container_ops import ContainerPatch
from api.deps import ClientDep
from api.live import live_report
from api.permissions import require
from api.report import Report, render_text
from api.service import Accepted, ContainerIn, Page, ingest, safe_filter, visibility_page
from core.config.roles import Operation
from core.models import Artifact, Container, Severity, Status
from core.temporal import (
    SA_AUTO_RESOLVED,
    SA_AWAITING_PROMPT,
    SA_CONTAINER_ID,
    SA_DISPOSITION,
    SA_LABEL,
    SA_NAME,
    SA_PLAYBOOK,
    SA_SEVERITY,
    SA_STATUS,
)
from core.visibility import WORKFLOW_TYPE, Filter
from workflows.container import ContainerWorkflow
from workflows.ids import CONTAINER_PREFIX
from workflows.messages import AnalystChange, ContainerView

router = APIRouter(prefix="/api/v1/containers", tags=["containers"])


class CommentIn(BaseModel):
    """A comment."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)


class ArtifactsIn(BaseModel):
    """Artifacts to add."""

    model_config = ConfigDict(extra="forbid")
    artifacts: list[Artifact] = Field(min_length=1)


class PlaybookRunIn(BaseModel):
    """A manual playbook run."""

    model_config = ConfigDict(extra="forbid")
    playbook: str = Field(min_length=1, max_length=128)


class ContainerSummary(BaseModel):
    """One row of the container list (from Temporal visibility)."""

    id: str
    name: str | None = None
    label: str | None = None
    severity: str | None = None
    status: str | None = None
    disposition: str | None = None
    playbooks: list[str] = Field(default_factory=list)
    awaiting_prompt: bool = False
    auto_resolved: bool = False
    created: str | None = None
    closed: str | None = None


class ContainerList(Page[ContainerSummary]):
    """`GET /api/v1/containers`: one page of containers, newest first."""


class PlaybookStarted(BaseModel):
    """A manual playbook run was started (202)."""

    workflow_id: str
    playbook: str
    container_id: str


@router.post("", status_code=202, response_model=Accepted)
async def create_container(body: ContainerIn, request: Request, user: Ingester, client: ClientDep) -> Accepted:
    """Ingest a container (Splunk SOAR shape). The same `source_data_identifier` returns the existing one."""
    c = Container(**body.model_dump(exclude={"artifacts"}), artifacts=body.artifacts)
    return await ingest(request, client, c, "api")


# The workflow type name that `@workflow.defn` gave ContainerWorkflow (the SDK keeps it on the class).
CONTAINER_WORKFLOW_TYPE: str = getattr(ContainerWorkflow, "__temporal_workflow_definition").name


def container_filter(*, label: str | None = None, severity: Severity | None = None, status: Status | None = None,
                     playbook: str | None = None, awaiting_prompt: bool | None = None, q: str | None = None,
                     names_indexed: bool = True) -> Filter:
    """The visibility filter of a container listing (each value checked by `safe_filter`: 422 when unsafe).

    Raises:
        HTTPException: 422 for an unsafe value, or a name search while names are not indexed.
    """
    words = " ".join((q or "").split()) or None
    if words and not names_indexed:
        raise HTTPException(422, "q: searching names is off while payload encryption is on (names would be "
                                 "stored in plaintext in visibility, so they are not indexed)")
    return (Filter().where(WORKFLOW_TYPE, CONTAINER_WORKFLOW_TYPE)
            .where_set(SA_LABEL, safe_filter("label", label)).where_set(SA_SEVERITY, severity)
            .where_set(SA_STATUS, status).where_set(SA_PLAYBOOK, safe_filter("playbook", playbook))
            .where_set(SA_AWAITING_PROMPT, awaiting_prompt).where_set(SA_NAME, safe_filter("q", words)))


def summary(wf: WorkflowExecution) -> ContainerSummary:
    sa = wf.typed_search_attributes
    return ContainerSummary(
        id=sa.get(SA_CONTAINER_ID) or wf.id.removeprefix(CONTAINER_PREFIX), name=sa.get(SA_NAME),
        label=sa.get(SA_LABEL),
        severity=sa.get(SA_SEVERITY), status=sa.get(SA_STATUS), disposition=sa.get(SA_DISPOSITION) or None,
        playbooks=list(sa.get(SA_PLAYBOOK) or []), awaiting_prompt=bool(sa.get(SA_AWAITING_PROMPT)),
        auto_resolved=bool(sa.get(SA_AUTO_RESOLVED)),
        created=wf.start_time.isoformat() if wf.start_time else None,
        closed=wf.close_time.isoformat() if wf.close_time else None,
    )


@router.get("", response_model=ContainerList)
async def list_containers(
    request: Request, user: Reader, client: ClientDep,
    label: str | None = None, severity: Severity | None = None, status: Status | None = None,
    playbook: str | None = None, awaiting_prompt: bool | None = None,
    q: str | None = Query(None, max_length=200, description="Words of the container's name (all must occur)"),
    page_size: int = Query(50, ge=1, le=500), page_token: str | None = None,
) -> ContainerList:
    """Containers from Temporal visibility, newest first, filtered and paginated."""
    query = container_filter(label=label, severity=severity, status=status, playbook=playbook,
                             awaiting_prompt=awaiting_prompt, q=q,
                             names_indexed=request.app.state.settings.encryption_key is None)
    found, next_token = await visibility_page(client, query, page_size, page_token)
    rows = [summary(wf) for wf in found]
    return ContainerList(count=len(rows), data=rows, next_page_token=next_token)


@router.get("/{container_id}", response_model=ContainerView)
async def get_container(container_id: str, user: Reader, client: ClientDep) -> ContainerView:
    """The container's state, comments, artifacts, runs and pending prompts."""
    return await ops.view_of(client, container_id)


@router.post("/{container_id}/comments", response_model=ContainerView)
async def add_comment(container_id: str, body: CommentIn, request: Request, user: Analyst,
                      client: ClientDep) -> ContainerView:
    """Comment on a container (recorded with the user and time)."""
    return await ops.add_comment(request, client, user, container_id, body.text)


@router.patch("/{container_id}", response_model=ContainerView)
async def patch_container(container_id: str, body: ContainerPatch, request: Request, user: Analyst,
                          client: ClientDep) -> ContainerView:
    """Change status, severity, owner or disposition. Closing ends the container; `status: open` on a closed
    container reopens it (a new run of its workflow carrying its state, comments and history)."""
    return await ops.patch(request, client, user, container_id, body)


@router.post("/{container_id}/artifacts", response_model=ContainerView)
async def add_artifacts(container_id: str, body: ArtifactsIn, request: Request, user: Analyst,
                        client: ClientDep) -> ContainerView:
    """Add artifacts."""
    await require(request, client, user, container_id, [(Operation.ADD_ARTIFACTS, None)])
    limit = request.app.state.settings.api_max_artifacts
    if len(body.artifacts) > limit:
        raise HTTPException(422, f"artifacts: {len(body.artifacts)} given; the limit is {limit} per request")
    return await ops.apply_change(client, container_id, AnalystChange(user=user.name, artifacts=body.artifacts))


@router.post("/{container_id}/playbooks", status_code=202, response_model=PlaybookStarted)
async def run_playbook(container_id: str, body: PlaybookRunIn, request: Request, user: Analyst,
                       client: ClientDep) -> PlaybookStarted:
    """Run a playbook on the container by name (a playbook that can contain needs the role its prompts need)."""
    wid = await ops.start_playbook(request, client, user, container_id, body.playbook)
    return PlaybookStarted(workflow_id=wid, playbook=body.playbook, container_id=container_id)


@router.get("/{container_id}/report", response_model=Report,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}},
                             "description": "The text report; JSON (`Report`) with `Accept: application/json`"}})
async def report(container_id: str, user: Reader, client: ClientDep,
                 accept: str | None = Header(default=None)) -> Response:
    """The execution report: text by default, JSON with `Accept: application/json`. While a run goes on it shows
    the actions finished so far, those running (attempt, last error, next try) and the prompt's time left."""
    rep = await live_report(client, await ops.view_of(client, container_id))
    if accept and "application/json" in accept:
        return JSONResponse(rep.model_dump(mode="json"))
    return PlainTextResponse(render_text(rep))
