"""A worker stack for tests: the real worker (workflows + connector activities) on a test task queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.models import Container, Prompt, PromptAck
from core.runtime import AssetStore
from core.settings import ROOT, Settings
from tests.helpers.prompts import answer
from tests.helpers.wait import assert_eventually
from workflows.container import ContainerWorkflow
from workflows.messages import ContainerView
from workflows.starter import StartResult, start_container


class Containers:
    """Starting containers on a task queue and waiting on them (shared by `Stack` and the reliability `Rig`)."""

    client: Client
    task_queue: str

    async def start(self, container: Container, **kw: Any) -> StartResult:
        """Start a container workflow (as the API does)."""
        return await start_container(self.client, container, task_queue=self.task_queue, **kw)

    def handle(self, container_id: str) -> WorkflowHandle[Any, Any]:
        """The container workflow's handle."""
        return self.client.get_workflow_handle(f"container/{container_id}")

    async def view(self, container_id: str) -> ContainerView:
        """The container's `view` query (needs a live worker)."""
        v: ContainerView = await self.handle(container_id).query(ContainerWorkflow.view)
        return v

    async def result(self, container_id: str) -> ContainerView:
        """The closed container's final view."""
        h = self.client.get_workflow_handle(f"container/{container_id}", result_type=ContainerView)
        return await h.result()  # type: ignore[no-any-return]

    async def wait_for(self, container_id: str, pred: Callable[[ContainerView], Any], timeout: float = 30.0,
                       what: str = "") -> ContainerView:
        """The container's view once `pred(view)` holds."""
        async def check() -> ContainerView | None:
            v = await self.view(container_id)
            return v if pred(v) else None
        return await assert_eventually(check, timeout, what or f"condition on {container_id}", interval=0.1)

    async def answer(self, prompt_wid: str, prompt_id: str, option: str, who: str = "bob",
                     roles: tuple[str, ...] = ("soc_tier2",)) -> PromptAck:
        """Answer a prompt as the API would for `who` (signed)."""
        prompts = await self.client.get_workflow_handle(prompt_wid).query("prompts", result_type=list[Prompt])
        return await answer(self.client, next(p for p in prompts if p.id == prompt_id), option, who, roles)


class Stack(Containers):
    """Client + settings + the worker's asset store, with the container helpers."""

    def __init__(self, client: Client, settings: Settings, store: AssetStore) -> None:
        self.client = client
        self.settings = settings
        self.store = store
        self.task_queue = settings.playbook_task_queue


@asynccontextmanager
async def run_stack(client: Client, task_queue: str, assets_file: Path,
                    triggers_file: Path | None = None, **settings: Any) -> AsyncIterator[Stack]:
    """Run the real worker (build_workers) on `task_queue` until the block exits; `settings` override
    `Settings` fields (e.g. `prompt_escalate_to="soc_manager"`)."""
    from worker import build_workers, ensure_board, load_store

    settings = Settings(assets_file=assets_file, triggers_file=triggers_file or ROOT / "config" / "triggers.json",
                        playbook_task_queue=task_queue, **settings)
    store = load_store(settings)
    workers = build_workers(client, settings, store)
    await ensure_board(client, settings)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield Stack(client, settings, store)
    finally:
        for w in workers:
            await asyncio.wait_for(w.shutdown(), timeout=timedelta(seconds=30).total_seconds())
        for t in tasks:
            t.cancel()
        await store.aclose()


async def runs_of(client: Client, workflow_id: str) -> list[str]:
    """The run ids of a workflow id, oldest first (each continue-as-new adds one)."""
    runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return [w.run_id for w in sorted(runs, key=lambda w: w.start_time)]


async def changes_until_continued(client: Client, handle: WorkflowHandle[Any, Any], at_least: int) -> int:
    """Analyst comments on a container until it has continued-as-new `at_least` times; how many were sent
    (on a server with a low continue-as-new suggestion, `small_history_env`)."""
    from workflows.messages import AnalystChange, ChangeAck

    for i in range(200):
        await handle.execute_update("change", AnalystChange(user="alice", comment=f"note {i}"), result_type=ChangeAck)
        if len(await runs_of(client, handle.id)) > at_least:
            return i + 1
    raise AssertionError(f"{handle.id} did not continue-as-new {at_least} times in 200 changes")
