"""Error handling: every failure becomes a 4xx/503 with a message that says what was wrong and how to fix it."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.errors import ConfigError
from workflows.messages import PROMPT_FEED_PATH

log = logging.getLogger("soar.api")

UPDATE_ERROR_STATUS = {
    "PromptNotFound": 404, "PromptClosed": 409, "OptionNotOffered": 422, "RoleNotAllowed": 403,
    "ContainerClosed": 409, "UnknownPlaybook": 422, "TooManyArtifacts": 422, "NotReady": 409,
    "ApprovalInvalid": 403,
}


def update_error(e: WorkflowUpdateFailedError) -> HTTPException:
    """Map a rejected workflow update to an HTTP error by the validator's error type."""
    cause = e.cause
    if isinstance(cause, ApplicationError):
        return HTTPException(UPDATE_ERROR_STATUS.get(cause.type or "", 409), cause.message)
    return HTTPException(409, str(cause or e))


def rpc_error(e: RPCError, what: str) -> HTTPException:
    """Map a Temporal RPC error."""
    if e.status == RPCStatusCode.NOT_FOUND:
        return HTTPException(404, f"{what} not found")
    if e.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):  # CANCELLED: our rpc_timeout
        return HTTPException(503, f"{what}: no answer in time (is a worker running? `soar worker`); retry shortly")
    if e.status == RPCStatusCode.UNAVAILABLE:
        return HTTPException(503, "Temporal is unavailable; retry shortly")
    if e.status == RPCStatusCode.INVALID_ARGUMENT:
        return HTTPException(422, f"invalid request: {e.message[:200]}")
    return HTTPException(503, f"Temporal error ({e.status.name if e.status else 'unknown'}); retry shortly")


PUBLIC_PATHS = {"/healthz", "/readyz", "/docs", "/openapi.json", "/redoc", PROMPT_FEED_PATH}


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(p) for p in loc)


def install(app: FastAPI, max_body: int) -> None:
    """Exception handlers and the body-size limit."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI validates the body before running dependencies: answer 401 first for a caller without a
        # valid token, so an anonymous client learns nothing about the API's input rules.
        if request.url.path not in PUBLIC_PATHS:
            from api.auth import AUTH_HEADERS, directory, token_from

            token = token_from(request, allow_query=request.url.path.endswith("/ingest/splunk"))
            if not token or len(token) > 512 or directory(request).authenticate(token) is None:
                return JSONResponse({"detail": "missing or invalid token"}, status_code=401, headers=AUTH_HEADERS)
        errors = [{"field": _loc(e.get("loc", ())), "message": str(e.get("msg", "")).removeprefix("Value error, ")}
                  for e in exc.errors()[:20]]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return JSONResponse({"detail": f"{first['field']}: {first['message']}", "errors": errors}, status_code=422)

    @app.exception_handler(RPCError)
    async def _rpc(_: Request, exc: RPCError) -> JSONResponse:
        h = rpc_error(exc, "resource")
        return JSONResponse({"detail": h.detail}, status_code=h.status_code)

    @app.exception_handler(ConfigError)
    async def _config(_: Request, exc: ConfigError) -> JSONResponse:
        return JSONResponse({"detail": f"server configuration problem: {exc}"}, status_code=503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", extra={"path": request.url.path, "error_type": type(exc).__name__})
        return JSONResponse({"detail": "internal error; the request was not applied. Retry, and report it if it "
                                       "persists"}, status_code=500)

    app.add_middleware(BodyLimit, max_body=max_body)


class BodyLimit:
    """Refuse request bodies larger than `max_body` with 413 (by Content-Length or while streaming)."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        cl = headers.get(b"content-length")
        if cl is not None:
            try:
                too_big = int(cl) > self.max_body
            except ValueError:
                too_big = False
            if too_big:
                await self._reject(send)
                return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:
                    raise _TooLarge()
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = (b'{"detail":"request body too large: the limit is %d bytes; split the upload or raise '
                b'SOAR_API_MAX_BODY_BYTES"}' % self.max_body)
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
