"""Containers: ingest in Splunk SOAR's shape, list, read, change, run playbooks, report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import Analyst, Ingester, Reader
from api.deps import ClientDep
from api.errors import rpc_error, update_error
from api.service import (
    Accepted,
    ContainerIn,
    container_handle,
    decode_page_token,
    encode_page_token,
    fetch_page,
    ingest,
    safe_filter,
)
from core.models import Artifact, Container, Severity, Status
from workflows.messages import AnalystChange, ContainerView, RunPlaybookRequest

router = APIRouter(prefix="/api/v1/containers", tags=["containers"])


class CommentIn(BaseModel):
    """A comment."""

    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=20_000)


class ContainerPatch(BaseModel):
    """Fields an analyst may change."""

    model_config = ConfigDict(extra="forbid")
    status: Status | None = None
    severity: Severity | None = None
    owner: str | None = Field(default=None, max_length=256)
    disposition: str | None = Field(default=None, max_length=256)
    comment: str | None = Field(default=None, max_length=20_000)


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


@router.post("", status_code=202, response_model=Accepted)
async def create_container(body: ContainerIn, request: Request, user: Ingester, client: ClientDep) -> Accepted:
    """Ingest a container (Splunk SOAR shape). The same `source_data_identifier` returns the existing one."""
    c = Container(**body.model_dump(exclude={"artifacts"}), artifacts=body.artifacts)
    return await ingest(request, client, c, "api")


@router.get("", response_model=dict)
async def list_containers(
    user: Reader, client: ClientDep,
    label: str | None = None, severity: Severity | None = None, status: Status | None = None,
    playbook: str | None = None, page_size: int = Query(50, ge=1, le=500), page_token: str | None = None,
) -> dict[str, Any]:
    """Containers from Temporal visibility, newest first, filtered and paginated."""
    q = ["WorkflowType='ContainerWorkflow'"]
    if (v := safe_filter("label", label)) is not None:
        q.append(f"SoarLabel='{v}'")
    if severity is not None:
        q.append(f"SoarSeverity='{severity.value}'")
    if status is not None:
        q.append(f"SoarStatus='{status.value}'")
    if (v := safe_filter("playbook", playbook)) is not None:
        q.append(f"SoarPlaybook='{v}'")
    token = decode_page_token(page_token)
    it = client.list_workflows(" AND ".join(q), page_size=page_size, next_page_token=token)
    await fetch_page(it, token is not None)
    rows = []
    for wf in it.current_page or []:
        sa = wf.search_attributes

        def one(name: str, sa: Any = sa) -> Any:
            v = sa.get(name)
            return v[0] if isinstance(v, list) and v else v

        rows.append(ContainerSummary(
            id=one("SoarContainerId") or wf.id.removeprefix("container/"), name=None, label=one("SoarLabel"),
            severity=one("SoarSeverity"), status=one("SoarStatus"), disposition=one("SoarDisposition") or None,
            playbooks=[str(x) for x in (sa.get("SoarPlaybook") or [])], awaiting_prompt=bool(one("SoarAwaitingPrompt")),
            auto_resolved=bool(one("SoarAutoResolved")),
            created=wf.start_time.isoformat() if wf.start_time else None,
            closed=wf.close_time.isoformat() if wf.close_time else None,
        ).model_dump())
    nxt = it.next_page_token
    return {"count": len(rows), "data": rows,
            "next_page_token": encode_page_token(nxt)}


async def _view(client: ClientDep, container_id: str) -> ContainerView:
    h = container_handle(client, container_id)
    try:
        return await h.query("view", result_type=ContainerView)  # type: ignore[no-any-return]
    except RPCError as e:
        raise rpc_error(e, f"container {container_id}") from None


@router.get("/{container_id}", response_model=ContainerView)
async def get_container(container_id: str, user: Reader, client: ClientDep) -> ContainerView:
    """The container's state, comments, artifacts, runs and pending prompts."""
    return await _view(client, container_id)


async def _change(client: ClientDep, container_id: str, ch: AnalystChange) -> ContainerView:
    h = container_handle(client, container_id)
    try:
        return await h.execute_update("change", ch, result_type=ContainerView)  # type: ignore[no-any-return]
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        raise rpc_error(e, f"open container {container_id}") from None


@router.post("/{container_id}/comments", response_model=ContainerView)
async def add_comment(container_id: str, body: CommentIn, user: Analyst, client: ClientDep) -> ContainerView:
    """Comment on a container (recorded with the user and time)."""
    return await _change(client, container_id, AnalystChange(user=user.name, comment=body.text))


@router.patch("/{container_id}", response_model=ContainerView)
async def patch_container(container_id: str, body: ContainerPatch, user: Analyst, client: ClientDep) -> ContainerView:
    """Change status, severity, owner or disposition. Closing ends the container."""
    return await _change(client, container_id, AnalystChange(user=user.name, **body.model_dump()))


@router.post("/{container_id}/artifacts", response_model=ContainerView)
async def add_artifacts(container_id: str, body: ArtifactsIn, request: Request, user: Analyst,
                        client: ClientDep) -> ContainerView:
    """Add artifacts."""
    limit = request.app.state.settings.api_max_artifacts
    if len(body.artifacts) > limit:
        raise HTTPException(422, f"artifacts: {len(body.artifacts)} given; the limit is {limit} per request")
    return await _change(client, container_id, AnalystChange(user=user.name, artifacts=body.artifacts))


@router.post("/{container_id}/playbooks", status_code=202)
async def run_playbook(container_id: str, body: PlaybookRunIn, user: Analyst, client: ClientDep) -> dict[str, str]:
    """Run a playbook on the container by name."""
    h = container_handle(client, container_id)
    try:
        wid = await h.execute_update("run_playbook", RunPlaybookRequest(playbook=body.playbook, user=user.name),
                                     result_type=str)
    except WorkflowUpdateFailedError as e:
        raise update_error(e) from None
    except RPCError as e:
        raise rpc_error(e, f"open container {container_id}") from None
    return {"workflow_id": wid, "playbook": body.playbook, "container_id": container_id}


@router.get("/{container_id}/report", responses={200: {"content": {"text/plain": {}, "application/json": {}}}})
async def report(container_id: str, user: Reader, client: ClientDep,
                 accept: str | None = Header(default=None)) -> Response:
    """The execution report: text by default, JSON with `Accept: application/json`."""
    from core.report import build_report, render_text

    rep = build_report(await _view(client, container_id))
    if accept and "application/json" in accept:
        return JSONResponse(rep.model_dump(mode="json"))
    return PlainTextResponse(render_text(rep))
