"""Entry point of the baseline worker process: `python -m bench.baseline_worker --address A --task-queue Q`."""

from __future__ import annotations

import argparse
import asyncio
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline import (
    BenchAlert,
    BenchAlertLocal,
    BenchAlertUpsert,
    BenchParent,
    BenchParentLocal,
    BenchShapeContainer,
    BenchShapePlaybook,
    match,
    noop,
)


async def serve(address: str, task_queue: str) -> None:
    """Run until SIGTERM/SIGINT, with the SOAR worker's knobs (worker.py build_workers)."""
    client = await Client.connect(address)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(client, task_queue=task_queue, workflows=[BenchAlert, BenchShapeContainer, BenchShapePlaybook,
                                                                    BenchAlertUpsert, BenchAlertLocal, BenchParent,
                                                                    BenchParentLocal],
                      activities=[noop, match],
                      max_cached_workflows=5000, max_concurrent_activities=200,
                      max_concurrent_workflow_tasks=100):
        print("baseline worker started", flush=True)
        await stop.wait()


def main() -> None:
    """Console entry."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--address", required=True)
    ap.add_argument("--task-queue", required=True)
    a = ap.parse_args()
    asyncio.run(serve(a.address, a.task_queue))


if __name__ == "__main__":
    main()
