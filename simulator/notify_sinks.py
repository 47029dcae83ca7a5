"""Notification sinks (`/sinks/...`): Slack and Teams incoming webhooks, a generic webhook receiver, and Slack's
side of an interactive button click. Everything that arrives is recorded for the demo and the tests.

    POST /sinks/slack/services/<team>/<bot>/<token>   Slack incoming webhook: JSON with `text` or `blocks`;
                                                      answers `ok` (text/plain), 404 `no_service` for another
                                                      token, 400 `invalid_payload` / `no_text`
    POST /sinks/teams/webhookb2/<token>               Teams incoming webhook: a `message` with an Adaptive
                                                      Card attachment; answers `1`, 400 otherwise
    POST /sinks/webhook/<name>                        any JSON; headers and raw body recorded as received
    POST /sinks/slack/click                           play Slack: press the button of `option` in a recorded
                                                      message as Slack user `user_id` and POST the signed
                                                      `block_actions` payload to `url` (the SOAR API)

Faults (`POST /_sim/faults`) apply per vendor: `slack`, `teams`, `webhook`.

Side effects (GET /_sim/state):
    effects.sinks.slack     [{"path", "body", "t"}]      messages posted to the Slack webhook
    effects.sinks.teams     [{"path", "body", "t"}]
    effects.sinks.webhook   [{"path", "headers", "body", "t"}]  body as the exact text received
    effects.sinks.clicks    [{"url", "status", "answer"}]      interactions the simulator sent
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from simulator import credentials
from simulator.core import gate, sim_state

PREFIX = "/sinks"
VENDOR = "sinks"
router = APIRouter()
MAX_RECORDED = 2000
RECORDED_HEADERS = ("content-type", "user-agent", "x-soar-timestamp", "x-soar-signature", "x-soar-event")


def _text_error(status: int, message: str, headers: dict[str, str]) -> Response:
    return PlainTextResponse(message, status_code=status, headers=headers)


def _record(request: Request, kind: str, row: dict[str, Any]) -> None:
    rows: list[dict[str, Any]] = sim_state(request).effect("sinks", kind, [])
    if len(rows) < MAX_RECORDED:
        rows.append({"path": request.url.path, "t": time.time(), **row})


async def _json(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        return None


@router.post("/slack/services/{team}/{bot}/{token}")
async def slack_webhook(team: str, bot: str, token: str, request: Request) -> Response:
    await gate(request, "slack", _text_error)
    if token != credentials.SLACK_WEBHOOK_TOKEN:
        return PlainTextResponse("no_service", status_code=404)
    doc = await _json(request)
    if not isinstance(doc, dict):
        return PlainTextResponse("invalid_payload", status_code=400)
    if not doc.get("text") and not doc.get("blocks"):
        return PlainTextResponse("no_text", status_code=400)
    _record(request, "slack", {"body": doc})
    return PlainTextResponse("ok")


@router.post("/teams/webhookb2/{token}")
async def teams_webhook(token: str, request: Request) -> Response:
    await gate(request, "teams", _text_error)
    if token != credentials.TEAMS_WEBHOOK_TOKEN:
        return PlainTextResponse("Webhook Bad Request - Null or empty event", status_code=400)
    doc = await _json(request)
    cards = doc.get("attachments") if isinstance(doc, dict) else None
    if not isinstance(cards, list) or not any(
            isinstance(a, dict) and a.get("contentType") == "application/vnd.microsoft.card.adaptive" for a in cards):
        return PlainTextResponse("Bad payload: expected an Adaptive Card attachment", status_code=400)
    _record(request, "teams", {"body": doc})
    return PlainTextResponse("1")


@router.post("/webhook/{name}")
async def generic_webhook(name: str, request: Request) -> Response:
    await gate(request, "webhook", lambda s, m, h: JSONResponse({"error": m}, status_code=s, headers=h))
    raw = await request.body()
    headers = {k: v for k, v in request.headers.items() if k.lower() in RECORDED_HEADERS}
    _record(request, "webhook", {"headers": headers, "body": raw.decode("utf-8", "replace")})
    return JSONResponse({"received": True})


class Click(BaseModel):
    """Press a button of a recorded Slack message, as Slack would deliver it."""

    option: str
    user_id: str = Field(pattern=r"^[UW][A-Z0-9]{2,20}$")
    url: str = Field(description="The SOAR API's interaction URL")
    message: int = Field(default=-1, description="Index into effects.sinks.slack (default: the latest)")
    signing_secret: str = credentials.SLACK_SIGNING_SECRET


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature (https://api.slack.com/authentication/verifying-requests-from-slack), written
    here from Slack's documentation rather than imported, so the simulator checks our code independently."""
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def _button(message: dict[str, Any], option: str) -> tuple[dict[str, Any], str] | None:
    for block in message.get("blocks", []):
        for el in block.get("elements", []) if block.get("type") == "actions" else []:
            if el.get("text", {}).get("text") == option and "value" in el:
                return el, str(block.get("block_id", ""))
    return None


@router.post("/slack/click")
async def slack_click(click: Click, request: Request) -> Response:
    rows = sim_state(request).effect("sinks", "slack", [])
    try:
        message = rows[click.message]["body"]
    except IndexError:
        return JSONResponse({"detail": "no such recorded Slack message"}, status_code=404)
    found = _button(message, click.option)
    if found is None:
        return JSONResponse({"detail": f"no button {click.option!r} in that message"}, status_code=404)
    button, block_id = found
    payload = {
        "type": "block_actions", "api_app_id": "A0SIMSOAR", "token": "sim-not-a-verification-token",
        "team": {"id": "T0SIM", "domain": "sim-soc"},
        "user": {"id": click.user_id, "username": click.user_id.lower(), "team_id": "T0SIM"},
        "container": {"type": "message", "message_ts": f"{time.time():.6f}", "channel_id": "C0SOC"},
        "channel": {"id": "C0SOC", "name": "soc-alerts"}, "trigger_id": f"{int(time.time())}.sim",
        "response_url": f"{str(request.base_url).rstrip('/')}/sinks/slack/actions/T0SIM",
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": block_id,
                     "text": button["text"], "value": button["value"], "action_ts": f"{time.time():.6f}"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
               "X-Slack-Signature": slack_signature(click.signing_secret, ts, body),
               "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
    async with httpx.AsyncClient(timeout=30) as http:
        r = await http.post(click.url, content=body, headers=headers)
    row = {"url": click.url, "status": r.status_code, "answer": r.text[:2000]}
    sim_state(request).effect("sinks", "clicks", []).append(row)
    return JSONResponse(row)


@router.post("/slack/actions/{team}")
async def slack_response_url(team: str, request: Request) -> Response:
    """Slack's `response_url`: an app may post a follow-up message there."""
    _record(request, "responses", {"body": await _json(request)})
    return PlainTextResponse("ok")
