"""The assets as the workers see them (`workflows.assets`): the API loads no asset file and holds no secret."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from fastapi import HTTPException
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from api.errors import rpc_error
from core.settings import Settings
from workflows.assets import AssetsReply, AssetsRequest, AssetsWorkflow
from workflows.messages import MatchResult

CATALOG_TIMEOUT = timedelta(seconds=15)
TEST_TIMEOUT = timedelta(seconds=60)
CACHE_S = 10.0
ROUTES_S = 30.0  # how long the API starts containers with the routes a worker gave it before asking again
log = logging.getLogger("soar.api")


async def worker_assets(client: Client, settings: Settings, test: str | None = None,
                        routes: bool = False) -> AssetsReply:
    """The catalogue (and a connectivity test of `test`), answered by a worker.

    Raises:
        HTTPException: 503 when no worker answers in time, or Temporal is unavailable.
    """
    if not await _has_pollers(client, settings.playbook_task_queue):
        raise HTTPException(503, f"no worker polls task queue {settings.playbook_task_queue!r}; start one "
                                 "(`soar worker`, or `make run`)")
    try:
        reply: AssetsReply = await client.execute_workflow(
            AssetsWorkflow.run, AssetsRequest(test=test, routes=routes), id=f"soar-assets/{uuid.uuid4().hex}",
            task_queue=settings.playbook_task_queue, execution_timeout=TEST_TIMEOUT if test else CATALOG_TIMEOUT)
    except WorkflowFailureError:
        raise HTTPException(503, f"no worker answered on task queue {settings.playbook_task_queue!r} within "
                                 f"{int((TEST_TIMEOUT if test else CATALOG_TIMEOUT).total_seconds())} s; is "
                                 "`soar worker` running?") from None
    except RPCError as e:
        raise rpc_error(e, "assets") from None
    return reply


async def _has_pollers(client: Client, queue: str) -> bool:
    """Whether a worker polled the queue recently (so the catalogue workflow will be answered)."""
    req = DescribeTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name=queue),
                                   task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    try:
        resp = await client.workflow_service.describe_task_queue(req)
    except RPCError as e:
        raise rpc_error(e, f"task queue {queue}") from None
    return bool(resp.pollers)


async def cached_catalog(client: Client, settings: Settings, state: Any) -> AssetsReply:
    """The catalogue, re-asked at most every `CACHE_S` seconds (for `/readyz`; cached on the app's `state`)."""
    now = time.monotonic()
    cached: tuple[float, AssetsReply] | None = getattr(state, "asset_catalog", None)
    if cached is None or now - cached[0] > CACHE_S:
        cached = state.asset_catalog = (now, await worker_assets(client, settings))
    return cached[1]


def ingest_routes(client: Client, settings: Settings, state: Any) -> MatchResult | None:
    """The asset routes and prompt policy a worker starts containers with, as last asked (at most `ROUTES_S`
    old), so ingestion can hand new containers their whole match and they run no matching activity. Never
    waits: a stale or missing copy is refreshed in the background, and None (no copy yet) lets the container
    match for itself, as before."""
    cached: tuple[float, MatchResult] | None = getattr(state, "ingest_routes", None)
    if cached is None or time.monotonic() - cached[0] > ROUTES_S:
        task: asyncio.Task[None] | None = getattr(state, "ingest_routes_task", None)
        if task is None or task.done():
            state.ingest_routes_task = asyncio.get_running_loop().create_task(_refresh_routes(client, settings, state))
    return cached[1] if cached is not None else None


async def _refresh_routes(client: Client, settings: Settings, state: Any) -> None:
    try:
        reply = await worker_assets(client, settings, routes=True)
    except (HTTPException, RPCError) as e:  # no worker yet: containers keep matching for themselves
        log.info("asset routes not refreshed: %s", getattr(e, "detail", None) or e)
        return
    if reply.routes is not None:
        state.ingest_routes = (time.monotonic(), reply.routes)
