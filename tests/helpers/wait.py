"""Waiting for asynchronous outcomes (workflows, visibility, processes): the one poll loop of the tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def assert_eventually(fn: Callable[[], Awaitable[T | None]], within: float = 30.0, what: str = "",
                            interval: float = 0.2) -> T:
    """Await `fn()` until it returns something truthy (an exception counts as "not yet"), for up to `within`
    seconds, and return it.

    Raises:
        TimeoutError: naming `what` and the last error seen.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last: BaseException | None = None
    while True:
        try:
            out = await fn()
            if out:
                return out
        except Exception as e:  # not there yet (query before start, server restarting, ...)
            last = e
        if loop.time() > deadline:
            raise TimeoutError(f"{what or 'condition'}: not reached within {within:.0f}s (last error: {last!r})")
        await asyncio.sleep(interval)


def truthy(value: Any) -> Any:
    """`value`, or True for a falsy-but-present one (an httpx 4xx Response is falsy)."""
    return value if value else True
