"""Which engine the running user code belongs to, and where in the user's file an error points.

`phantom.rules` functions find the `PhantomPlaybook` run that is executing the calling code through the
context variable `CURRENT`, which the engine sets only while it runs user code (never a module global
shared across runs). A run's user code executes in a module namespace of its own; the frames whose globals
are that namespace are the playbook's, which is how an error names the playbook's line.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflows.phantom.workflow import PhantomPlaybook

CURRENT: ContextVar[PhantomPlaybook | None] = ContextVar("phantom_engine", default=None)


class PhantomError(Exception):
    """A playbook used `phantom.rules` in a way that cannot work (an unknown playbook, a wrong argument).

    Raised into the playbook's code; uncaught, it fails the run with the playbook's line.
    """


def current(function: str) -> PhantomPlaybook:
    """The engine of the calling playbook code.

    Raises:
        RuntimeError: `phantom.rules.<function>` was called outside a running Phantom playbook.
    """
    eng = CURRENT.get()
    if eng is None:
        raise RuntimeError(f"phantom.rules.{function}() was called outside a running Phantom playbook; "
                           "playbook files run only inside the PhantomPlaybook workflow")
    return eng


def where(ns: dict[str, Any], file: str, frame: FrameType | None = None,
          tb: TracebackType | None = None) -> str:
    """`<file> line N, in <function>` for the innermost playbook frame of a traceback (or of the stack)."""
    found: tuple[int, str] | None = None
    while tb is not None:
        if tb.tb_frame.f_globals is ns:
            found = (tb.tb_lineno, tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    f = frame if found is None else None
    while f is not None:
        if f.f_globals is ns:
            found = (f.f_lineno, f.f_code.co_name)
            break
        f = f.f_back
    if found is None:
        return file
    return f"{file} line {found[0]}, in {found[1]}"


def unsupported(what: str, hint: str = "") -> NotImplementedError:
    """A NotImplementedError naming the unsupported function (or argument) and the playbook line calling it."""
    eng = CURRENT.get()
    at = f" ({eng.user_where(sys._getframe(1))})" if eng is not None else ""
    more = f" {hint}" if hint else ""
    return NotImplementedError(f"{what} is not supported by this platform{at}.{more} See 'Running your Phantom "
                               "playbooks' in the README for what is supported")
