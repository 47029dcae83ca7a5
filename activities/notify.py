"""The `soar.notify` activity: one prompt notice to one channel of notifications.json.

The workflow passes a channel *name*; this activity resolves its URL, key or password when it sends, so no
secret reaches workflow history, and its errors name the channel and the host, never the URL's path (a Slack
or Teams webhook URL is itself the credential). Transient failures (connection refused, timeouts, 5xx, 429,
SMTP 4xx) are retried by Temporal with backoff until the channel's `retry_for_s` has passed since the event;
a refusal (4xx, bad credentials, unknown channel) is final at once. Either way the container records the
failure; the playbook never waits for a notification.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import aiosmtplib
import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from core.config.notifications import EmailChannel, NotificationFile, SlackChannel, TeamsChannel, WebhookChannel
from core.errors import ConfigError
from core.models import NotifyInput, NotifyResult
from core.notice import (
    EVENT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    email_message,
    prompt_link,
    sign_webhook,
    slack_message,
    teams_card,
    webhook_body,
)
from core.settings import Settings

BODY_SNIPPET = 120
Secret = Callable[[str, str], "str | None"]  # Notifications.secret: (channel, field) -> the resolved value
NOTIFY_FAILED = "NotificationFailed"  # final: the container records it
CHANNEL_UNAVAILABLE = "ChannelUnavailable"  # retried


class _Refused(Exception):
    """The channel said no (a final answer)."""


class _Unavailable(Exception):
    """The channel could not be reached or was busy (worth another attempt)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _host(url: str) -> str:
    return urlsplit(url).netloc or "?"


class NotifyActivities:
    """Sends notices (a client per notice: they are rare, and nothing is left open between them)."""

    def __init__(self, settings: Settings, file: NotificationFile) -> None:
        self.settings, self.file = settings, file

    @activity.defn(name="soar.notify")
    async def notify(self, inp: NotifyInput) -> NotifyResult:
        """Send `inp.notice` to the channel `inp.channel`.

        Raises:
            ApplicationError: `ChannelUnavailable` (retried) or `NotificationFailed` (final).
        """
        try:
            conf = self.file.get()
            ch = conf.channels.get(inp.channel)
            if ch is None:
                raise ConfigError(conf.file, f"channel '{inp.channel}'", None, "no such channel any more",
                                  "define it again, or take it out of the routes")
            link = prompt_link(self.settings.public_url, inp.notice.prompt_id)
            if isinstance(ch, EmailChannel):
                detail = await self._email(ch, conf.secret(ch.name, "password"), inp, link)
            else:
                detail = await self._post(ch, conf.secret, inp, link)
        except ConfigError as e:
            raise ApplicationError(f"{inp.channel}: {e}", type=NOTIFY_FAILED, non_retryable=True) from None
        except _Refused as e:
            raise ApplicationError(f"{inp.channel}: {e}", type=NOTIFY_FAILED, non_retryable=True) from None
        except _Unavailable as e:
            raise self._retry_or_give_up(inp.channel, ch.retry_for_s if ch else 0.0, e) from None
        return NotifyResult(channel=inp.channel, kind=inp.notice.kind, detail=detail)

    @staticmethod
    def _retry_or_give_up(channel: str, retry_for_s: float, e: _Unavailable) -> ApplicationError:
        info = activity.info()
        elapsed = (datetime.now(UTC) - info.scheduled_time).total_seconds()
        if elapsed >= retry_for_s:
            return ApplicationError(f"{channel}: {e} (gave up after {info.attempt} attempts over {elapsed:.0f}s)",
                                    type=NOTIFY_FAILED, non_retryable=True)
        delay = timedelta(seconds=e.retry_after) if e.retry_after else None
        return ApplicationError(f"{channel}: {e}", type=CHANNEL_UNAVAILABLE, next_retry_delay=delay)

    async def _post(self, ch: SlackChannel | TeamsChannel | WebhookChannel, secret: Secret, inp: NotifyInput,
                    link: str) -> str:
        n = inp.notice
        headers = {"User-Agent": "soar-notify/1", EVENT_HEADER: f"prompt.{n.kind}"}
        if isinstance(ch, WebhookChannel):
            url, body = secret(ch.name, "url") or "", webhook_body(n, link)
            ts = str(int(time.time()))
            headers |= {"Content-Type": "application/json", TIMESTAMP_HEADER: ts,
                        SIGNATURE_HEADER: sign_webhook(secret(ch.name, "secret") or "", ts, body)}
            what = "webhook"
        else:
            url = secret(ch.name, "webhook_url") or ""
            doc = slack_message(n, link) if isinstance(ch, SlackChannel) else teams_card(n, link)
            body, what = httpx.Request("POST", url, json=doc).content, ch.type.capitalize() + " webhook"
            headers["Content-Type"] = "application/json"
        where = f"{what} at {_host(url)}"
        try:
            async with httpx.AsyncClient(follow_redirects=False) as http:  # a webhook answers itself
                r = await http.post(url, content=body, headers=headers, timeout=ch.timeout_s)
        except httpx.TimeoutException:
            raise _Unavailable(f"{where}: no answer within {ch.timeout_s:g}s") from None
        except httpx.HTTPError as e:
            raise _Unavailable(f"{where}: {type(e).__name__}: {_scrub(str(e), url)}") from None
        snippet = _scrub(" ".join(r.text[:BODY_SNIPPET].split()), url)
        if r.status_code == 429 or r.status_code >= 500:
            raise _Unavailable(f"{where}: HTTP {r.status_code} {snippet}".rstrip(), _retry_after(r))
        if r.status_code >= 300:
            raise _Refused(f"{where}: HTTP {r.status_code} {snippet}".rstrip())
        return f"HTTP {r.status_code}"

    async def _email(self, ch: EmailChannel, password: str | None, inp: NotifyInput, link: str) -> str:
        msg = email_message(inp.notice, link, ch.sender, ch.to)
        tls = ssl.create_default_context(cafile=str(ch.ca_file) if ch.ca_file else None)
        if not ch.verify_tls:
            tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        where = f"SMTP server {ch.host}:{ch.port}"
        try:
            errors, reply = await aiosmtplib.send(
                msg, hostname=ch.host, port=ch.port, username=ch.username, password=password,
                start_tls=True if ch.starttls else False, use_tls=ch.tls, tls_context=tls, timeout=ch.timeout_s)
        except aiosmtplib.SMTPAuthenticationError as e:
            raise _Refused(f"{where}: login refused ({e.code})") from None
        except aiosmtplib.SMTPRecipientsRefused as e:
            raise _Refused(f"{where}: every recipient refused ({len(e.recipients)})") from None
        except aiosmtplib.SMTPResponseException as e:
            text = f"{where}: {e.code} {' '.join(e.message.split())[:BODY_SNIPPET]}"
            raise (_Unavailable(text) if 400 <= e.code < 500 else _Refused(text)) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
            raise _Unavailable(f"{where}: {type(e).__name__}: {' '.join(str(e).split())[:BODY_SNIPPET]}") from None
        refused = f", {len(errors)} recipient(s) refused" if errors else ""
        return f"SMTP {reply[:60]}{refused}"

    def all(self) -> list[Callable[..., object]]:
        """The activities."""
        return [self.notify]


def _retry_after(r: httpx.Response) -> float | None:
    value = r.headers.get("retry-after", "")
    return min(float(value), 300.0) if value.replace(".", "", 1).isdigit() else None


def _scrub(text: str, url: str) -> str:
    """`text` without the URL or its path (the secret part of a webhook URL)."""
    parts = urlsplit(url)
    for secret in (url, parts.path, parts.query):
        if secret and len(secret) > 1:
            text = text.replace(secret, "/***")
    return text
