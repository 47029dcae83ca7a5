"""Starting container workflows (used by the API, the CLI, tests and benchmarks)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from core.models import Container
from core.temporal import SA_CONTAINER_ID, SA_KIND, SA_LABEL, SA_PLAYBOOK, SA_SEVERITY, SA_STATUS
from workflows.ids import container_id_for, container_workflow_id
from workflows.messages import ContainerInput


class StartResult(BaseModel):
    """What starting a container did."""

    container_id: str
    workflow_id: str
    duplicate: bool


def assign_id(container: Container) -> Container:
    """Give the container its deterministic id (from `source_data_identifier`, generated when absent)."""
    if not container.source_data_identifier:
        container.source_data_identifier = f"soar-{uuid.uuid4().hex}"
    container.id = container_id_for(container.source_data_identifier)
    return container


async def start_container(client: Client, container: Container, *, task_queue: str,
                          playbooks: list[str] | None = None, respond_in_s: float | None = None,
                          notes: list[str] | None = None, predicted: list[str] | None = None) -> StartResult:
    """Start the container workflow; the same alert again returns the existing container (duplicate=True).

    `predicted` are the playbooks the caller expects the triggers to start (the API matches them for its
    answer): they go into the start-time search attributes, so the container's first task needs no upsert.
    """
    c = assign_id(container)
    assert c.id is not None and c.source_data_identifier is not None
    wid = container_workflow_id(c.id)
    try:
        await client.start_workflow(
            "ContainerWorkflow",
            ContainerInput(container=c, playbooks=playbooks, respond_in_s=respond_in_s, notes=notes or [],
                           predicted=sorted(set(predicted)) if predicted else None),
            id=wid,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SA_LABEL, c.label), SearchAttributePair(SA_SEVERITY, c.severity.value),
                SearchAttributePair(SA_STATUS, "open" if predicted and c.status.value == "new" else c.status.value),
                SearchAttributePair(SA_CONTAINER_ID, c.id), SearchAttributePair(SA_KIND, "container"),
                *([SearchAttributePair(SA_PLAYBOOK, sorted(set(predicted)))] if predicted else []),
            ]),
            static_summary=f"{c.name[:100]} · {c.id} · {c.severity.value}",
            static_details=(f"**{c.name[:500]}**\n\nLabel `{c.label}`, severity {c.severity.value}, "
                            f"{len(c.artifacts)} artifact(s)\n\nSource id `{c.source_data_identifier[:200]}`"),
        )
        return StartResult(container_id=c.id, workflow_id=wid, duplicate=False)
    except WorkflowAlreadyStartedError:
        return StartResult(container_id=c.id, workflow_id=wid, duplicate=True)
