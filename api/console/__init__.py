"""The analyst's console at `/console/`: server-rendered pages (Jinja2) over the same service functions the JSON
routes use, a signed session cookie on top of the same users (api/console/session.py), a little JavaScript of
our own that only enhances (countdowns, the live report), and nothing fetched from elsewhere.

    /console/                         inbox: the prompts the analyst may answer, soonest deadline first
    /console/prompts/{id}             one prompt (the link in notifications); POST .../answer answers it
    /console/containers               containers, filtered and paginated
    /console/containers/{id}          a container: artifacts, timeline, runs, prompts, the analyst's actions
    /console/containers/{id}/report   the live execution report
    /console/metrics                  automation metrics as charts
    /console/sign-in, /sign-out       the session

The pages are not in the OpenAPI description (they are not an API); tests/security checks them separately.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from api.console import containers, inbox, signin, views
from api.console.render import page
from api.console.session import SignInRequired, read_session

PREFIX = "/console"
router = APIRouter(prefix=PREFIX, include_in_schema=False)
for _sub in (signin.router, inbox.router, containers.router, views.router):
    router.include_router(_sub)


def install(app: FastAPI) -> None:
    """Mount the console and its error pages (plain sentences in HTML, never JSON, under /console)."""
    app.include_router(router)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return signin.sign_in_required(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if not request.url.path.startswith(PREFIX + "/") and request.url.path != PREFIX:
            return await http_exception_handler(request, exc)
        try:
            session = read_session(request)
        except SignInRequired:
            session = None
        return page(request, "error.html", session, status=exc.status_code, message=str(exc.detail))
