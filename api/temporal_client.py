"""A lazily connected, shared Temporal client: the API starts even while Temporal is still coming up."""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from temporalio.client import Client

from core.errors import ConfigError
from core.settings import Settings
from core.temporal import connect


class LazyClient:
    """Connects on first use and retries on later calls if Temporal was down."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
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
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except ConfigError:
                    raise
                except Exception as e:
                    raise HTTPException(
                        503, f"Temporal at {self.settings.temporal_address} is unreachable "
                             f"({type(e).__name__}); start it (`soar dev`) or fix SOAR_TEMPORAL_ADDRESS"
                    ) from None
        return self._client
