"""The prompt board as the API sees it: the board workflow's history, followed as it grows.

Runs tell the board (`workflows.board`) of every prompt they open and close with a signal, and Temporal writes
each signal into the board's history the moment it is sent, before any worker has processed it. The API
long-polls that history (`GetWorkflowExecutionHistory` with `wait_new_event`, served by Temporal's history
service: no worker, no visibility index involved) and keeps the same small index the board keeps in memory.
So `GET /api/v1/prompts` lists a new prompt within a round trip of its opening however busy the worker is or
however far visibility lags, and reads it from memory, not with a query per request.

The follower starts over from the board's latest run when the board continues as new (the new run's input
carries what is still fresh). Until it has read the current run to its end, `view()` is None and the list
reads visibility alone, as it would without a board.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from core.models import Prompt
from workflows.board import FRESH_S, MAX_FRESH, SIGNAL, BoardChange, BoardState, BoardView, board_id

log = logging.getLogger("soar.api.board")
RETRY_S = 2.0  # after an error (Temporal down, no board yet)
PAGE = 256  # events per page (the frontend's limit, frontend.historyMaxPageSize: more is cut to it, with a warning)
POLL_TIMEOUT = timedelta(seconds=60)  # one long poll; the server answers sooner when an event arrives


class BoardFollower:
    """The prompts opened and closed in the last `FRESH_S` seconds on one playbook queue, from its board."""

    def __init__(self, client: Callable[[], Awaitable[Client]], task_queue: str) -> None:
        self._client, self.workflow_id = client, board_id(task_queue)
        self._opened: dict[str, Prompt] = {}
        self._closed: dict[str, datetime] = {}
        self._caught_up = False
        self._last_error = ""  # said once, not every retry
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Follow the board in the background (the API's lifespan)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def view(self) -> BoardView | None:
        """The fresh openings still open and the recent closings; None until the board's history was read."""
        if not self._caught_up:
            return None
        self._prune(datetime.now(UTC))
        return BoardView(opened=sorted(self._opened.values(), key=lambda p: p.created, reverse=True),
                         closed=list(self._closed))

    async def _run(self) -> None:
        while True:
            try:
                client = await self._client()
                run_id = (await client.get_workflow_handle(self.workflow_id).describe()).run_id
                while run_id:  # the board's runs, one after the other as it continues as new
                    run_id = await self._follow(client, run_id)
                self._caught_up = False  # the board closed (a worker's start opens a new one)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - Temporal down, or no board yet: read visibility alone, retry
                said = f"{type(e).__name__}: {e}"
                if said != self._last_error and not (isinstance(e, RPCError) and e.status == RPCStatusCode.NOT_FOUND):
                    log.info("prompt board not followed (retrying every %s s): %s", RETRY_S, said)
                self._last_error = said
                self._caught_up = False
            await asyncio.sleep(RETRY_S)

    async def _follow(self, client: Client, run_id: str) -> str:
        """Read one run of the board and wait for its new events; returns the run it continued as, or "" when
        it closed otherwise."""
        token = b""
        while True:
            req = GetWorkflowExecutionHistoryRequest(
                namespace=client.namespace, execution=WorkflowExecution(workflow_id=self.workflow_id, run_id=run_id),
                next_page_token=token, wait_new_event=True, maximum_page_size=PAGE)
            try:
                resp = await client.workflow_service.get_workflow_execution_history(req, retry=True,
                                                                                   timeout=POLL_TIMEOUT)
            except RPCError as e:
                if e.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED) and token:
                    continue  # a long poll that outlived its deadline: poll again from the same place
                raise
            for ev in resp.history.events:
                nxt = await self._apply(client, ev)
                if nxt is not None:
                    return nxt
            if not resp.next_page_token:
                return ""
            token = resp.next_page_token
            if len(resp.history.events) < PAGE:
                self._caught_up = True  # the page ended where the history ends now: the rest arrives by long poll

    async def _apply(self, client: Client, ev: HistoryEvent) -> str | None:
        """Apply one event; the new run's id when the board continued as new."""
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            payloads = ev.workflow_execution_started_event_attributes.input.payloads
            raw = (await client.data_converter.decode(payloads))[0] if payloads else None
            state = BoardState.model_validate(raw) if raw else None
            self._opened = {p.id: p for p in state.opened} if isinstance(state, BoardState) else {}
            self._closed = dict(state.closed) if isinstance(state, BoardState) else {}
        elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
            attrs = ev.workflow_execution_signaled_event_attributes
            if attrs.signal_name == SIGNAL and attrs.input.payloads:
                change = (await client.data_converter.decode(attrs.input.payloads, [BoardChange]))[0]
                self._change(change, ev.event_time.ToDatetime(tzinfo=UTC))
        elif ev.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            return ev.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
        return None

    def _change(self, c: BoardChange, at: datetime) -> None:
        """As the board applies it (`PromptBoard.change`)."""
        for pid in c.closed:
            self._opened.pop(pid, None)
            self._closed[pid] = at
        for p in c.opened:
            if p.id not in self._closed:
                self._opened[p.id] = p
        if len(self._opened) > MAX_FRESH:
            for old in sorted(self._opened.values(), key=lambda p: p.created)[: len(self._opened) - MAX_FRESH]:
                del self._opened[old.id]

    def _prune(self, now: datetime) -> None:
        cutoff = now - timedelta(seconds=FRESH_S)
        for pid in [pid for pid, p in self._opened.items() if p.created < cutoff]:
            del self._opened[pid]
        for pid in [pid for pid, at in self._closed.items() if at < cutoff]:
            del self._closed[pid]
