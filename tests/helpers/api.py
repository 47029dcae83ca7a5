"""The real API over HTTP for tests: uvicorn on a loopback port, sharing the test's Temporal client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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
