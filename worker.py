"""Entry point of the worker process: the playbook worker (workflows + actions of assets without a rate
limit, so eager activity dispatch applies) and one activity worker per rate-limited asset.

Run with `soar worker` or `python worker.py`. SIGTERM/SIGINT drain and stop every worker.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from core.runtime import AssetStore, make_activities
from core.settings import Settings, get_settings
from core.temporal import connect

log = logging.getLogger("soar.worker")
# On SIGTERM running actions get this long to finish (below compose's 60 s stop_grace_period).
GRACEFUL_SHUTDOWN = timedelta(seconds=45)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox, with our own packages and pydantic passed through.

    Without this the sandbox re-imports (and re-compiles) every workflow module for each new workflow
    instance: profiling showed that as the largest single cost per alert. Our workflow code keeps the
    sandbox's rules by convention (no I/O, workflow.now(), workflow.uuid4()) and the replay test.

    `cryptography` verifies the analysts' signed approvals inside workflows (core/approvals.py). Its native
    code imports `cryptography.exceptions` when a signature fails; through the sandbox that import was a
    late re-import (a warning, and with warnings as errors a panic that aborted the worker process).
    """
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "core", "workflows", "phantom", "pydantic", "pydantic_core", "annotated_types", "typing_extensions",
        "cryptography"))


def load_store(settings: Settings) -> AssetStore:
    """The assets file against the discovered connectors, with the playbooks checked against both.

    Raises:
        ConfigError: the assets file, the guardrails file or the approval public keys are unusable, or a
            playbook names an unknown connector, action or parameter.
    """
    from activities import discover_connectors
    from core.approvals import load_keyring, trust
    from core.config.users import load_users
    from core.guardrails import load_guardrails
    from workflows import all_workflows
    from workflows.checks import check_playbooks
    from workflows.registry import load_phantom_playbooks

    if settings.users_file.exists():  # a public demo token outside dev mode is refused here too
        load_users(settings.users_file, dev_mode=settings.dev_mode)
    load_phantom_playbooks(settings)  # a broken Phantom file stops the start with its file, line and fix
    connectors = discover_connectors()
    keyring = load_keyring(settings.trusted_keys_path)
    trust(keyring)  # what prompt validators verify signed answers with
    store = AssetStore.load(settings.assets_file, connectors, settings.playbook_task_queue, keyring,
                            guardrails=load_guardrails(settings.guardrails_file))
    check_playbooks(all_workflows(), store.assets, connectors,
                    {n: u.connector or "" for n, u in store.unavailable.items()})
    return store


def build_workers(client: Client, settings: Settings, store: AssetStore,
                  extra_activities: list[Callable[..., Any]] | None = None) -> list[Worker]:
    """The playbook worker plus one worker per rate-limited asset."""
    from core.prometheus import ActionMetricsInterceptor
    from workflows import all_workflows, platform_activities
    from workflows.platform import cache_notifier

    store.cache.notify = cache_notifier(client)  # waiting lookups get the answer of the identical call
    connector_acts = make_activities(store)
    interceptors = [ActionMetricsInterceptor()]
    workers = [
        Worker(
            client,
            task_queue=settings.playbook_task_queue,
            workflows=all_workflows(),
            activities=connector_acts + platform_activities(store, settings) + (extra_activities or []),
            max_cached_workflows=settings.worker_max_cached_workflows,
            max_concurrent_workflow_task_polls=settings.worker_workflow_task_polls,
            nonsticky_to_sticky_poll_ratio=settings.worker_nonsticky_poll_ratio,
            max_concurrent_activities=200,
            max_concurrent_workflow_tasks=100,
            interceptors=interceptors,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
            workflow_runner=workflow_runner(),
        )
    ]
    for asset in store.assets.values():
        if not asset.rate_limited:
            continue
        acts = make_activities(store, {asset.connector: store.connectors[asset.connector]})
        workers.append(Worker(
            client,
            task_queue=store.task_queue(asset),
            activities=acts,
            max_task_queue_activities_per_second=asset.per_second,
            max_concurrent_activities=20,
            interceptors=interceptors,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        ))
        log.info("rate-limited asset queue", extra={"asset": asset.asset_name})
    return workers


async def ensure_board(client: Client, settings: Settings) -> None:
    """Start the playbook queue's prompt board (`workflows.board`) unless it runs already."""
    from temporalio.common import WorkflowIDConflictPolicy

    from workflows.board import PromptBoard, board_id

    await client.start_workflow(PromptBoard.run, None, id=board_id(settings.playbook_task_queue),
                                task_queue=settings.playbook_task_queue,
                                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                                static_summary="Prompts opened and closed in the last minutes (the fresh prompt list)")


async def run(settings: Settings | None = None, stop: asyncio.Event | None = None) -> None:
    """Run every worker until `stop` is set (or SIGTERM/SIGINT)."""
    settings = settings or get_settings()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    store = load_store(settings)
    if settings.worker_metrics_port:
        from core.prometheus import start_worker_metrics_server

        start_worker_metrics_server(settings.worker_metrics_port, "127.0.0.1")
    client = await connect(settings)
    workers = build_workers(client, settings, store)
    await ensure_board(client, settings)
    log.info("worker started", extra={"status": f"{len(workers)} task queue(s)"})
    tasks = [asyncio.create_task(w.run()) for w in workers]
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for w in workers:
        await w.shutdown()
    await store.aclose()
    for t in tasks:
        if t.done() and not t.cancelled() and t.exception():
            raise t.exception()  # type: ignore[misc]
    log.info("worker stopped")


def main() -> None:
    """Console entry."""
    from core.errors import ConfigError
    from core.logs import setup_logging

    s = get_settings()
    setup_logging(s.log_level, s.log_json)
    try:
        asyncio.run(run(s))
    except ConfigError as e:
        print(f"configuration error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
