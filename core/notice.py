"""What a prompt notification looks like on each channel, and the signatures that authenticate the traffic.
Pure functions (no I/O, no clock: the time comes in as an argument).

- Slack: a Block Kit message; while the prompt waits, one button per option (high-impact ones ask Slack for a
  confirmation) posting back to `/api/v1/integrations/slack/interactions`, verified with Slack's v0 signature.
- Teams: an Adaptive Card (1.4) in an incoming-webhook message, with a button opening the prompt.
- Webhook: a JSON body signed with HMAC-SHA256 over `<timestamp>.<body>`; the receiver checks it as
  `verify_webhook` does (docs/console.md shows the same check in a few lines).
- E-mail: a plain-text message with the link, the deadline and the options.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote

from core.models.notifications import PromptNotice

SIGNATURE_HEADER = "X-SOAR-Signature"
TIMESTAMP_HEADER = "X-SOAR-Timestamp"
EVENT_HEADER = "X-SOAR-Event"
SIGNATURE_WINDOW_S = 300  # both ours and Slack's: a signed request older (or newer) than 5 minutes is refused
SLACK_ACTION_PREFIX = "soar_answer_"
ANSWERABLE = ("opened", "reminder", "escalated")


def prompt_link(public_url: str, prompt_id: str) -> str:
    """The prompt's page in the console."""
    return f"{public_url.rstrip('/')}/console/prompts/{quote(prompt_id, safe='')}"


def headline(n: PromptNotice) -> str:
    """One line saying what happened."""
    return {
        "opened": f"Prompt waiting for {n.role}",
        "reminder": f"Reminder: prompt still waiting for {n.role}",
        "escalated": f"Prompt escalated to {n.role}",
        "timed_out": f"Prompt timed out: the default \"{n.on_timeout}\" was taken",
    }.get(n.kind, f"Prompt {n.kind}")


def _utc(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC")


def _left(n: PromptNotice) -> str:
    seconds = max(0, int((n.deadline - n.at).total_seconds()))
    m, s = divmod(seconds, 60)
    return f"{m}m {s}s" if m else f"{s}s"


def _facts(n: PromptNotice) -> list[tuple[str, str]]:
    facts = [("Container", f"{n.container_id} {n.container_name}".strip()), ("Playbook", n.playbook),
             ("Asked", n.role), ("Deadline", f"{_utc(n.deadline)} ({_left(n)} left)" if n.kind in ANSWERABLE
                                  else _utc(n.deadline)),
             ("Options", ", ".join(n.options)), ("Default on timeout", n.on_timeout)]
    if n.started_by:
        facts.append(("Run started by", n.started_by))
    facts += [(f"Target ({t.kind})", f"{t.value}" + (f" - {t.source}" if t.source else "")) for t in n.targets]
    if n.detail:
        facts.append(("Detail", n.detail))
    return facts


# ---- Slack ---------------------------------------------------------------------------------------------
def slack_message(n: PromptNotice, link: str) -> dict[str, Any]:
    """An incoming-webhook message: header, the question, the facts, and (while it waits) answer buttons."""
    when = f"<!date^{int(n.deadline.timestamp())}^{{date_short_pretty}} {{time}}|{_utc(n.deadline)}>"
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{_mrkdwn(v)}"} for k, v in _facts(n) if k != "Deadline"][:10]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(n)[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(n.message)[:3000]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Deadline:* {when}"}, "fields": fields},
    ]
    buttons: list[dict[str, Any]] = []
    if n.kind in ANSWERABLE:
        for i, option in enumerate(n.options[:20]):
            b: dict[str, Any] = {"type": "button", "action_id": f"{SLACK_ACTION_PREFIX}{i}",
                                 "text": {"type": "plain_text", "text": option[:75]},
                                 "value": json.dumps({"prompt_id": n.prompt_id, "option": option})[:2000]}
            if option in n.high_impact:
                b["style"] = "danger"
                b["confirm"] = {"title": {"type": "plain_text", "text": "Confirm containment"},
                                "text": {"type": "plain_text", "text": f"{option}: {n.message}"[:300]},
                                "confirm": {"type": "plain_text", "text": option[:30]},
                                "deny": {"type": "plain_text", "text": "Cancel"}}
            buttons.append(b)
    buttons.append({"type": "button", "action_id": "soar_open", "url": link,
                    "text": {"type": "plain_text", "text": "Open in console"}})
    blocks.append({"type": "actions", "block_id": f"soar:{n.prompt_id}"[:255], "elements": buttons[:25]})
    return {"text": f"{headline(n)}: {n.message}"[:3000], "blocks": blocks}


def _mrkdwn(text: str) -> str:
    """Text with Slack's three control characters escaped (so a container name cannot ping @channel)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 request signature: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`."""
    mac = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return "v0=" + mac.hexdigest()


def verify_slack(secrets: list[str], timestamp: str | None, signature: str | None, body: bytes, now: float,
                 window: float = SIGNATURE_WINDOW_S) -> str | None:
    """Why a Slack request does not verify against any of `secrets` (None when it does)."""
    if not timestamp or not signature:
        return "missing X-Slack-Request-Timestamp or X-Slack-Signature"
    if not timestamp.isdigit() or abs(now - int(timestamp)) > window:
        return "timestamp outside the 5-minute window (replayed, or the clocks differ)"
    if not any(hmac.compare_digest(slack_signature(s, timestamp, body), signature) for s in secrets):
        return "signature does not match the signing secret"
    return None


# ---- Teams ---------------------------------------------------------------------------------------------
def teams_card(n: PromptNotice, link: str) -> dict[str, Any]:
    """An incoming-webhook message carrying one Adaptive Card."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": headline(n), "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": n.message, "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(n)]},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Answer in the console" if n.kind in ANSWERABLE
                     else "Open in the console", "url": link}],
    }
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


# ---- generic webhook -----------------------------------------------------------------------------------
def webhook_body(n: PromptNotice, link: str) -> bytes:
    """The JSON body (compact, keys sorted: the bytes that are signed are the bytes sent)."""
    doc = {"event": f"prompt.{n.kind}", "headline": headline(n), "link": link,
           "prompt": n.model_dump(mode="json")}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256 of `<timestamp>.<body>` (the `X-SOAR-Signature` header)."""
    return "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
                   window: float = SIGNATURE_WINDOW_S) -> bool:
    """What a receiver checks: a fresh timestamp and the signature over exactly the bytes received."""
    if not timestamp or not signature or not timestamp.isdigit() or abs(now - int(timestamp)) > window:
        return False
    return hmac.compare_digest(sign_webhook(secret, timestamp, body), signature)


# ---- e-mail --------------------------------------------------------------------------------------------
def email_message(n: PromptNotice, link: str, sender: str, to: list[str]) -> EmailMessage:
    """A plain-text e-mail with the link, the deadline and the options."""
    msg = EmailMessage()
    msg["Subject"] = f"[SOAR] {headline(n)}: {n.container_name or n.container_id}"[:200]
    msg["From"], msg["To"] = sender, ", ".join(to)
    msg["X-SOAR-Prompt"] = n.prompt_id
    lines = [headline(n), "", n.message, ""]
    lines += [f"{k}: {v}" for k, v in _facts(n)]
    lines += ["", f"{'Answer' if n.kind in ANSWERABLE else 'See it'} in the console: {link}", ""]
    msg.set_content("\n".join(lines))
    return msg
