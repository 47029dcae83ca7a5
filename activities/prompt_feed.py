"""The `soar.announce_prompts` local activity: tell the API, the moment a run opens a prompt, which run to
look at, so `GET /api/v1/prompts` lists it before the visibility index does (api/prompt_feed.py).

The hint is only a workflow id. The API reads the prompt from Temporal itself (DescribeWorkflowExecution: the
run's memo as its mutable state holds it, not the visibility index), so a hint cannot put on the list a prompt
that Temporal does not hold. The activity only queues the hint: a sender task of this worker posts the queue
in batches, so a slow or absent API never delays a workflow task (a hint that cannot be delivered is dropped,
and the prompt is listed once visibility has it, as without a feed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import httpx
from temporalio import activity

from workflows.messages import PROMPT_FEED_PATH, PromptHint

log = logging.getLogger(__name__)
MAX_QUEUED = 2000  # hints waiting for the sender; more are dropped (visibility lists those prompts)
BATCH = 100  # workflow ids per request (the API accepts at most this many)
POST_TIMEOUT_S = 2.0


class PromptFeedSender:
    """Queues prompt hints and posts them to the API in the background."""

    def __init__(self, api_url: str | None) -> None:
        self.url = api_url.rstrip("/") + PROMPT_FEED_PATH if api_url else None
        self._queue: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._failing = False  # said once, not for every hint
        self.sent = 0
        self.dropped = 0

    @activity.defn(name="soar.announce_prompts")
    async def announce(self, hint: PromptHint) -> None:
        """Queue the runs that just opened prompts (returns at once)."""
        if self.url is None:
            return
        for wid in hint.workflow_ids[:BATCH]:
            if len(self._queue) >= MAX_QUEUED:
                self.dropped += 1
                continue
            self._queue.append(wid)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())  # ends when the queue is empty: nothing lingers

    async def _drain(self) -> None:
        assert self.url is not None
        async with httpx.AsyncClient(timeout=POST_TIMEOUT_S) as http:
            while self._queue:
                batch, self._queue = self._queue[:BATCH], self._queue[BATCH:]
                try:
                    r = await http.post(self.url, json={"workflow_ids": batch})
                    r.raise_for_status()
                except httpx.HTTPError as e:
                    self.dropped += len(batch)
                    if not self._failing:
                        log.warning("the API's prompt feed (%s) is not reachable: %s; prompts are listed from "
                                    "visibility alone until it is", self.url, type(e).__name__)
                    self._failing = True
                    continue
                self.sent += len(batch)
                if self._failing:
                    log.info("the API's prompt feed is reachable again")
                self._failing = False

    def all(self) -> list[Callable[..., Any]]:
        """The activity."""
        return [self.announce]
