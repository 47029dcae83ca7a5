"""A worker stack for tests: the real worker (workflows + connector activities) on a test task queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.client import Client, WorkflowHandle

from core.models import Container
from core.runtime import AssetStore
from core.settings import ROOT, Settings
from workflows.messages import ContainerView
from workflows.starter import StartResult, start_container


class Stack:
    """Client + settings + helpers to start containers and wait on them."""

    def __init__(self, client: Client, settings: Settings, store: AssetStore) -> None:
        self.client = client
        self.settings = settings
        self.store = store

    async def start(self, container: Container, **kw: Any) -> StartResult:
        return await start_container(self.client, container, task_queue=self.settings.playbook_task_queue, **kw)

    def handle(self, container_id: str) -> WorkflowHandle[Any, Any]:
        return self.client.get_workflow_handle(f"container/{container_id}")

    async def view(self, container_id: str) -> ContainerView:
        return await self.handle(container_id).query("view", result_type=ContainerView)

    async def result(self, container_id: str) -> ContainerView:
        h = self.client.get_workflow_handle(f"container/{container_id}", result_type=ContainerView)
        return await h.result()

    async def wait_for(self, container_id: str, pred: Any, timeout: float = 30.0) -> ContainerView:
        """Poll the container query until `pred(view)` holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                v = await self.view(container_id)
                if pred(v):
                    return v
            except Exception:  # not started yet
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"condition not met for {container_id}")
            await asyncio.sleep(0.1)


@asynccontextmanager
async def run_stack(client: Client, task_queue: str, assets_file: Path,
                    triggers_file: Path | None = None, **settings: Any) -> AsyncIterator[Stack]:
    """Run the real worker (build_workers) on `task_queue` until the block exits; `settings` override
    `Settings` fields (e.g. `prompt_escalate_to="soc_manager"`)."""
    from worker import build_workers, load_store

    settings = Settings(assets_file=assets_file, triggers_file=triggers_file or ROOT / "config" / "triggers.json",
                        playbook_task_queue=task_queue, **settings)
    store = load_store(settings)
    workers = build_workers(client, settings, store)
    tasks = [asyncio.create_task(w.run()) for w in workers]
    try:
        yield Stack(client, settings, store)
    finally:
        for w in workers:
            await asyncio.wait_for(w.shutdown(), timeout=timedelta(seconds=30).total_seconds())
        for t in tasks:
            t.cancel()
        await store.aclose()
