"""The engine's state and how it runs user code (shared by the act, prompt and child-playbook parts).

User code runs only here, synchronously, inside workflow tasks: a block (on_start, a callback, on_finish)
is called with the context variable set to this run, and with the callback chain (the analyst approval it
descends from, if any) that acts it issues inherit. An exception escaping user code fails the run with the
playbook's file and line (recorded as a comment on the container); a Phantom block cannot fail a workflow
task. Container changes are flushed as one signal per workflow step while work is outstanding, the rest
travels with the run's result.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Callable, Coroutine
from types import FrameType
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.phantom.context import CURRENT, where
from workflows.phantom.datapaths import Block
from workflows.playbook import Playbook, PlaybookMeta

with workflow.unsafe.imports_passed_through():
    from core.models import ContainerEvent, Note, Pin

if TYPE_CHECKING:
    from workflows.phantom.conditions import PhantomData
    from workflows.phantom.containers import ContainerBox
    from workflows.phantom.loader import PhantomSource
    from workflows.phantom.safety import Chain

# The arguments Splunk SOAR passes a block, in its positional order.
STANDARD = ("action", "success", "container", "results", "handle", "filtered_artifacts", "filtered_results",
            "custom_function")
_BINDINGS: dict[Any, list[tuple[str, str]] | None] = {}


def _binding(fn: Callable[..., Any]) -> list[tuple[str, str]] | None:
    """How to pass the standard arguments to `fn`: (its parameter, our argument) pairs; None takes all
    by keyword (`**kwargs`). A parameter with another name takes the standard argument at its position
    (old playbooks name the container `incident`)."""
    key = getattr(fn, "__code__", fn)
    if key in _BINDINGS:
        return _BINDINGS[key]
    params = list(inspect.signature(fn).parameters.values())
    pairs: list[tuple[str, str]] = []
    for n, p in enumerate(params):
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            _BINDINGS[key] = None
            return None
        if p.name in STANDARD:
            pairs.append((p.name, p.name))
        elif p.kind is not inspect.Parameter.VAR_POSITIONAL and n < len(STANDARD) and p.default is p.empty:
            pairs.append((p.name, STANDARD[n]))
    _BINDINGS[key] = pairs
    return pairs


class EngineBase(Playbook):
    """The state of one Phantom playbook run."""

    box: ContainerBox
    data: PhantomData

    def __init__(self) -> None:
        super().__init__()
        self.meta = PlaybookMeta(name="phantom", title="Phantom playbook", version="", baseline_minutes=30.0,
                                 description="")
        self.src: PhantomSource | None = None
        self.ns: dict[str, Any] = {}
        self.blocks: dict[str, Block] = {}
        self.run_data: dict[str, Any] = {}
        self.outputs: dict[str, Any] = {}
        self.inputs: dict[str, list[Any]] = {}
        self.notes_added = 0
        self.pins_added = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: str | None = None
        self._stopped = False
        self._dirty = False
        self._flushing = False
        self._chain: Chain | None = None
        self._seq = 0

    def next_id(self) -> int:
        """A new action run / app run / block number (deterministic: runs in workflow order)."""
        self._seq += 1
        return self._seq

    # ---- container changes ---------------------------------------------------------------------------
    def staged(self) -> None:
        """Something was staged for the container: send it at the end of this workflow step."""
        self._dirty = True

    def stage_label(self, label: str) -> None:
        """Stage a label change."""
        self._pending.label = label

    def stage_note(self, note: Note) -> None:
        """Stage a note."""
        self._pending.notes.append(note)
        self.notes_added += 1
        self.staged()

    def stage_pin(self, pin: Pin) -> None:
        """Stage a pin."""
        self._pending.pins.append(pin)
        self.pins_added += 1
        self.staged()

    def merge_child(self, final: ContainerEvent) -> None:
        """Take a child run's final changes into this run's."""
        self._merge(final)
        self._pending.notes.extend(final.notes)
        self._pending.pins.extend(final.pins)
        self._pending.label = final.label or self._pending.label
        self._pending.prompts_opened.extend(final.prompts_opened)
        self.box.model.artifacts.extend(final.artifacts)
        if final.severity is not None:
            self.box.model.severity = final.severity
        self.staged()

    async def _flush_loop(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._dirty and bool(self._tasks))
            self._dirty, self._flushing = False, True
            try:
                await self.flush()
            finally:
                self._flushing = False

    # ---- user code -----------------------------------------------------------------------------------
    def user_where(self, frame: FrameType | None = None, exc: BaseException | None = None) -> str:
        """`<file> line N, in <block>` of the playbook code on the stack (or in `exc`'s traceback)."""
        file = self.src.file if self.src else self.meta.name
        return where(self.ns, file, frame=frame, tb=exc.__traceback__ if exc is not None else None)

    def log(self, is_error: bool, message: Any) -> None:
        """`phantom.debug` / `phantom.error`: the workflow logger (silent on replay)."""
        (workflow.logger.error if is_error else workflow.logger.info)("%s: %s", self.meta.name, message)

    def fail(self, e: BaseException) -> None:
        """Fail the run on an exception from user code (the first one wins), naming the playbook line."""
        if self._failure is None:
            what = f"{e.type}: {e.message}" if isinstance(e, ApplicationError) else f"{type(e).__name__}: {e}"
            at = self.user_where(exc=e)
            self._failure = what if f"({at})" in what else f"{what} ({at})"

    def call(self, fn: Callable[..., Any], *args: Any, chain: Chain | None = None, **kwargs: Any) -> None:
        """Run one block of user code (nothing runs once the run failed or was discontinued)."""
        if self._failure is not None or self._stopped:
            return
        token, outer = CURRENT.set(self), self._chain  # type: ignore[arg-type]
        self._chain = chain
        try:
            fn(*args, **kwargs)
        except Exception as e:  # user code: any error fails the run, never the workflow task
            self.fail(e)
        finally:
            self._chain = outer
            CURRENT.reset(token)

    def callback(self, fn: Callable[..., Any] | None, chain: Chain | None, **standard: Any) -> None:
        """Call a callback with the standard arguments it accepts."""
        if fn is None:
            return
        if not callable(fn):
            self.fail(TypeError(f"callback {fn!r} is not a function"))
            return
        binding = _binding(fn)
        if binding is None:
            self.call(fn, chain=chain, **standard)
        else:
            self.call(fn, chain=chain, **{p: standard.get(arg) for p, arg in binding})

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run `coro` (an act, prompt or child) as outstanding work of this run."""
        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception as e:  # an engine fault: fail the run with it rather than lose the work silently
                workflow.logger.exception("Phantom engine error in %s", self.meta.name)
                if self._failure is None:
                    self._failure = f"engine error: {type(e).__name__}: {e}"

        t = asyncio.create_task(guarded())
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until no act, prompt or child is outstanding (or the run failed or was discontinued)."""
        await workflow.wait_condition(lambda: not self._tasks or self._failure is not None or self._stopped)
        if self._tasks:
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def completed(self, names: list[str]) -> bool:
        """`phantom.completed`: every named block has finished (one never started has not)."""
        return all(n in self.blocks and self.blocks[n].done for n in names)

    def discontinue(self) -> None:
        """`phantom.discontinue`: stop this run once the current block returns (outstanding work is cancelled;
        no further callback and no `on_finish` run)."""
        self._stopped = True
        self.comment(f"Playbook {self.meta.title} discontinued itself ({self.user_where(sys._getframe(1))})")
        self.staged()
