"""The real API over HTTP for tests: uvicorn on a loopback port, sharing the test's Temporal client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from temporalio.client import Client

from core.settings import Settings
from tests.helpers.servers import ServerThread

TOKENS = {
    "automation": "demo-automation-token",
    "tier1": "demo-tier1-token",
    "tier2": "demo-tier2-token",
    "manager": "demo-manager-token",
}


def auth(who: str) -> dict[str, str]:
    """Bearer header of a demo user."""
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@contextmanager
def run_api(settings: Settings, client: Client) -> Iterator[str]:
    """Serve api.app on a real port; yields its base URL."""
    from api.app import create_app

    srv = ServerThread(create_app(settings, client=client)).start()
    try:
        yield srv.url
    finally:
        srv.stop()


def http(base: str) -> httpx.AsyncClient:
    """An async HTTP client for the API."""
    return httpx.AsyncClient(base_url=base, timeout=30)


async def poll(fn: Callable[[], Awaitable[Any]], timeout: float = 30.0) -> Any:
    """Await `fn()` until it returns something truthy (visibility and workflows are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        out = await fn()
        if out:
            return out
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.2)
