"""Notifications: `notifications.json` (`SOAR_NOTIFICATIONS_FILE`), the channels analysts hear prompts on and
the routes that pick them, per role asked or per playbook:

    {"channels": [
       {"name": "soc-slack", "type": "slack", "webhook_url": "${SLACK_WEBHOOK_URL}",
        "signing_secret": "${SLACK_SIGNING_SECRET}"},
       {"name": "soc-teams", "type": "teams", "webhook_url": "${TEAMS_WEBHOOK_URL}"},
       {"name": "soc-hook", "type": "webhook", "url": "https://soc.example.com/hooks/soar",
        "secret": "file:/run/secrets/soar-webhook"},
       {"name": "soc-mail", "type": "email", "host": "smtp.example.com", "port": 587, "username": "soar",
        "password": "${SMTP_PASSWORD}", "from": "soar@example.com", "to": ["soc-tier2@example.com"]}],
     "routes": [
       {"role": "soc_tier2", "channels": ["soc-slack", "soc-mail"]},
       {"playbook": "containment_decision", "events": ["opened", "timed_out"], "channels": ["soc-hook"]}]}

Secret values (webhook URLs, which are credentials, the webhook's HMAC key, the SMTP password, Slack's signing
secret) are `${ENV}` or `file:/path` references like assets' (a literal is accepted with a warning). Only
channel *names* reach workflows; the `soar.notify` activity resolves the secrets when it sends, and the API
resolves only Slack's signing secret. A missing file means no notifications.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config.loading import MAX_CONFIG_BYTES, explain, resolve_reference
from core.errors import ConfigError
from core.models.notifications import NOTIFIED_EVENTS, NotifyRule

log = logging.getLogger(__name__)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
URL_RE = re.compile(r"^https?://[^\s/]+(/\S*)?$")
EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    retry_for_s: float = Field(default=900.0, ge=1, le=86_400, description="Keep retrying a failing channel "
                                                                            "this long after the event")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="One attempt")

    secret_fields: ClassVar[tuple[str, ...]] = ()  # the fields that hold (references to) secrets


class SlackChannel(_Channel):
    """A Slack incoming webhook (Block Kit message with answer buttons)."""

    type: Literal["slack"]
    webhook_url: str
    signing_secret: str | None = Field(default=None, description="Verifies Slack's button callbacks")
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_url", "signing_secret")


class TeamsChannel(_Channel):
    """A Microsoft Teams incoming webhook (Adaptive Card)."""

    type: Literal["teams"]
    webhook_url: str
    secret_fields: ClassVar[tuple[str, ...]] = ("webhook_url",)


class WebhookChannel(_Channel):
    """A generic JSON webhook, its body signed with HMAC-SHA256 over `<timestamp>.<body>`."""

    type: Literal["webhook"]
    url: str
    secret: str
    secret_fields: ClassVar[tuple[str, ...]] = ("url", "secret")


class EmailChannel(_Channel):
    """E-mail over SMTP: STARTTLS on the submission port by default (`tls: true` for implicit TLS on 465)."""

    type: Literal["email"]
    host: str = Field(min_length=1, max_length=255)
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    tls: bool = False
    verify_tls: bool = True
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    to: list[str] = Field(min_length=1, max_length=50)
    secret_fields: ClassVar[tuple[str, ...]] = ("password",)


Channel = SlackChannel | TeamsChannel | WebhookChannel | EmailChannel
CHANNEL_MODELS: dict[str, type[Channel]] = {"slack": SlackChannel, "teams": TeamsChannel, "webhook": WebhookChannel,
                                            "email": EmailChannel}
CHANNEL_TYPES = tuple(CHANNEL_MODELS)


class Notifications:
    """The loaded file: channels by name and the routing rules."""

    def __init__(self, file: str, channels: dict[str, Channel], routes: list[NotifyRule]) -> None:
        self.file, self.channels, self.routes = file, channels, routes

    def secret(self, channel: str, field: str) -> str | None:
        """A channel's secret field, resolved now (`${ENV}`, `file:`, or the literal).

        Raises:
            ConfigError: the channel is gone, or the reference cannot be resolved.
        """
        ch = self.channels.get(channel)
        if ch is None:
            raise ConfigError(self.file, f"channel '{channel}'", None, "no such channel",
                              "define it under \"channels\", or remove it from the routes")
        raw = getattr(ch, field)
        if raw is None:
            return None
        value, _ = resolve_reference(str(raw), file=self.file, entry=f"channel '{channel}'", field=field)
        return value

    def check_secrets(self) -> None:
        """Resolve every secret once (the worker calls it at start, so a missing variable stops it there).

        Raises:
            ConfigError: naming the channel and field.
        """
        for name, ch in self.channels.items():
            for field in ch.secret_fields:
                value = self.secret(name, field)
                if field in ("webhook_url", "url") and value is not None and not URL_RE.match(value):
                    raise ConfigError(self.file, f"channel '{name}'", field, "not an http(s) URL",
                                      "give the full URL, e.g. https://hooks.slack.com/services/...")


def _read_object(path: Path) -> dict[str, Any]:
    name = str(path)
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ConfigError(name, None, None, f"file is larger than {MAX_CONFIG_BYTES} bytes", "trim it")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(name, None, None, "file is not UTF-8 text", "save it as UTF-8 JSON") from None
    except json.JSONDecodeError as e:
        raise ConfigError(name, None, None, f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}",
                          "fix the JSON syntax (`python -m json.tool` shows where)") from None
    if not isinstance(data, dict):
        raise ConfigError(name, None, None, f"top level is a JSON {type(data).__name__}, not an object",
                          'write {"channels": [...], "routes": [...]}')
    extra = sorted(set(data) - {"channels", "routes"})
    if extra:
        raise ConfigError(name, None, extra[0], "unknown key", 'the file has "channels" and "routes" only')
    return data


def _channel(raw: Any, file: str, i: int) -> Channel:
    entry = f"channel #{i}"
    if not isinstance(raw, dict):
        raise ConfigError(file, entry, None, f"expected a JSON object, got {type(raw).__name__}",
                          'write each channel as {"name": ..., "type": ..., ...}')
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(file, entry, "name", f"missing or invalid name {str(name)[:40]!r}" if name else
                          "missing name", "use lower-case letters, digits, '_', '-' or '.' (max 64)")
    entry = f"channel '{name}'"
    if raw.get("type") not in CHANNEL_TYPES:
        raise ConfigError(file, entry, "type", f"unknown type {raw.get('type')!r}",
                          f"use one of: {', '.join(CHANNEL_TYPES)}")
    try:
        ch = CHANNEL_MODELS[raw["type"]].model_validate(raw)
    except ValidationError as e:
        raise explain(e, file=file, entry=entry) from None
    for field in ch.secret_fields:
        value = getattr(ch, field)
        literal = isinstance(value, str) and not (value.startswith("${") or value.startswith("file:"))
        if literal and field != "url":  # a generic webhook's URL may be a plain address (its key signs)
            log.warning("%s: %s: %s is a literal secret; prefer \"${ENV_VAR}\" or \"file:/path\"", file, entry,
                        field)
    if isinstance(ch, EmailChannel):
        _check_email(ch, file, entry)
    return ch


def _check_email(ch: EmailChannel, file: str, entry: str) -> None:
    for field, value in [("from", ch.sender), *(("to", t) for t in ch.to)]:
        if not EMAIL_RE.match(value):
            raise ConfigError(file, entry, field, f"{value[:60]!r} is not an e-mail address", "write name@domain")
    if (ch.username is None) != (ch.password is None):
        raise ConfigError(file, entry, "password" if ch.username else "username",
                          "username and password go together", "give both, or neither for an open relay")
    if ch.tls and ch.starttls:
        raise ConfigError(file, entry, "starttls", "tls (implicit TLS) and starttls are exclusive",
                          "set starttls to false with tls: true (port 465), or drop tls (port 587)")
    if not ch.verify_tls:
        log.warning("%s: %s: TLS certificate verification is OFF: the SMTP password can be intercepted. Give "
                    "the server's CA as ca_file instead", file, entry)


def _route(raw: Any, file: str, i: int, channels: dict[str, Channel], playbooks: set[str] | None) -> NotifyRule:
    entry = f"route #{i}"
    if not isinstance(raw, dict):
        raise ConfigError(file, entry, None, f"expected a JSON object, got {type(raw).__name__}",
                          'write each route as {"role": ..., "channels": [...]}')
    extra = sorted(set(raw) - {"role", "playbook", "events", "channels"})
    if extra:
        raise ConfigError(file, entry, extra[0], "unknown key", "a route has role, playbook, events and channels")
    try:
        rule = NotifyRule.model_validate(raw)
    except ValidationError as e:
        raise explain(e, file=file, entry=entry) from None
    if rule.role is None and rule.playbook is None:
        raise ConfigError(file, entry, "role", "a route needs a role, a playbook or both",
                          'add "role": "soc_tier2" (the role a prompt asks) or "playbook": "<name>"')
    if playbooks is not None and rule.playbook is not None and rule.playbook not in playbooks:
        raise ConfigError(file, entry, "playbook", f"unknown playbook {rule.playbook!r}",
                          f"use one of: {', '.join(sorted(playbooks))}")
    bad = [e for e in rule.events if e not in NOTIFIED_EVENTS]
    if bad:
        raise ConfigError(file, entry, "events", f"unknown event {bad[0]!r}",
                          f"use any of: {', '.join(NOTIFIED_EVENTS)}")
    missing = [c for c in rule.channels if c not in channels]
    if missing:
        raise ConfigError(file, entry, "channels", f"no channel named {missing[0]!r}",
                          "define it under \"channels\", or fix the name")
    return rule


def load_notifications(path: Path, playbooks: Iterable[str] | None = None) -> Notifications:
    """Load and validate a notifications file (secrets stay references until `secret()` resolves them).

    Raises:
        ConfigError: naming file, channel or route, field and fix.
    """
    file = str(path)
    data = _read_object(path)
    raw_channels, raw_routes = data.get("channels", []), data.get("routes", [])
    for key, value in (("channels", raw_channels), ("routes", raw_routes)):
        if not isinstance(value, list):
            raise ConfigError(file, None, key, f"{key} must be a JSON list", f'write "{key}": [ ... ]')
    channels: dict[str, Channel] = {}
    for i, raw in enumerate(raw_channels):
        ch = _channel(raw, file, i)
        if ch.name in channels:
            raise ConfigError(file, f"channel '{ch.name}'", "name", "duplicate channel name",
                              "give every channel a unique name")
        channels[ch.name] = ch
    known = set(playbooks) if playbooks is not None else None
    routes = [_route(raw, file, i, channels, known) for i, raw in enumerate(raw_routes)]
    return Notifications(file, channels, routes)


class NotificationFile:
    """A notifications file re-read when it changes on disk (like `TriggerFile`); absent means none."""

    def __init__(self, path: Path, playbooks: Iterable[str] | None = None) -> None:
        self.path = path
        self._playbooks = list(playbooks) if playbooks is not None else None
        self._stamp: tuple[int, int] | None = None
        self._loaded = Notifications(str(path), {}, [])

    def get(self) -> Notifications:
        """The current configuration (empty when the file does not exist).

        Raises:
            ConfigError: the file is invalid (a broken file fails loudly, never silently goes quiet).
        """
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._loaded = None, Notifications(str(self.path), {}, [])
            return self._loaded
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = None
            self._loaded = load_notifications(self.path, self._playbooks)
            self._stamp = stamp
        return self._loaded
