"""Dependencies shared by the routers (`Annotated` aliases keep routes readable)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from temporalio.client import Client

from api.runs import OutcomeCache, PrometheusRefresh
from api.temporal_client import LazyClient
from core.settings import Settings, get_settings

SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_client(request: Request) -> Client:
    """The Temporal client created once in the app's lifespan (connected lazily)."""
    lazy: LazyClient = request.app.state.temporal
    return await lazy.client()


def get_outcomes(request: Request) -> OutcomeCache:
    """The app's cache of closed playbook runs' results."""
    cache: OutcomeCache = request.app.state.outcomes
    return cache


def get_prometheus_refresh(request: Request) -> PrometheusRefresh:
    """The app's throttled refresh of the Temporal-derived Prometheus series."""
    refresh: PrometheusRefresh = request.app.state.prometheus_refresh
    return refresh


ClientDep = Annotated[Client, Depends(get_client)]
OutcomesDep = Annotated[OutcomeCache, Depends(get_outcomes)]
PrometheusRefreshDep = Annotated[PrometheusRefresh, Depends(get_prometheus_refresh)]
