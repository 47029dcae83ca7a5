"""Starting container workflows (used by the API, the CLI, tests and benchmarks)."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import BaseModel, Field
from temporalio.client import Client, WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from core.models import Artifact, Container
from core.models.container import artifact_digest
from core.temporal import (
    SA_CONTAINER_ID,
    SA_CONTAINER_NUM,
    SA_KIND,
    SA_LABEL,
    SA_NAME,
    SA_PLAYBOOK,
    SA_SEVERITY,
    SA_STATUS,
)
from workflows.container import ContainerWorkflow
from workflows.ids import container_id_for, container_number_for, container_workflow_id
from workflows.messages import ContainerInput, ContainerView, MatchResult, MoreAlert, MoreAlertAck, Reopen
from workflows.versions import CONTAINER_VERSION


class StartResult(BaseModel):
    """What starting a container did: a new container, or the same alert merged into the existing one."""

    container_id: str
    number: int
    workflow_id: str
    duplicate: bool
    artifacts_added: int = 0
    reopened: bool = False
    playbooks: list[str] = Field(default_factory=list, description="Runs started on a duplicate's new artifacts")


def assign_id(container: Container) -> Container:
    """Give the container its deterministic ids (from `source_data_identifier`, generated when absent)."""
    if not container.source_data_identifier:
        container.source_data_identifier = f"soar-{uuid.uuid4().hex}"
    container.id = container_id_for(container.source_data_identifier)
    container.number = container_number_for(container.source_data_identifier)
    return container


async def start_container(client: Client, container: Container, *, task_queue: str,
                          playbooks: list[str] | None = None, respond_in_s: float | None = None,
                          notes: list[str] | None = None, predicted: list[str] | None = None,
                          matched: MatchResult | None = None) -> StartResult:
    """Start the container workflow; the same alert again returns the existing container (duplicate=True).

    `predicted` are the playbooks the caller expects the triggers to start (the API matches them for its
    answer): they go into the start-time search attributes, so the container's first task needs no upsert.
    `matched` is the whole match (those playbooks with their identities, the asset routes and the prompt
    policy, as a worker gave them): the container then runs no matching activity of its own.
    """
    c = assign_id(container)
    assert c.id is not None and c.source_data_identifier is not None and c.number is not None
    wid = container_workflow_id(c.id)
    try:
        await client.start_workflow(
            ContainerWorkflow.run,
            ContainerInput(container=c, playbooks=playbooks, respond_in_s=respond_in_s, notes=notes or [],
                           predicted=sorted(set(predicted)) if predicted else None, matched=matched,
                           version=CONTAINER_VERSION),
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SA_LABEL, c.label), SearchAttributePair(SA_SEVERITY, c.severity.value),
                SearchAttributePair(SA_STATUS, "open" if predicted and c.status.value == "new" else c.status.value),
                SearchAttributePair(SA_CONTAINER_ID, c.id), SearchAttributePair(SA_KIND, "container"),
                SearchAttributePair(SA_CONTAINER_NUM, c.number), *_name(client, c),
                *([SearchAttributePair(SA_PLAYBOOK, sorted(set(predicted)))] if predicted else []),
            ]),
            static_summary=f"{c.name[:100]} · {c.id} · {c.severity.value}",
            static_details=(f"**{c.name[:500]}**\n\nLabel `{c.label}`, severity {c.severity.value}, "
                            f"{len(c.artifacts)} artifact(s)\n\nSource id `{c.source_data_identifier[:200]}`"),
        )
        return StartResult(container_id=c.id, number=c.number, workflow_id=wid, duplicate=False)
    except WorkflowAlreadyStartedError:
        pass
    more = MoreAlert(artifacts=c.artifacts, playbooks=sorted(set(predicted or [])), notes=notes or [])
    for _ in range(MERGE_ATTEMPTS):
        ack = await _merge_into(client, wid, more)
        if ack is not None:
            return StartResult(container_id=c.id, number=c.number, workflow_id=wid, duplicate=True,
                               artifacts_added=ack.artifacts_added, playbooks=ack.playbooks)
        # Closed: nothing new keeps it closed; new content reopens it (a new run carrying its state).
        new = await _new_artifacts(client, wid, c.artifacts)
        if new == 0:
            return StartResult(container_id=c.id, number=c.number, workflow_id=wid, duplicate=True)
        reopen = Reopen(reason=f"the same alert arrived again with {new} new artifact(s)", by="ingest",
                        artifacts=c.artifacts, playbooks=more.playbooks)
        if await reopen_container(client, c.id, reopen, task_queue=task_queue, respond_in_s=respond_in_s):
            return StartResult(container_id=c.id, number=c.number, workflow_id=wid, duplicate=True, reopened=True,
                               artifacts_added=new, playbooks=more.playbooks)
    raise RuntimeError(f"container {c.id} kept changing state while a duplicate alert was merged")


MERGE_ATTEMPTS = 3


async def _merge_into(client: Client, wid: str, more: MoreAlert) -> MoreAlertAck | None:
    """Merge into the open container; None when it is closed (or closing)."""
    try:
        return await client.get_workflow_handle(wid).execute_update(ContainerWorkflow.add_alert, more)
    except WorkflowUpdateFailedError as e:
        cause = e.cause
        if isinstance(cause, ApplicationError) and cause.type == "ContainerClosed":
            return None
        if isinstance(cause, ApplicationError) and cause.type == "NotReady":
            await asyncio.sleep(0.2)
            return await _merge_into(client, wid, more)
        raise
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:  # the run completed between the start and the update
            return None
        raise


async def _last_view(client: Client, wid: str) -> ContainerView | None:
    """The closed container's final state (its run's result), or None when it did not complete."""
    try:
        view: ContainerView = await client.get_workflow_handle(wid, result_type=ContainerView).result(follow_runs=True)
        return view
    except WorkflowFailureError:
        return None


async def _new_artifacts(client: Client, wid: str, artifacts: list[Artifact]) -> int:
    """How many of `artifacts` the closed container does not hold (by content)."""
    view = await _last_view(client, wid)
    if view is None:
        return len(artifacts)
    known = {artifact_digest(a) for a in view.state.container.artifacts}
    return len({artifact_digest(a) for a in artifacts} - known)


async def reopen_container(client: Client, container_id: str, reopen: Reopen, *, task_queue: str,
                           respond_in_s: float | None = None) -> bool:
    """Start a closed container again as a new run of its workflow id, carrying its state.

    Returns:
        False when it is not closed after all (another request reopened it first, or it still runs).

    Raises:
        RuntimeError: the last run did not complete (failed or terminated), so there is no state to carry.
    """
    wid = container_workflow_id(container_id)
    view = await _last_view(client, wid)
    if view is None:
        raise RuntimeError(f"container {container_id}'s last run did not complete; its state cannot be carried")
    c = view.state.container
    try:
        await client.start_workflow(
            ContainerWorkflow.run, ContainerInput(container=c, state=view.state, reopen=reopen,
                                                  respond_in_s=respond_in_s, version=CONTAINER_VERSION),
            id=wid, task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SA_LABEL, c.label), SearchAttributePair(SA_SEVERITY, c.severity.value),
                SearchAttributePair(SA_STATUS, "open"), SearchAttributePair(SA_CONTAINER_ID, container_id),
                SearchAttributePair(SA_KIND, "container"), *_name(client, c), *_number(c),
            ]),
            static_summary=f"{c.name[:100]} · {container_id} · reopened",
            static_details=f"**{c.name[:500]}**\n\nReopened by {reopen.by}: {reopen.reason[:300]}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def name_indexed(client: Client) -> bool:
    """Whether container names go into visibility (`SoarName`, for search): not when payloads are encrypted,
    because search attributes are stored in plaintext and a name can say what the payload hides."""
    return client.data_converter.payload_codec is None


def _name(client: Client, c: Container) -> list[SearchAttributePair[str]]:
    return [SearchAttributePair(SA_NAME, c.name[:1000])] if name_indexed(client) else []


def _number(c: Container) -> list[SearchAttributePair[int]]:
    return [SearchAttributePair(SA_CONTAINER_NUM, c.number)] if c.number is not None else []
