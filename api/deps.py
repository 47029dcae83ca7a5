"""Dependencies shared by the routers (`Annotated` aliases keep routes readable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from core.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_client(request: Request) -> Client:
    """The Temporal client created once in the app's lifespan (connected lazily)."""
    return await request.app.state.temporal.client()


ClientDep = Annotated[Client, Depends(get_client)]
