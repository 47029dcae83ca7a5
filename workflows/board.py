"""The prompt board: the prompts opened and closed in the last minutes, from the runs themselves, so the prompt
list is fresh however far Temporal visibility lags behind under load.

One small entity workflow per playbook task queue (`soar-prompt-board/<queue>`), started by the worker. A run
that opens a prompt signals it together with the container (one workflow task for both signals), and again
when the prompt closes. The API reads it with a query (answered from the worker's memory) and merges it into
the visibility listing: prompts not listed yet come first, closed ones are dropped. The board keeps only what
visibility may not show yet (`FRESH_S`, at most `MAX_FRESH` prompts), so its state stays small; it continues
as new before its history grows long. Answering a prompt never reads it: a prompt id names its run.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core.models import Prompt

FRESH_S = 600.0  # how long after opening a prompt stays on the board (visibility has caught up long before)
MAX_FRESH = 1000  # and at most this many (the oldest go first)
BOARD_MESSAGE_CHARS = 1000  # a prompt's message as the board keeps it (the full one is in its run's memo), so
# the board's state, carried across continue-as-new, stays far below Temporal's 2 MB payload limit
HISTORY_LIMIT = 4000  # events; then continue as new
SIGNAL = "change"


def board_id(task_queue: str) -> str:
    """The board of the runs on `task_queue`."""
    return f"soar-prompt-board/{task_queue}"


class BoardChange(BaseModel):
    """Prompts a run opened or closed."""

    opened: list[Prompt] = Field(default_factory=list)
    closed: list[str] = Field(default_factory=list)


class BoardState(BaseModel):
    """What the board knows (carried across continue-as-new)."""

    opened: list[Prompt] = Field(default_factory=list)
    closed: dict[str, datetime] = Field(default_factory=dict, description="Prompt id -> when it closed")


class BoardView(BaseModel):
    """The query's answer: prompts opened recently and still open, and prompts closed recently."""

    opened: list[Prompt]
    closed: list[str]


@workflow.defn(name="SoarPromptBoard")
class PromptBoard:
    """The recent prompt openings and closings of one playbook queue."""

    @workflow.init
    def __init__(self, state: BoardState | None = None) -> None:
        self._opened: dict[str, Prompt] = {p.id: p for p in (state.opened if state else [])}
        self._closed: dict[str, datetime] = dict(state.closed) if state else {}

    @workflow.run
    async def run(self, state: BoardState | None = None) -> None:
        """Apply changes until the history is long, then continue as new with what is still fresh."""
        await workflow.wait_condition(
            lambda: workflow.info().get_current_history_length() > HISTORY_LIMIT
            or workflow.info().is_continue_as_new_suggested())
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._prune()
        workflow.continue_as_new(BoardState(opened=list(self._opened.values()), closed=self._closed))

    @workflow.signal(name=SIGNAL)
    def change(self, c: BoardChange) -> None:
        """Prompts opened or closed by a run."""
        now = workflow.now()
        for pid in c.closed:
            self._opened.pop(pid, None)
            self._closed[pid] = now
        for p in c.opened:
            if p.id not in self._closed:
                self._opened[p.id] = _trimmed(p)
        self._prune()

    @workflow.query
    def view(self) -> BoardView:
        """The fresh openings (still open) and the recent closings."""
        return BoardView(opened=sorted(self._opened.values(), key=lambda p: p.created, reverse=True),
                         closed=list(self._closed))

    def _prune(self) -> None:
        cutoff = workflow.now() - timedelta(seconds=FRESH_S)
        for pid in [pid for pid, p in self._opened.items() if p.created < cutoff]:
            del self._opened[pid]
        for pid in [pid for pid, at in self._closed.items() if at < cutoff]:
            del self._closed[pid]
        if len(self._opened) > MAX_FRESH:
            for p in sorted(self._opened.values(), key=lambda p: p.created)[: len(self._opened) - MAX_FRESH]:
                del self._opened[p.id]


def _trimmed(p: Prompt) -> Prompt:
    if len(p.message) <= BOARD_MESSAGE_CHARS:
        return p
    return p.model_copy(update={"message": p.message[:BOARD_MESSAGE_CHARS] + " [... the rest is on the prompt]"})


async def publish(opened: list[Prompt], closed: list[str]) -> None:
    """Tell this run's board (from a playbook run); a missing board is not the run's problem."""
    if not opened and not closed:
        return
    board = workflow.get_external_workflow_handle(board_id(workflow.info().task_queue))
    try:
        await board.signal(SIGNAL, BoardChange(opened=opened, closed=closed))
    except FailureError as e:  # no board (not started yet): the list falls back to visibility alone
        workflow.logger.info("prompt board not told: %s", e)
