"""Answering prompts from Slack: the buttons of a prompt notification post here (Slack's interactivity URL).

Slack authenticates the request, not the user's token: the body is verified with Slack's v0 signature and the
signing secret of a Slack channel in notifications.json, within a 5-minute window. The Slack member is mapped
to a SOAR user by `slack_user_id` in users.json, and the answer goes through `api.answers.answer` exactly like
`POST /api/v1/prompts/{id}/response`: the same role check, the same signed approval, the same audit.

Refusals: an unverified request is refused with 401 and written to the API's audit log (its content cannot be
trusted, so it is not attached to any container: a forger could otherwise flood a container's audit trail);
a verified click by an unmapped member is refused with 403 and audited on the prompt's container; a refusal
by `answer()` (wrong role, closed, not offered) is audited there by `answer()` itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.answers import answer, answered, audit_refusal, find_prompt
from api.auth import directory
from api.deps import ClientDep
from core.config.notifications import NotificationFile, Notifications, SlackChannel
from core.config.users import User
from core.errors import ConfigError
from core.notice import SLACK_ACTION_PREFIX, verify_slack

router = APIRouter(prefix="/api/v1/integrations/slack", tags=["integrations"])
audit_log = logging.getLogger("soar.audit")
MAX_PAYLOAD = 64 * 1024
_background: set[asyncio.Task[None]] = set()


class SlackAnswer(BaseModel):
    """What the interaction endpoint answers (Slack shows nothing of it; kept for the caller and the logs)."""

    response_type: str = "ephemeral"
    replace_original: bool = False
    text: str


def notifications(request: Request) -> Notifications:
    """The API's view of notifications.json (re-read when it changes)."""
    f: NotificationFile | None = getattr(request.app.state, "notifications", None)
    if f is None:
        f = request.app.state.notifications = NotificationFile(request.app.state.settings.notifications_file)
    return f.get()


def _signing_secrets(conf: Notifications) -> list[str]:
    out = []
    for ch in conf.channels.values():
        if isinstance(ch, SlackChannel) and ch.signing_secret:
            secret = conf.secret(ch.name, "signing_secret")
            if secret:
                out.append(secret)
    return out


def _action(body: bytes) -> tuple[str, str, str, dict[str, Any]]:
    """(Slack member id, prompt id, option, payload) of a verified block_actions payload, or 400."""
    try:
        payload = json.loads(parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0])
        user_id = payload["user"]["id"]
        act = next(a for a in payload["actions"] if str(a.get("action_id", "")).startswith(SLACK_ACTION_PREFIX))
        value = json.loads(act["value"])
        prompt_id, option = value["prompt_id"], value["option"]
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, StopIteration, IndexError):
        raise HTTPException(400, "not a Slack block_actions payload from a SOAR prompt button") from None
    if not all(isinstance(x, str) and 0 < len(x) <= 256 for x in (user_id, prompt_id, option)):
        raise HTTPException(400, "user id, prompt id and option must be short strings")
    return user_id, prompt_id, option, payload


@router.post("/interactions", response_model=SlackAnswer,
             responses={400: {"description": "not a prompt button payload"},
                        401: {"description": "the Slack signature or timestamp does not verify"},
                        403: {"description": "the Slack member is not mapped to a SOAR user, or lacks the role"},
                        404: {"description": "Slack answering is not configured, or no such prompt"},
                        409: {"description": "the prompt is closed"}, 422: {"description": "option not offered"}})
async def interactions(request: Request, client: ClientDep) -> JSONResponse:
    """A button click from a prompt notification in Slack (form-encoded `payload`, signed by Slack)."""
    body = await request.body()
    source = f"slack via {request.client.host}" if request.client else "slack"
    try:
        secrets = _signing_secrets(notifications(request))
    except ConfigError as e:
        raise HTTPException(404, f"Slack answering is not available: {e}") from None
    if not secrets:
        raise HTTPException(404, "Slack answering is not configured: give a slack channel a signing_secret in "
                                 "notifications.json")
    if len(body) > MAX_PAYLOAD:
        raise HTTPException(413, f"a Slack interaction is at most {MAX_PAYLOAD} bytes")
    why = verify_slack(secrets, request.headers.get("x-slack-request-timestamp"),
                       request.headers.get("x-slack-signature"), body, time.time())
    if why is not None:
        audit_log.warning("refused a Slack interaction", extra={"kind": "slack_signature_invalid", "detail": why,
                                                                "source": source})
        raise HTTPException(401, f"Slack request refused: {why}")
    slack_id, prompt_id, option, payload = _action(body)
    user = directory(request).by_slack(slack_id)
    if user is None:
        await _audit_unmapped(client, prompt_id, slack_id, option, source)
        raise HTTPException(403, f"Slack member {slack_id} is not mapped to a SOAR user; add \"slack_user_id\": "
                                 f"\"{slack_id}\" to their entry in users.json")
    ack = await answer(client, request.app.state.settings, user, prompt_id, option, source=f"slack:{slack_id}")
    answered(request, prompt_id, ack)
    text = f"{user.name} answered \"{option}\": {ack.next_step}"
    _follow_up(notifications(request), payload, text)
    return JSONResponse(SlackAnswer(text=text).model_dump())


async def _audit_unmapped(client: ClientDep, prompt_id: str, slack_id: str, option: str, source: str) -> None:
    try:
        p = await find_prompt(client, prompt_id)
    except HTTPException:
        p = None
    if p is None:
        return
    who = User.model_construct(name=f"slack:{slack_id}", roles=[], token_sha256="")
    await audit_refusal(client, p, who, option, f"Slack member {slack_id} is not mapped to a SOAR user", source)


def _follow_up(conf: Notifications, payload: dict[str, Any], text: str) -> None:
    """Post the outcome to the message's `response_url`, only when it is on a configured Slack webhook's own
    origin (never an address taken from a request)."""
    url = payload.get("response_url")
    if not isinstance(url, str):
        return
    origins = set()
    for ch in conf.channels.values():
        if isinstance(ch, SlackChannel):
            hook = urlsplit(conf.secret(ch.name, "webhook_url") or "")
            origins.add((hook.scheme, hook.netloc))
    target = urlsplit(url)
    if (target.scheme, target.netloc) not in origins:
        return

    async def post() -> None:
        try:
            async with httpx.AsyncClient(timeout=5, follow_redirects=False) as http:
                await http.post(url, json={"response_type": "in_channel", "replace_original": False,
                                           "text": f"{text} ({datetime.now(UTC):%H:%M:%S} UTC)"})
        except httpx.HTTPError:
            pass  # a follow-up only; the answer is recorded

    task = asyncio.get_running_loop().create_task(post())
    _background.add(task)
    task.add_done_callback(_background.discard)
