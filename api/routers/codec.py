"""Temporal codec server: `POST /codec/encode` and `POST /codec/decode` for the Web UI and the CLI.

Protocol (temporalio/samples-go `codec-server/protocol.md`): the body and the answer are a
`temporal.api.common.v1.Payloads` message in protobuf JSON form, `{"payloads": [{"metadata": {...},
"data": "<base64>"}]}`. Point the UI at `http://<api>/codec` (it appends `/decode`), the CLI with
`temporal workflow show --codec-endpoint http://<api>/codec --codec-auth "Bearer <token>"`.

Every call needs an analyst token (`Authorization: Bearer <token>` or `ph-auth-token`): decoding
reveals what the encryption protects. The Web UI sends `Authorization` only when it is configured to
pass the signed-in user's access token (`TEMPORAL_CODEC_PASS_ACCESS_TOKEN=true`, or "Pass the user
access token" in its codec settings); see docs/security.md.

CORS is handled here, not by app-wide middleware: the browser's preflight (`OPTIONS`, which carries no
credentials by design) is answered for the Temporal UI origins only, allowing `POST` and the headers
`content-type, x-namespace, authorization`; the answers to `POST` carry the matching
`Access-Control-Allow-Origin`, errors included, so the UI shows the real status instead of a CORS error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from pydantic import BaseModel, Field
from temporalio.api.common.v1 import Payloads

from api.auth import Analyst
from core.codec import EncryptionCodec, PayloadDecryptionError
from core.errors import ConfigError
from core.settings import Settings

ALLOWED_METHODS = ("POST",)
ALLOWED_HEADERS = ("content-type", "x-namespace", "authorization")
PREFLIGHT_MAX_AGE_S = 600


def cors_origins(settings: Settings) -> set[str]:
    """Browser origins allowed to call the codec endpoints: the Temporal Web UI of `soar dev`
    (127.0.0.1 and localhost on the UI port), or `codec_cors_origins` when the settings define it."""
    configured = getattr(settings, "codec_cors_origins", None)
    if configured:
        return {str(o).rstrip("/") for o in configured}
    port = settings.dev_server_ui_port
    return {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}


def _cors_headers(request: Request) -> dict[str, str]:
    origin = request.headers.get("origin")
    if origin and origin in cors_origins(request.app.state.settings):
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin"}
    return {"Vary": "Origin"}


class _CorsRoute(APIRoute):
    """Adds the CORS answer headers to every response of the route, errors (401/403/4xx/501) included."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_cors(request: Request) -> Response:
            try:
                response = await handler(request)
            except HTTPException as e:
                response = JSONResponse({"detail": e.detail}, status_code=e.status_code, headers=e.headers)
            for k, v in _cors_headers(request).items():
                response.headers[k] = v
            return response

        return with_cors


router = APIRouter(prefix="/codec", tags=["codec"], route_class=_CorsRoute)

Base64 = Annotated[str, Field(json_schema_extra={"format": "byte"})]


class PayloadJSON(BaseModel):
    """One `temporal.api.common.v1.Payload` in protobuf JSON form (values base64)."""

    metadata: dict[str, Base64] = Field(default_factory=dict)
    data: Base64 = ""


class PayloadsJSON(BaseModel):
    """`temporal.api.common.v1.Payloads` in protobuf JSON form: the body and the answer of both routes."""

    payloads: list[PayloadJSON]


# The body is parsed with protobuf's own JSON parser (`_payloads`), not by FastAPI; the model only
# describes it, here and in the answer.
_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"$ref": "#/components/schemas/PayloadsJSON"}}}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the payloads, transformed"},
    422: {"description": "not Payloads in protobuf JSON form, or a payload cannot be decrypted"},
    501: {"description": "payload encryption is off (SOAR_ENCRYPTION_KEY not set)"},
}


def _codec(request: Request) -> EncryptionCodec:
    """The app's codec, built once from its settings.

    Raises:
        HTTPException: 501 when encryption is off; 503 when the key settings are malformed.
    """
    state = request.app.state
    codec: EncryptionCodec | None = getattr(state, "codec", None)
    if codec is not None:
        return codec
    settings: Settings = state.settings
    if settings.encryption_key is None:
        raise HTTPException(501, "payload encryption is off on this API (SOAR_ENCRYPTION_KEY is not set), so "
                                 "there is nothing to encode or decode; set the same SOAR_ENCRYPTION_KEY and "
                                 "SOAR_ENCRYPTION_KEY_ID as the workers, or remove the codec endpoint from the UI")
    try:
        codec = EncryptionCodec.from_settings(settings)
    except ConfigError as e:
        raise HTTPException(503, f"server configuration problem: {e}") from None
    state.codec = codec
    return codec


async def _payloads(request: Request) -> Payloads:
    raw = await request.body()
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("expected a JSON object")
        return json_format.ParseDict(doc, Payloads(), ignore_unknown_fields=True)
    except (ValueError, TypeError, RecursionError, json_format.ParseError, DecodeError) as e:
        raise HTTPException(422, f'body: not Payloads in protobuf JSON form, {{"payloads": [{{"metadata": '
                                 f'{{...}}, "data": "<base64>"}}]}} ({str(e)[:200]})') from None


def _answer(out: list[Any]) -> JSONResponse:
    return JSONResponse(json_format.MessageToDict(Payloads(payloads=out)) or {"payloads": []})


@router.post("/encode", response_model=PayloadsJSON, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def encode(request: Request, user: Analyst) -> JSONResponse:
    """Encrypt payloads with the current key (what the UI uses to send signal or update input)."""
    codec = _codec(request)
    body = await _payloads(request)
    return _answer(await codec.encode(list(body.payloads)))


@router.post("/decode", response_model=PayloadsJSON, responses=_RESPONSES, openapi_extra=_OPENAPI)
async def decode(request: Request, user: Analyst) -> JSONResponse:
    """Decrypt payloads (current or an old key, by the key id they carry); others pass through."""
    codec = _codec(request)
    body = await _payloads(request)
    try:
        out = await codec.decode(list(body.payloads))
    except PayloadDecryptionError as e:
        raise HTTPException(422, str(e)) from None
    return _answer(out)


async def preflight(request: Request) -> Response:
    """CORS preflight of the Temporal Web UI: no credentials (browsers never send them on preflight)."""
    origin = request.headers.get("origin", "")
    allowed = cors_origins(request.app.state.settings)
    method = request.headers.get("access-control-request-method", "").upper()
    asked = {h.strip().lower() for h in request.headers.get("access-control-request-headers", "").split(",")
             if h.strip()}
    problem = None
    if origin not in allowed:
        problem = f"origin {origin[:100]!r} may not call the codec endpoint; allowed: {', '.join(sorted(allowed))}"
    elif method not in ALLOWED_METHODS:
        problem = f"method {method[:20]!r} is not allowed; the codec endpoint takes POST"
    elif not asked <= set(ALLOWED_HEADERS):
        problem = f"headers {', '.join(sorted(asked - set(ALLOWED_HEADERS)))[:200]} are not allowed; " \
                  f"allowed: {', '.join(ALLOWED_HEADERS)}"
    if problem:
        return JSONResponse({"detail": problem}, status_code=400, headers={"Vary": "Origin"})
    return Response(status_code=204, headers={
        "Access-Control-Allow-Origin": origin, "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
        "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS), "Access-Control-Allow-Credentials": "true",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_S), "Vary": "Origin"})


for _path in ("/encode", "/decode"):
    router.add_api_route(_path, preflight, methods=["OPTIONS"], include_in_schema=False)
