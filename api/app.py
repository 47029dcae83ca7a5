"""The FastAPI app factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api.assets import ingest_routes
from api.board_follower import BoardFollower
from api.console import install as install_console
from api.errors import install as install_errors
from api.prompt_feed import PromptFeed
from api.routers import include_routers
from api.runs import OutcomeCache, PrometheusRefresh
from api.temporal_client import LazyClient
from core.config.notifications import NotificationFile
from core.config.triggers import TriggerFile
from core.config.users import load_users
from core.settings import Settings, get_settings
from workflows.registry import PLAYBOOKS, load_phantom_playbooks


def create_app(settings: Settings | None = None, client: Client | None = None) -> FastAPI:
    """Build the API. `client` lets tests share an already connected Temporal client."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        warm = asyncio.create_task(_warm_routes(app))  # the first containers need no matching activity either
        app.state.board.start()  # the fresh prompt list (api/prompt_feed.py)
        yield
        warm.cancel()
        await app.state.board.stop()

    app = FastAPI(title="SOAR API", version="0.1.0", lifespan=lifespan,
                  description="Durable SOAR playbooks on Temporal. All routes need a token except health.")
    app.state.settings = settings
    # Users are checked at start: a public demo token outside dev mode stops the API (ConfigError).
    app.state.users = load_users(settings.users_file, dev_mode=settings.dev_mode)
    app.state.temporal = LazyClient(settings, client)
    app.state.board = PromptFeed(app.state.temporal.client,
                                 BoardFollower(app.state.temporal.client, settings.playbook_task_queue))
    # The Phantom playbooks of this deployment's directory (a broken file stops the API as it stops the
    # worker: file, line and fix), so triggers, the catalogue and /rest/playbook_run know their names.
    load_phantom_playbooks(settings)
    app.state.triggers = TriggerFile(settings.triggers_file, PLAYBOOKS.keys())
    app.state.outcomes = OutcomeCache()
    app.state.prometheus_refresh = PrometheusRefresh()
    app.state.notifications = NotificationFile(settings.notifications_file, PLAYBOOKS.keys())  # Slack's secret
    install_errors(app, settings.api_max_body_bytes)
    include_routers(app)
    install_console(app)
    return app


async def _warm_routes(app: FastAPI) -> None:
    """Ask a worker for the asset routes once at start (`api.assets.ingest_routes`); quietly later if down."""
    try:
        ingest_routes(await app.state.temporal.client(), app.state.settings, app.state)
    except Exception:  # noqa: BLE001 - Temporal not up yet: the first ingestion asks again
        return
