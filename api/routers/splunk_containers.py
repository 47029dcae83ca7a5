"""Splunk SOAR's ingestion REST API, so existing integrations (Splunk's "Send to SOAR", SDK-based apps,
scripts with `requests` + `ph-auth-token`) post here unchanged (splunk-soar-compat.md §A.4-A.6).

- `POST /rest/container` (Splunk's fields, artifacts inline) -> `{"success": true, "id": N, "artifacts": [...]}`;
  the same `source_data_identifier` again -> `{"failed": true, "existing_container_id": N, ...}` (its new
  artifacts are merged and triaged all the same, as with every ingestion route).
- `POST /rest/artifact` (`container_id`, `cef`, `cef_types`, `label`, `name`, `source_data_identifier`,
  `run_automation`) -> `{"success": true, "id": N}`; an identical artifact (content hash per container) ->
  `{"failed": true, "message": "artifact already exists", "existing_artifact_id": N}`. With
  `run_automation: true` the container's playbooks run on the artifacts added since the last automation.
- `GET /rest/container/<id>`, `GET /rest/container/<id>/artifacts`, `GET /rest/artifact?_filter_container_id=N`.

Ids: containers have a stable numeric id (`workflows.ids.container_number_for`); every route takes it or
the `SOAR-...` id. An artifact's id is 53 bits of a hash of its container and content, so it is stable too.
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import Ingester, Reader
from api.deps import ClientDep
from api.errors import rpc_error
from api.routers.splunk import FAILED_RESPONSES, SplunkList, answer, failed, filtered_page, update_failed
from api.service import resolve_container_id
from api.splunk_filters import FilterError, ListArgsDep
from core.models import Artifact, Container, Sensitivity, Severity, Status
from core.models.container import artifact_digest
from workflows.container import ContainerWorkflow
from workflows.ids import container_workflow_id
from workflows.messages import ContainerView, MoreAlert
from workflows.starter import assign_id

router = APIRouter(prefix="/rest", tags=["splunk-soar"])
SEVERITIES = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


def artifact_number(container_id: str, a: Artifact) -> int:
    """A stable numeric artifact id (53 bits of its container and content)."""
    digest = hashlib.sha256(f"{container_id}:{artifact_digest(a)}".encode()).digest()
    return (int.from_bytes(digest[:7], "big") >> 3) or 1


def _severity(v: Any) -> Any:
    return SEVERITIES.get(v.strip().lower(), v) if isinstance(v, str) else v


class ArtifactIn(BaseModel):
    """An artifact in Splunk SOAR's shape (fields we do not keep, such as `data` or `kill_chain`, are ignored)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(default="artifact", max_length=1024)
    label: str = Field(default="event", max_length=128)
    type: str | None = Field(default=None, max_length=128)
    cef: dict[str, Any] = Field(default_factory=dict)
    cef_types: dict[str, list[str]] = Field(default_factory=dict)
    severity: Severity = Severity.MEDIUM
    source_data_identifier: str | None = Field(default=None, max_length=512)
    tags: list[str] = Field(default_factory=list, max_length=50)
    run_automation: bool | None = None

    _sev = field_validator("severity", mode="before")(classmethod(lambda cls, v: _severity(v)))

    def artifact(self) -> Artifact:
        """Ours (validated CEF; raises ValueError naming the field)."""
        return Artifact(name=self.name, label=self.label, type=self.type or "", cef=self.cef,
                        severity=self.severity, source_data_identifier=self.source_data_identifier, tags=self.tags)


class ContainerPost(BaseModel):
    """`POST /rest/container`: Splunk's container fields."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=1024)
    label: str = Field(default="events", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\- ]+$")
    severity: Severity = Severity.MEDIUM
    sensitivity: Sensitivity = Sensitivity.AMBER
    status: str | None = None
    source_data_identifier: str | None = Field(default=None, max_length=512)
    description: str = Field(default="", max_length=20_000)
    owner_id: str | int | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    artifacts: list[ArtifactIn] = Field(default_factory=list)
    run_automation: bool | None = None

    _sev = field_validator("severity", mode="before")(classmethod(lambda cls, v: _severity(v)))


class ArtifactPost(ArtifactIn):
    """`POST /rest/artifact`."""

    container_id: int | str


class ContainerRow(BaseModel):
    """`GET /rest/container/<id>`: a container as Splunk SOAR returns it (plus `soar_id`)."""

    id: int
    soar_id: str
    name: str
    label: str
    severity: str
    sensitivity: str
    status: str
    description: str
    source_data_identifier: str | None
    owner_name: str | None
    tags: list[str]
    artifact_count: int
    create_time: str | None
    close_time: str | None
    container_type: str = "default"


class ArtifactRow(BaseModel):
    """An artifact row (`/rest/container/<id>/artifacts`, `/rest/artifact`)."""

    id: int
    container: int
    container_id: int
    name: str
    label: str
    type: str | None
    severity: str
    cef: dict[str, Any]
    source_data_identifier: str | None
    tags: list[str]
    hash: str
    added_by: str | None


class ArtifactList(SplunkList[ArtifactRow]):
    """An artifact list."""


ARTIFACT_FIELDS = tuple(ArtifactRow.model_fields)


def _bad(e: ValidationError) -> JSONResponse:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return failed(400, f"{where}: {str(err['msg']).removeprefix('Value error, ')}")


async def _body(request: Request, model: type[BaseModel]) -> BaseModel | JSONResponse:
    try:
        return model.model_validate(await request.json())
    except ValidationError as e:
        return _bad(e)
    except ValueError:
        return failed(400, "the body is not JSON")


@router.post("/container", responses=FAILED_RESPONSES)
async def post_container(request: Request, user: Ingester, client: ClientDep) -> JSONResponse:
    """Create a container (Splunk SOAR shape); the same `source_data_identifier` answers `existing_container_id`."""
    from api.service import ingest

    body = await _body(request, ContainerPost)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, ContainerPost)
    try:
        artifacts = [a.artifact() for a in body.artifacts]
        c = Container(name=body.name, label=body.label, severity=body.severity, sensitivity=body.sensitivity,
                      source_data_identifier=body.source_data_identifier, description=body.description,
                      owner=None if body.owner_id is None else str(body.owner_id), tags=body.tags,
                      artifacts=artifacts)
    except ValidationError as e:
        return _bad(e)
    automate = body.run_automation if body.run_automation is not None else bool(artifacts)
    acc = await ingest(request, client, c, "rest", automate=automate)
    assign_id(c)
    assert c.id is not None
    arts = [{"id": artifact_number(c.id, a)} for a in artifacts]
    if acc.duplicate:
        return JSONResponse({"failed": True, "existing_container_id": acc.id, "container_id": acc.container_id,
                             "message": f"duplicate with container {acc.id} ({acc.container_id}); "
                                        f"{acc.artifacts_added} new artifact(s) merged", "artifacts": arts})
    return JSONResponse({"success": True, "id": acc.id, "container_id": acc.container_id,
                         "message": f"container {acc.id} created", "artifacts": arts})


@router.post("/artifact", responses=FAILED_RESPONSES)
async def post_artifact(request: Request, user: Ingester, client: ClientDep) -> JSONResponse:
    """Add an artifact to a container; an identical one answers `existing_artifact_id`."""
    from api.service import predicted_playbooks

    body = await _body(request, ArtifactPost)
    if isinstance(body, JSONResponse):
        return body
    assert isinstance(body, ArtifactPost)
    try:
        a = body.artifact()
    except ValidationError as e:
        return _bad(e)
    cid = await resolve_container_id(client, body.container_id)
    if cid is None:
        return failed(404, f"no container {str(body.container_id)[:40]}")
    view = await _view(client, cid)
    a.added_by = f"{user.name} via rest"
    more = MoreAlert(artifacts=[a], playbooks=predicted_playbooks(request, view.state.container), run_as=user.name,
                     source=f"{user.name} via rest", run_automation=bool(body.run_automation), count_alert=False)
    try:
        ack = await client.get_workflow_handle(container_workflow_id(cid)).execute_update(
            ContainerWorkflow.add_alert, more)
    except (WorkflowUpdateFailedError, RPCError) as e:
        return update_failed(e, f"open container {cid}")
    art_id = artifact_number(cid, a)
    if not ack.added or not ack.added[0]:
        return JSONResponse({"failed": True, "message": "artifact already exists", "existing_artifact_id": art_id})
    return JSONResponse({"success": True, "id": art_id, "playbooks": ack.playbooks})


async def _view(client: ClientDep, cid: str) -> ContainerView:
    try:
        v: ContainerView = await client.get_workflow_handle(container_workflow_id(cid)).query(ContainerWorkflow.view)
        return v
    except RPCError as e:
        raise rpc_error(e, f"container {cid}") from None


def _container_row(v: ContainerView) -> ContainerRow:
    c = v.state.container
    return ContainerRow(id=c.number or 0, soar_id=v.id, name=c.name, label=c.label, severity=c.severity.value,
                        sensitivity=c.sensitivity.value,
                        status=Status.CLOSED.value if v.closed_at else c.status.value, description=c.description,
                        source_data_identifier=c.source_data_identifier, owner_name=c.owner, tags=c.tags,
                        artifact_count=len(c.artifacts), create_time=c.created.isoformat() if c.created else None,
                        close_time=v.closed_at.isoformat() if v.closed_at else None)


def _artifact_rows(v: ContainerView) -> list[ArtifactRow]:
    c = v.state.container
    return [ArtifactRow(id=artifact_number(v.id, a), container=c.number or 0, container_id=c.number or 0, name=a.name,
                        label=a.label, type=a.type or None, severity=a.severity.value, cef=a.cef,
                        source_data_identifier=a.source_data_identifier, tags=a.tags, hash=artifact_digest(a),
                        added_by=a.added_by) for a in c.artifacts]


@router.get("/container/{ident}", response_model=ContainerRow, responses=FAILED_RESPONSES)
async def get_container(ident: str, user: Reader, client: ClientDep) -> ContainerRow | JSONResponse:
    """One container by numeric or `SOAR-` id."""
    cid = await resolve_container_id(client, ident)
    if cid is None:
        return failed(404, f"no container {ident[:40]}")
    return await answer(lambda: _as_row(client, cid))


async def _as_row(client: ClientDep, cid: str) -> ContainerRow:
    return _container_row(await _view(client, cid))


@router.get("/container/{ident}/artifacts", response_model=ArtifactList, responses=FAILED_RESPONSES)
async def container_artifacts(ident: str, user: Reader, client: ClientDep,
                              args: ListArgsDep) -> ArtifactList | JSONResponse:
    """The container's artifacts in Splunk's list envelope (`page`, `page_size`, `_filter_<field>`, `sort`)."""
    cid = await resolve_container_id(client, ident)
    if cid is None:
        return failed(404, f"no container {ident[:40]}")
    return await answer(lambda: _artifact_page(client, cid, args))


async def _artifact_page(client: ClientDep, cid: str, args: Any, drop: tuple[str, ...] = ()) -> ArtifactList:
    filters, sort = args.filters(ARTIFACT_FIELDS, default_sort="id")
    for key in drop:
        filters.pop(key, None)
    rows = _artifact_rows(await _view(client, cid))
    data, count, pages = filtered_page(rows, filters, sort, args, tiebreak="id")
    return ArtifactList(count=count, num_pages=pages, data=data)


@router.get("/artifact", response_model=ArtifactList, responses=FAILED_RESPONSES)
async def list_artifacts(user: Reader, client: ClientDep, args: ListArgsDep) -> ArtifactList | JSONResponse:
    """Artifacts of one container: `_filter_container_id=N` (or `_filter_container=N`) is required."""
    try:
        filters, _ = args.filters(ARTIFACT_FIELDS, default_sort="id")
    except FilterError as e:
        return failed(400, str(e))
    keys = [k for k in ("container_id", "container") if k in filters]
    if not keys:
        return failed(400, "filter by container: add _filter_container_id=<container id>")
    cid = await resolve_container_id(client, filters[keys[0]])
    if cid is None:
        return failed(404, f"no container {str(filters[keys[0]])[:40]}")
    return await answer(lambda: _artifact_page(client, cid, args, drop=tuple(keys)))
