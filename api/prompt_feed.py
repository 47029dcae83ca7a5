"""The fresh prompt list: prompts opened in the last minute, read from Temporal the moment a worker says
which run opened them, so `GET /api/v1/prompts` lists a prompt before the visibility index does.

A run that opens a prompt (version 3, workflows/versions.py) queues its workflow id in the worker
(activities/prompt_feed.py), which posts it to `POST /internal/v1/prompt-feed`. The API does not take the
hint's word for anything: it reads the run with DescribeWorkflowExecution, whose memo is the run's mutable
state (current as soon as the run's workflow task completed; the visibility index may lag seconds behind)
and keeps the pending prompts the memo holds. A forged hint can make the API describe a workflow id of
its own namespace, never list a prompt Temporal does not hold; the route bounds how many reads may be under
way. With several API replicas, each knows the prompts hinted to it; the others list them from visibility.

The first page of the list also keeps its last visibility listing for a few seconds (`first_page`): when the
visibility store is slow to answer (SQLite under a burst of writes took over a second), the list answers
from that listing, at most `LISTING_MAX_AGE_S` old and merged with the fresh prompts, instead of waiting.

A prompt leaves this list when it is answered through this API, when its deadline passes, or `FRESH_S`
after it opened: by then visibility lists it (or, closed meanwhile by another path, no longer does).
The board follower (v1 runs that still publish to the prompt board) is merged in.

Paging: the first page shows the fresh prompts as they are at that moment, and its page token carries that
moment; later pages leave out the prompts the list showed then (`view(at)`), not the ones it shows now. A
prompt shown first that aged out of the list while the caller paged is therefore not listed again by
visibility, and one that reached the list after the first page is listed where visibility puts it. The feed
keeps what it listed for `PAGING_S` after it left the list, for callers that page slowly.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from api.board_follower import BoardFollower
from core.models import Prompt, PromptState
from core.prometheus import observe_prompt_feed
from workflows.board import BoardView

log = logging.getLogger("soar.api.prompt_feed")
FRESH_S = 60.0
PAGING_S = 300.0  # how long a page token's first page can be reconstructed (`view(at)`)
MAX_OPEN = 4000  # prompts kept, listed or kept for paging (the oldest go first)
MAX_READING = 200  # runs being read at once; hints beyond are dropped (visibility lists their prompts)
# The hint leaves the worker while the run's workflow task is still completing (the memo is written when it
# completes): read again shortly until the memo shows the prompt.
READ_DELAYS_S = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
LISTING_WAIT_S = 0.3  # how long the first page waits for visibility before it answers from the last listing
LISTING_MAX_AGE_S = 5.0  # a last listing older than this is not used (the page waits for visibility)
Listing = tuple[list[WorkflowExecution], str | None]
WORKFLOW_ID_RE = re.compile(r"^playbook/[A-Za-z0-9_.:/-]{1,300}$")


class PromptFeed:
    """Prompts hinted by workers and read from Temporal, plus the board follower's."""

    def __init__(self, client: Callable[[], Awaitable[Client]], follower: BoardFollower | None = None) -> None:
        self._client, self._follower = client, follower
        self.fresh_s = FRESH_S  # how long a prompt stays on this list (tests shorten it)
        self._opened: dict[str, Prompt] = {}
        self._seen: dict[str, datetime] = {}  # prompt id -> when this list first showed it (ours and the board's)
        self._closed: dict[str, datetime] = {}
        self._reading: dict[str, asyncio.Task[None]] = {}
        self.read = 0  # hints that gave prompts (metrics, tests)
        self._listing: dict[int, tuple[float, Listing]] = {}  # page size -> (monotonic time, last listing)
        self._listing_task: dict[int, asyncio.Task[Listing]] = {}

    def start(self) -> None:
        """Start following the board (the API's lifespan)."""
        if self._follower is not None:
            self._follower.start()

    async def stop(self) -> None:
        """Stop reading and following."""
        for t in self._reading.values():
            t.cancel()
        await asyncio.gather(*self._reading.values(), return_exceptions=True)
        if self._follower is not None:
            await self._follower.stop()

    def hint(self, workflow_ids: list[str]) -> int:
        """Read these runs' prompts in the background; how many hints were taken."""
        taken = 0
        for wid in dict.fromkeys(workflow_ids):
            if not WORKFLOW_ID_RE.match(wid) or wid in self._reading:
                continue
            if len(self._reading) >= MAX_READING:
                observe_prompt_feed("dropped")
                continue
            self._reading[wid] = asyncio.create_task(self._read(wid))
            taken += 1
        return taken

    async def _read(self, wid: str) -> None:
        try:
            await self._read_once_there(wid)
        finally:
            self._reading.pop(wid, None)

    async def _read_once_there(self, wid: str) -> None:
        for n, delay in enumerate(READ_DELAYS_S, 1):
            await asyncio.sleep(delay)
            try:
                client = await self._client()
                desc = await client.get_workflow_handle(wid).describe(rpc_timeout=timedelta(seconds=5))
                memo = await desc.memo()
            except RPCError as e:
                if e.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
                    observe_prompt_feed("gone", reads=n)
                    return  # no such run: a stale or forged hint
                continue
            except Exception as e:  # noqa: BLE001 - Temporal unreachable or a memo we cannot decode: give up
                log.info("prompt feed could not read %s: %s", wid, type(e).__name__)
                return
            prompts = self._prompts_of(wid, memo.get("prompts"))
            if prompts:
                now = datetime.now(UTC)
                for p in prompts:
                    if p.id not in self._closed:
                        self._opened[p.id] = p
                        self._seen.setdefault(p.id, now)
                        observe_prompt_feed("listed", (now - p.created).total_seconds(), reads=n)
                self.read += 1
                self._cap()
                return
        observe_prompt_feed("empty", reads=len(READ_DELAYS_S))

    @staticmethod
    def _prompts_of(wid: str, rows: object) -> list[Prompt]:
        out = []
        for row in rows if isinstance(rows, list) else []:
            try:
                p = Prompt.model_validate(row)
            except ValidationError:
                continue
            if p.workflow_id == wid and p.state == PromptState.PENDING:
                out.append(p)
        return out

    async def first_page(self, page_size: int, fetch: Callable[[], Awaitable[Listing]]) -> Listing:
        """The first page's visibility listing: `fetch()` (one at a time per page size, shared by concurrent
        requests), or, when it takes longer than `LISTING_WAIT_S`, the last one if it is recent enough."""
        task = self._listing_task.get(page_size)
        if task is None:
            task = asyncio.create_task(self._fetch(page_size, fetch))
            self._listing_task[page_size] = task
        last = self._listing.get(page_size)
        loop = asyncio.get_running_loop()
        if last is not None and loop.time() - last[0] < LISTING_MAX_AGE_S:
            done, _ = await asyncio.wait({task}, timeout=LISTING_WAIT_S)
            if not done:
                return last[1]  # the fetch goes on and refreshes the listing for the next request
        return await asyncio.shield(task)

    async def _fetch(self, page_size: int, fetch: Callable[[], Awaitable[Listing]]) -> Listing:
        try:
            listing = await fetch()
            self._listing[page_size] = (asyncio.get_running_loop().time(), listing)
            if len(self._listing) > 8:  # a few page sizes are in use (API default, console)
                self._listing.pop(next(iter(self._listing)))
            return listing
        finally:
            self._listing_task.pop(page_size, None)

    def closed(self, prompt_id: str) -> None:
        """This API delivered the prompt's decision: leave it out even while visibility still lists it."""
        self._opened.pop(prompt_id, None)
        self._closed[prompt_id] = datetime.now(UTC)

    def view(self, at: datetime | None = None) -> BoardView:
        """The fresh prompts still open and the recent closings (with the board's, for v1 runs). With `at` (a
        page token's first page), the fresh prompts the list showed at that moment, less those closed since."""
        now = datetime.now(UTC)
        self._prune(now)
        when = min(at or now, now)
        board = self._follower.view() if self._follower is not None else None
        opened, closed = dict(self._opened), list(self._closed)
        if board is not None:
            closed += [pid for pid in board.closed if pid not in self._closed]
            for p in board.opened:
                opened.setdefault(p.id, p)
                self._seen.setdefault(p.id, now)
        cutoff = when - timedelta(seconds=self.fresh_s)
        shown = (p for p in opened.values() if p.id not in closed and p.created >= cutoff and p.deadline >= when
                 and self._seen.get(p.id, now) <= when)
        return BoardView(opened=sorted(shown, key=lambda p: p.created, reverse=True), closed=closed)

    def _prune(self, now: datetime) -> None:
        """Forget what no page token can still ask about (`PAGING_S` after it left the list)."""
        keep = now - timedelta(seconds=self.fresh_s + PAGING_S)
        for pid in [pid for pid, p in self._opened.items() if p.created < keep or p.deadline < keep]:
            del self._opened[pid]
        for pid in [pid for pid, at in self._seen.items() if at < keep]:
            del self._seen[pid]
        for pid in [pid for pid, at in self._closed.items() if at < now - timedelta(seconds=self.fresh_s)]:
            del self._closed[pid]

    def _cap(self) -> None:
        if len(self._opened) > MAX_OPEN:
            for old in sorted(self._opened.values(), key=lambda p: p.created)[: len(self._opened) - MAX_OPEN]:
                del self._opened[old.id]
