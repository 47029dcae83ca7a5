"""Splunk SOAR's REST API (`/rest/...`, splunk-soar-compat.md §A): the list envelope
`{"count", "num_pages", "data"}`, the `_filter_` language (`api/splunk_filters.py`) and the failure
envelope `{"failed": true, "message"}`, so scripts written against Splunk SOAR run unchanged.

Here: `/rest/playbook_run` (list, start, one run). Containers and artifacts: `api/routers/splunk_containers.py`.
A resource declares a row model (its fields are the filterable and sortable ones), a
`<Type>List(SplunkList[<Row>])`, and a route that loads rows, then calls `filtered_page()`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from api.auth import Analyst, Reader
from api.deps import ClientDep, OutcomesDep
from api.errors import rpc_error, update_error
from api.permissions import require
from api.runs import PLAYBOOK_NAME_RE, list_runs
from api.splunk_filters import FilterError, ListArgs, ListArgsDep, apply_filters, paginate, sort_rows
from core.config.roles import Operation
from core.metrics import Run
from core.models import RunStatus
from core.models.container import artifact_digest
from core.visibility import WORKFLOW_ID, playbook_runs
from workflows.container import ContainerWorkflow
from workflows.ids import CONTAINER_ID_RE, container_workflow_id
from workflows.messages import RunPlaybookRequest
from workflows.registry import PLAYBOOKS

router = APIRouter(prefix="/rest", tags=["splunk-soar"])

R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


class Failed(BaseModel):
    """Splunk SOAR's failure envelope (its clients test `failed`, whatever the HTTP status)."""

    failed: Literal[True] = True
    message: str


FAILED_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Failed, "description": "a filter, sort or order that cannot be applied"},
    503: {"model": Failed, "description": "Temporal is unavailable"},
}


class SplunkList(BaseModel, Generic[R]):
    """Splunk SOAR's list envelope."""

    count: int = Field(description="Rows matching the filters (on every page)")
    num_pages: int
    data: list[R]


def failed(status: int, message: str) -> JSONResponse:
    """The failure envelope with an HTTP status."""
    return JSONResponse(Failed(message=message).model_dump(), status_code=status)


def update_failed(e: WorkflowUpdateFailedError | RPCError, what: str) -> JSONResponse:
    """A refused or undeliverable update of `what`, in the failure envelope with the API's status for it."""
    h = update_error(e) if isinstance(e, WorkflowUpdateFailedError) else rpc_error(e, what)
    return failed(h.status_code, str(h.detail))


def filtered_page(rows: list[R], filters: dict[str, Any], sort: str, args: ListArgs,
                  tiebreak: str) -> tuple[list[R], int, int]:
    """The page `args` asks for of the rows matching `filters`, the count of those and the number of pages.

    Raises:
        FilterError: a filter value that cannot be compared with the field.
    """
    rows = sort_rows(apply_filters(rows, filters), sort, args.order, tiebreak)
    data, pages = paginate(rows, args.page, args.page_size)
    return data, len(rows), pages


async def answer(build: Callable[[], Awaitable[M]]) -> M | JSONResponse:
    """`await build()`, with its `FilterError` and `HTTPException` answered in the failure envelope."""
    try:
        return await build()
    except FilterError as e:
        return failed(400, str(e))
    except HTTPException as e:
        return failed(e.status_code, str(e.detail))


# ---- /rest/playbook_run -------------------------------------------------------------------------------
class PlaybookRunRow(BaseModel):
    """A playbook run as a Splunk SOAR `playbook_run` row (epoch seconds in start_time/end_time)."""

    id: int = Field(description="Stable 48-bit id derived from the workflow id")
    workflow_id: str
    run_id: str
    playbook: str
    version: str | None
    container: str
    status: RunStatus
    create_time: str = Field(description="ISO 8601")
    start_time: float = Field(description="Epoch seconds")
    end_time: float | None = Field(description="Epoch seconds; None while running")
    update_time: str = Field(description="ISO 8601")
    duration_s: float | None
    auto_resolved: bool
    nested: bool = Field(description="Started by another playbook")
    parent_run: int | None = Field(description="`id` of the run that started this one")
    message: str


PLAYBOOK_RUN_FIELDS = tuple(PlaybookRunRow.model_fields)


class PlaybookRunList(SplunkList[PlaybookRunRow]):
    """`GET /rest/playbook_run`."""

    truncated: bool = Field(description="More runs matched than are read at once; rows cover the newest")


def stable_id(workflow_id: str) -> int:
    """A stable integer id (48 bits: exact in JSON numbers) derived from the workflow id."""
    return int.from_bytes(hashlib.sha256(workflow_id.encode("utf-8")).digest()[:6], "big")


def _message(r: Run) -> str:
    if r.status == RunStatus.RUNNING:
        return f"Playbook '{r.playbook}' is running"
    out = r.outcome
    if out is None:
        return f"Playbook '{r.playbook}' {r.status.value}"
    if out.error:
        return f"Playbook '{r.playbook}' failed: {out.error}"
    prompts = sum(a.kind == "prompt" for a in out.actions)
    failures = sum(a.status == "failed" for a in out.actions)
    return (f"Playbook '{r.playbook}' {r.status.value}: {len(out.actions) - prompts} action(s), "
            f"{failures} failed, {prompts} prompt(s)")


def playbook_run_row(r: Run) -> PlaybookRunRow:
    """A run as a `playbook_run` row."""
    return PlaybookRunRow(
        id=stable_id(r.workflow_id), workflow_id=r.workflow_id, run_id=r.run_id,
        playbook=r.playbook, version=r.outcome.version if r.outcome else None,
        container=r.container, status=r.status, create_time=r.started.isoformat(),
        start_time=r.started.timestamp(), end_time=r.ended.timestamp() if r.ended else None,
        update_time=(r.ended or r.started).isoformat(), duration_s=r.duration_s,
        auto_resolved=bool(r.outcome and r.outcome.auto_resolved), nested=r.nested,
        parent_run=stable_id(r.parent_id) if r.nested and r.parent_id else None, message=_message(r),
    )


def push_down(filters: dict[str, Any]) -> dict[str, Any]:
    """Exact filters visibility can answer, as `playbook_runs()` arguments (all filters, these included,
    are applied to the rows again)."""
    kw: dict[str, Any] = {}
    pb, cid, st = filters.get("playbook"), filters.get("container"), filters.get("status")
    if isinstance(pb, str) and PLAYBOOK_NAME_RE.match(pb):
        kw["playbook"] = pb
    if isinstance(cid, str) and CONTAINER_ID_RE.match(cid):
        kw["container"] = cid
    if isinstance(st, str):
        kw["running"] = st == RunStatus.RUNNING.value
    return kw


@router.get("/playbook_run", response_model=PlaybookRunList, responses=FAILED_RESPONSES)
async def list_playbook_runs(user: Reader, client: ClientDep, outcomes: OutcomesDep,
                             args: ListArgsDep) -> PlaybookRunList | JSONResponse:
    """Splunk SOAR's playbook run list `{"count", "num_pages", "data"}`; also `_filter_<field>=<literal>`."""

    async def build() -> PlaybookRunList:
        filters, sort = args.filters(PLAYBOOK_RUN_FIELDS, default_sort="create_time")
        runs, truncated = await list_runs(client, playbook_runs(**push_down(filters)), outcomes)
        data, count, pages = filtered_page([playbook_run_row(r) for r in runs], filters, sort, args,
                                           tiebreak="workflow_id")
        return PlaybookRunList(count=count, num_pages=pages, data=data, truncated=truncated)

    return await answer(build)


class PlaybookRunPost(BaseModel):
    """`POST /rest/playbook_run` (Splunk SOAR's body; `inputs` is for input playbooks, not supported)."""

    model_config = ConfigDict(extra="ignore")

    container_id: int | str
    playbook_id: str | int = Field(description="A playbook name, or Splunk's `repo/name`")
    scope: str | list[int] = Field(default="all", description="all | new | [artifact ids]")
    run: bool = True


class PlaybookRunStarted(BaseModel):
    """Splunk's answer: the run's id (it is queued)."""

    playbook_run_id: int
    received: bool = True
    message: str
    workflow_id: str


_RUN_IDS: dict[int, str] = {}  # playbook_run_id -> workflow id, learnt when started here (bounded)


@router.post("/playbook_run", response_model=PlaybookRunStarted, responses=FAILED_RESPONSES)
async def start_playbook_run(request: Request, user: Analyst, client: ClientDep) -> PlaybookRunStarted | JSONResponse:
    """Run a playbook on a container, as Splunk SOAR's API does; `GET /rest/playbook_run/<id>` follows it."""
    from api.routers.splunk_containers import artifact_number
    from api.service import resolve_container_id

    try:
        body = PlaybookRunPost.model_validate(await request.json())
    except ValidationError as e:
        err = e.errors()[0]
        return failed(400, f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}")
    except ValueError:
        return failed(400, "the body is not JSON")
    if not body.run:
        return failed(400, "run must be true (this API starts the playbook when asked)")
    name = str(body.playbook_id).rsplit("/", 1)[-1]
    if name not in PLAYBOOKS:
        return failed(404, f"no playbook {str(body.playbook_id)[:80]!r}; one of: {', '.join(sorted(PLAYBOOKS))}")
    cid = await resolve_container_id(client, body.container_id)
    if cid is None:
        return failed(404, f"no container {str(body.container_id)[:40]}")
    handle = client.get_workflow_handle(container_workflow_id(cid))
    scope: list[str] | None = None
    try:
        await require(request, client, user, cid, [(Operation.RUN_PLAYBOOK, name)])
    except HTTPException as e:
        return failed(e.status_code, str(e.detail))
    try:
        if isinstance(body.scope, list):
            view = await handle.query(ContainerWorkflow.view)
            wanted = set(body.scope)
            scope = [artifact_digest(a) for a in view.state.container.artifacts if artifact_number(cid, a) in wanted]
        wid = await handle.execute_update(ContainerWorkflow.run_playbook,
                                          RunPlaybookRequest(playbook=name, user=user.name, scope=scope))
    except (WorkflowUpdateFailedError, RPCError) as e:
        return update_failed(e, f"open container {cid}")
    run_id = stable_id(wid)
    if len(_RUN_IDS) > 100_000:
        _RUN_IDS.clear()
    _RUN_IDS[run_id] = wid
    return PlaybookRunStarted(playbook_run_id=run_id, workflow_id=wid,
                              message=f"playbook {name} started on container {body.container_id}")


@router.get("/playbook_run/{run_id}", response_model=PlaybookRunRow, responses=FAILED_RESPONSES)
async def get_playbook_run(run_id: int, user: Reader, client: ClientDep,
                           outcomes: OutcomesDep) -> PlaybookRunRow | JSONResponse:
    """One playbook run by its `playbook_run_id` (status `running`, `success` or `failed`)."""

    async def build() -> PlaybookRunRow:
        wid = _RUN_IDS.get(run_id)
        query = playbook_runs()
        if wid is not None:
            query = query.where(WORKFLOW_ID, wid)
        runs, _ = await list_runs(client, query, outcomes)
        for r in runs:
            if stable_id(r.workflow_id) == run_id:
                return playbook_run_row(r)
        raise HTTPException(404, f"no playbook run {run_id}")

    return await answer(build)
