"""The imports a Phantom playbook's module sees.

User code runs inside workflow code, so it must be deterministic without the author knowing it:

- `import phantom.rules as phantom` gives the engine's `phantom.rules` (one module, shared by every run;
  it finds the run through a context variable);
- `datetime`, `time`, `random` and `uuid` are stand-ins whose clock is the workflow's clock
  (`workflow.now()`, in UTC: a playbook's local time zone is UTC) and whose randomness is the workflow's
  seeded random (`workflow.random()`, `workflow.uuid4()`); `time.sleep` raises (a playbook waits with
  `act(start_time=...)` or a prompt);
- the platform's own packages (the engine, connectors, Temporal, asyncio) cannot be imported: a playbook
  acts through `phantom.rules` only;
- every other module is imported as workflow code imports it: through the Temporal sandbox, which passes
  the standard library through and refuses I/O (`open`, `os.environ`, sockets) at run time.

This keeps honest playbooks deterministic and on the documented surface; it is not a security boundary
(the file is Python running in the worker). What bounds a hostile file is that high-impact actions run only
with an approval the API signed for exactly those actions and targets.
"""

from __future__ import annotations

import builtins
import datetime as _dt
import random as _random
import time as _time
import uuid as _uuid
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from temporalio import workflow


def _now() -> _dt.datetime:
    """Workflow time, naive UTC (what `datetime.now()` gives a playbook)."""
    return workflow.now().astimezone(_dt.UTC).replace(tzinfo=None)


class _DatetimeMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _dt.datetime)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _dt.datetime)


class _DateMeta(type):
    def __instancecheck__(cls, obj: object) -> bool:
        return isinstance(obj, _dt.date)

    def __subclasscheck__(cls, sub: type) -> bool:
        return issubclass(sub, _dt.date)


class WorkflowDatetime(_dt.datetime, metaclass=_DatetimeMeta):
    """`datetime.datetime` whose `now()`, `utcnow()` and `today()` read workflow time."""

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> WorkflowDatetime:
        """Workflow time (naive UTC, or in `tz`)."""
        n = _now()
        if tz is not None:
            n = n.replace(tzinfo=_dt.UTC).astimezone(tz)
        return cls.fromisoformat(n.isoformat())

    @classmethod
    def utcnow(cls) -> WorkflowDatetime:
        """Workflow time, naive UTC."""
        return cls.now()

    @classmethod
    def today(cls) -> WorkflowDatetime:
        """Workflow time, naive UTC."""
        return cls.now()


class WorkflowDate(_dt.date, metaclass=_DateMeta):
    """`datetime.date` whose `today()` is the workflow's date (UTC)."""

    @classmethod
    def today(cls) -> WorkflowDate:
        """Today in workflow time (UTC)."""
        d = _now().date()
        return cls(d.year, d.month, d.day)


def _module(name: str, base: ModuleType, **overrides: Any) -> ModuleType:
    """A module that is `base` except for `overrides`."""
    mod = ModuleType(name, base.__doc__)
    mod.__dict__.update({k: v for k, v in vars(base).items() if not k.startswith("__")})
    mod.__dict__.update(overrides)
    return mod


def _no_sleep(*_: Any) -> None:
    raise NotImplementedError("time.sleep() would block the workflow worker; a Phantom playbook waits with "
                              "phantom.act(..., start_time=...) or a prompt")


def _rand(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(workflow.random(), name)(*args, **kwargs)

    call.__name__ = name
    return call


def _system_random(*_: Any, **__: Any) -> Any:
    raise NotImplementedError("random.SystemRandom is not deterministic; use random.random() (workflow random)")


PLATFORM = frozenset({"activities", "api", "asyncio", "cli", "core", "simulator", "temporalio", "worker",
                      "workflows"})
_RANDOM_FUNCS = ("random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform",
                 "gauss", "getrandbits", "randbytes", "triangular", "betavariate", "expovariate",
                 "normalvariate", "lognormvariate", "vonmisesvariate", "paretovariate", "weibullvariate")


def shim_modules() -> dict[str, ModuleType]:
    """The stand-in modules, built for one run (they hold nothing but functions of workflow state)."""
    dt = _module("datetime", _dt, datetime=WorkflowDatetime, date=WorkflowDate)
    tm = _module("time", _time, time=lambda: workflow.now().timestamp(),
                 time_ns=lambda: int(workflow.now().timestamp() * 1e9),
                 monotonic=lambda: workflow.now().timestamp(), perf_counter=lambda: workflow.now().timestamp(),
                 sleep=_no_sleep)
    rnd = _module("random", _random, SystemRandom=_system_random, **{f: _rand(f) for f in _RANDOM_FUNCS})
    uid = _module("uuid", _uuid, uuid4=lambda: workflow.uuid4(),
                  uuid1=lambda *a, **k: workflow.uuid4())
    return {"datetime": dt, "time": tm, "random": rnd, "uuid": uid}


def user_builtins(phantom_pkg: ModuleType, rules: ModuleType) -> dict[str, Any]:
    """The builtins of a playbook module: the process's (as the sandbox restricts them) with an `__import__`
    that serves `phantom.rules` and the stand-ins."""
    shims = shim_modules()

    def import_(name: str, globals: Mapping[str, object] | None = None, locals: Mapping[str, object] | None = None,
                fromlist: Sequence[str] | None = (), level: int = 0) -> ModuleType:
        if level == 0:
            if name == "phantom.rules":
                return rules if fromlist else phantom_pkg
            if name == "phantom":
                return phantom_pkg
            if name in shims:
                return shims[name]
            if name.partition(".")[0] in PLATFORM:
                raise ImportError(f"a Phantom playbook cannot import {name!r} (the platform's own modules); use "
                                  "phantom.rules")
        return builtins.__import__(name, globals, locals, fromlist or (), level)

    out = dict(vars(builtins))
    out["__import__"] = import_
    return out
