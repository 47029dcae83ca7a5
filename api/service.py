"""What the routers share: ingestion (start a container, predicting its playbooks from the triggers),
container handles, and paged visibility listings."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Generic, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionAsyncIterator,
    WorkflowHandle,
)
from temporalio.service import RPCError, RPCStatusCode

from api.aside import StoredAside, fit
from api.assets import ingest_routes
from api.prompt_feed import PromptFeed
from core.blobs import BlobStore
from core.config.triggers import TriggerFile
from core.config.users import User
from core.models import Artifact, Container, Prompt, Sensitivity, Severity
from core.prometheus import observe_ingest
from core.temporal import SA_CONTAINER_NUM, SA_KIND
from core.visibility import Filter, is_safe, pending_prompts
from workflows.container import ContainerWorkflow
from workflows.ids import CONTAINER_ID_RE, container_workflow_id
from workflows.messages import ContainerView, TriggerMatch
from workflows.starter import assign_id, start_container

T = TypeVar("T")


class ContainerIn(BaseModel):
    """A container in Splunk SOAR's shape (unknown Splunk fields are ignored)."""

    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=1024)
    label: str = Field(default="events", min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.\- ]+$")
    severity: Severity = Severity.MEDIUM
    sensitivity: Sensitivity = Sensitivity.AMBER
    source_data_identifier: str | None = Field(default=None, max_length=512)
    description: str = Field(default="", max_length=20_000)
    owner: str | None = Field(default=None, max_length=256)
    tags: list[str] = Field(default_factory=list, max_length=50)
    artifacts: list[Artifact] = Field(default_factory=list)


class Accepted(BaseModel):
    """The answer to an ingestion: the container exists (202).

    The same alert again (`duplicate: true`) is merged: its new artifacts are added (`artifacts_added`) and
    its playbooks run on them (`playbooks`); a closed container with new content is reopened (`reopened`).
    """

    container_id: str
    id: int = Field(description="The container's numeric id (Splunk SOAR clients' `id`)")
    duplicate: bool
    playbooks: list[str] = Field(description="Runs started by this alert")
    url: str
    artifacts: int = Field(description="Artifacts in the request")
    artifacts_added: int = Field(description="Artifacts new to the container (all of them for a new container)")
    reopened: bool = False
    notes: list[str] = Field(default_factory=list)
    stored_aside: list[StoredAside] = Field(default_factory=list,
                                            description="What did not fit the container's payload budget: kept "
                                                        "outside workflow history, readable at `url`")


class Page(BaseModel, Generic[T]):
    """One page of a visibility listing: pass `next_page_token` back unchanged for the next page."""

    count: int = Field(description="Rows on this page")
    data: list[T]
    next_page_token: str | None = Field(default=None, description="None on the last page")


def predicted_playbooks(request: Request, container: Container) -> list[str]:
    """The playbooks the triggers start for `container`."""
    return [m.playbook for m in predicted_matches(request, container)]


def predicted_matches(request: Request, container: Container) -> list[TriggerMatch]:
    """The playbooks the triggers start for `container`, with the identity each runs as."""
    triggers: TriggerFile = request.app.state.triggers
    return [TriggerMatch(playbook=t.playbook_name, run_as=t.run_as) for t in triggers.match(container)]


_NUMBERS: dict[int, str] = {}  # numeric id -> SOAR id, learnt at ingestion (bounded)
NUMBER_CACHE_MAX = 100_000


async def resolve_container_id(client: Client, ident: int | str) -> str | None:
    """The `SOAR-...` id of a container named by it or by its numeric id (None when no container has it)."""
    text = str(ident).strip()
    if CONTAINER_ID_RE.match(text):
        return text
    if not text.isdigit() or len(text) > 16:
        return None
    number = int(text)
    if number in _NUMBERS:
        return _NUMBERS[number]
    query = Filter().where(SA_KIND, "container").where(SA_CONTAINER_NUM, number)
    async for wf in client.list_workflows(str(query), limit=1):
        found = wf.id.removeprefix("container/")
        _remember(number, found)
        return found
    return None


def _remember(number: int, container_id: str) -> None:
    if len(_NUMBERS) >= NUMBER_CACHE_MAX:
        _NUMBERS.clear()
    _NUMBERS[number] = container_id


async def ingest(request: Request, client: Client, container: Container, source: str,
                 notes: list[str] | None = None, automate: bool = True,
                 aside: list[Artifact] | None = None) -> Accepted:
    """Start (or find) the container and say which playbooks its triggers start.

    What does not fit the payload budget (oversize values, the last artifacts, and `aside`: artifacts a parser
    set aside) is stored outside history first (`api/aside.py`) and listed in the answer.
    `automate=False` (Splunk's `run_automation: false`) creates it without running playbooks; the artifact that
    comes with `run_automation: true` runs them (`POST /rest/artifact`).
    """
    settings = request.app.state.settings
    if len(container.artifacts) > settings.api_max_artifacts:
        raise HTTPException(422, f"artifacts: {len(container.artifacts)} given; the limit is "
                                 f"{settings.api_max_artifacts} per container. Split the alert or raise "
                                 "SOAR_API_MAX_ARTIFACTS")
    notes = list(notes or [])
    try:
        stored = fit(container, notes, BlobStore(settings.data_dir / "blobs"), settings.container_budget_bytes,
                     aside)
    except OSError as e:
        raise HTTPException(503, f"cannot store what does not fit the container's history ({e.strerror}); check "
                                 "SOAR_DATA_DIR is writable. Nothing was created; retry after fixing it") from None
    assign_id(container)
    who = getattr(getattr(request.state, "user", None), "name", "unknown")
    for a in container.artifacts:
        a.added_by = f"{who} via {source}"
    matches = predicted_matches(request, container) if automate else []
    playbooks = [m.playbook for m in matches]
    routes = ingest_routes(client, settings, request.app.state)
    matched = routes.model_copy(update={"matches": matches}) if routes is not None else None
    res = await start_container(client, container, task_queue=settings.playbook_task_queue, notes=notes,
                                predicted=playbooks, playbooks=None if automate else [], matched=matched)
    _remember(res.number, res.container_id)
    if not res.duplicate:
        observe_ingest(source)
    return Accepted(container_id=res.container_id, id=res.number, duplicate=res.duplicate,
                    playbooks=res.playbooks if res.duplicate else playbooks,
                    url=f"/api/v1/containers/{res.container_id}", artifacts=len(container.artifacts),
                    artifacts_added=res.artifacts_added if res.duplicate else len(container.artifacts),
                    reopened=res.reopened, notes=notes, stored_aside=stored)


def container_handle(client: Client, container_id: str) -> WorkflowHandle[ContainerWorkflow, ContainerView]:
    """The container workflow's handle; 404 for anything that is not a container id."""
    if not CONTAINER_ID_RE.match(container_id):
        raise HTTPException(404, f"no container {container_id[:80]!r} (ids look like SOAR-7K2M9QXA4BC3)")
    return client.get_workflow_handle_for(ContainerWorkflow.run, container_workflow_id(container_id))


def safe_filter(name: str, value: str | None) -> str | None:
    """A visibility filter value that cannot break out of the query (`core.visibility`'s rule), or 422."""
    if value is None:
        return None
    if not is_safe(value):
        raise HTTPException(422, f"{name}: only letters, digits, '_', '-', '.' and spaces are allowed")
    return value


def decode_page_token(page_token: str | None) -> bytes | None:
    """A page token this API issued (base64 of Temporal's JSON token), or 422."""
    if not page_token:
        return None
    try:
        raw = base64.urlsafe_b64decode(page_token.encode())
        ok = isinstance(json.loads(raw), dict)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise HTTPException(422, "page_token: not a token this API issued; pass next_page_token from the "
                                 "previous page unchanged")
    return raw


def encode_page_token(token: bytes | None) -> str | None:
    """The opaque next-page token handed to callers."""
    return base64.urlsafe_b64encode(token).decode() if token else None


async def _fetch_page(it: WorkflowExecutionAsyncIterator, had_token: bool) -> None:
    """Fetch one visibility page; a token Temporal rejects is the caller's error (422), not ours."""
    try:
        await it.fetch_next_page()
    except RPCError as e:
        if had_token and e.status == RPCStatusCode.INVALID_ARGUMENT:
            raise HTTPException(422, "page_token: expired or invalid; start again without it") from None
        raise


class PendingPrompt(Prompt):
    """A pending prompt as its run publishes it (memo), with the time left and whether the caller may answer."""

    time_left_s: float = Field(description="Seconds until the deadline (0 once passed)")
    can_respond: bool = Field(description="The caller holds the prompt's role")


def _row(prompt: Prompt, user: User, now: datetime) -> PendingPrompt:
    return PendingPrompt(**dict(prompt), can_respond=user.has_role(prompt.role),
                         time_left_s=max(0.0, round((prompt.deadline - now).total_seconds(), 1)))


async def _pending(wf: WorkflowExecution, user: User, now: datetime) -> list[PendingPrompt]:
    memo = await wf.memo()
    rows = memo.get("prompts")  # every pending prompt of the run (a Phantom run may wait on several)
    if not isinstance(rows, list):
        rows = [memo["prompt"]] if isinstance(memo.get("prompt"), dict) else []  # runs started before "prompts"
    out = []
    for p in rows:
        try:
            prompt = Prompt.model_validate(p)
        except ValidationError:
            continue  # not a prompt this API can show (e.g. written by a newer, incompatible worker)
        out.append(_row(prompt, user, now))
    return out  # empty: the run answered them between the listing and now


async def pending_prompt_page(client: Client, user: User, page_size: int, page_token: str | None,
                              feed: PromptFeed | None = None) -> tuple[list[PendingPrompt], str | None]:
    """One page of the pending prompts (from the runs' memos: no query per run), as `user` sees them. With
    `feed` (the API's fresh prompt list, `api.prompt_feed`), the first page also leads with the prompts opened
    in the last minute that the visibility index does not list yet, a prompt closed meanwhile is left out even
    while the index lags, and a slow visibility store is answered from its last listing (a few seconds old).

    Raises:
        HTTPException: 422 for a page token this API did not issue.
    """
    if feed is None:
        found, next_token = await visibility_page(client, pending_prompts(), page_size, page_token)
        now = datetime.now(UTC)
        return [p for wf in found for p in await _pending(wf, user, now)], next_token
    first_at, page_token = _feed_token(page_token)
    if page_token is None:
        found, next_token = await feed.first_page(
            page_size, lambda: visibility_page(client, pending_prompts(), page_size, None))
    else:
        found, next_token = await visibility_page(client, pending_prompts(), page_size, page_token)
    rows = [p for wf in found for p in await _pending(wf, user, datetime.now(UTC))]
    now = datetime.now(UTC)  # no await from here to the view: the first page is the feed as it is at `now`
    first_at = first_at or now
    board = feed.view(first_at)
    gone = set(board.closed)
    next_token = _feed_token_for(next_token, first_at)
    if page_token is None:  # the first page leads with the fresh prompts not listed yet
        listed = {p.id for p in rows}
        fresh = [_row(p, user, now) for p in board.opened if p.id not in listed and p.id not in gone]
        return fresh + [p for p in rows if p.id not in gone], next_token
    shown = {p.id for p in board.opened}  # later pages leave out what the first page showed from the feed
    return [p for p in rows if p.id not in gone and p.id not in shown], next_token


def _feed_token(page_token: str | None) -> tuple[datetime | None, str | None]:
    """(the first page's moment, visibility's token) of a prompt page token (`_feed_token_for`)."""
    if not page_token:
        return None, None
    raw = decode_page_token(page_token) or b"{}"
    body = json.loads(raw)
    try:
        at = datetime.fromisoformat(body["feed_at"]).astimezone(UTC)
        inner = body["visibility"]
        if not isinstance(inner, str) or not inner:
            raise TypeError
    except (KeyError, TypeError, ValueError):
        raise HTTPException(422, "page_token: not a prompt page token; pass next_page_token from the previous "
                                 "page of GET /api/v1/prompts unchanged") from None
    return at, inner


def _feed_token_for(next_token: str | None, first_at: datetime) -> str | None:
    """Visibility's next-page token with the first page's moment, so later pages leave out what it showed."""
    if next_token is None:
        return None
    return encode_page_token(json.dumps({"feed_at": first_at.isoformat(), "visibility": next_token}).encode())


async def visibility_page(client: Client, query: Filter, page_size: int,
                          page_token: str | None) -> tuple[list[WorkflowExecution], str | None]:
    """One page of the executions matching `query` (newest first) and the token of the next page.

    Raises:
        HTTPException: 422 for a page token this API did not issue, or one Temporal no longer accepts.
    """
    token = decode_page_token(page_token)
    it = client.list_workflows(str(query), page_size=page_size, next_page_token=token)
    await _fetch_page(it, token is not None)
    return list(it.current_page or []), encode_page_token(it.next_page_token)
