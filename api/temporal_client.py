"""A lazily connected, shared Temporal client: the API starts even while Temporal is still coming up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from fastapi import HTTPException
from temporalio.client import Client, Interceptor, OutboundInterceptor, QueryWorkflowInput

from core.errors import ConfigError
from core.settings import Settings
from core.temporal import connect

# A query is answered by a worker: with none polling the workflow's queue (stopped, or crashed) the server holds
# it until its own deadline. The API's queries give up sooner and say so (503, `api.errors.rpc_error`).
QUERY_TIMEOUT = timedelta(seconds=10)


class _QueryDeadline(OutboundInterceptor):
    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        if input.rpc_timeout is None:
            input.rpc_timeout = QUERY_TIMEOUT
        return await super().query_workflow(input)


class QueryDeadline(Interceptor):
    """Every query the API sends without a timeout of its own gets `QUERY_TIMEOUT`."""

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _QueryDeadline(next)


def with_query_deadline(client: Client) -> Client:
    """The same connection and converter, with `QueryDeadline` in front of the client's own interceptors."""
    config = client.config()
    config["interceptors"] = [QueryDeadline(), *config["interceptors"]]
    return Client(**config)


class LazyClient:
    """Connects on first use and retries on later calls if Temporal was down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = with_query_deadline(client) if client is not None else None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        """The connected client.

        Raises:
            HTTPException: 503 when Temporal is unreachable.
        """
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = with_query_deadline(await asyncio.wait_for(connect(self.settings), timeout=5))
                except ConfigError:
                    raise
                except Exception as e:
                    raise HTTPException(
                        503, f"Temporal at {self.settings.temporal_address} is unreachable "
                             f"({type(e).__name__}); start it (`soar dev`) or fix SOAR_TEMPORAL_ADDRESS"
                    ) from None
        return self._client
