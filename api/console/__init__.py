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
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from api.console import containers, inbox, signin, views
from api.console.render import page
from api.console.session import SignInRequired, read_session
from api.errors import rpc_error

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
        if not _console(request):
            return await http_exception_handler(request, exc)
        return _error_page(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RPCError)
    async def _rpc(request: Request, exc: RPCError) -> Response:
        h = rpc_error(exc, "resource")
        if not _console(request):
            return JSONResponse({"detail": h.detail}, status_code=h.status_code)
        return _error_page(request, h.status_code, str(h.detail))


def _console(request: Request) -> bool:
    return request.url.path.startswith(PREFIX + "/") or request.url.path == PREFIX


def _error_page(request: Request, status: int, message: str) -> Response:
    try:
        session = read_session(request)
    except (SignInRequired, HTTPException):
        session = None
    return page(request, "error.html", session, status=status, message=message)
