"""Rendering console pages: one Jinja2 environment (autoescaped, templates compiled once), the helpers the
templates use (times in the analyst's zone with UTC on hover, countdowns, durations), and the response
headers every page carries (a strict Content-Security-Policy: only our own script and style, no inline code).
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from api.console.session import FLASH_COOKIE, Session, clear_cookie, take_flash
from api.report import fmt_duration

HERE = Path(__file__).parent
STATIC = HERE / "static"
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}


def _utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def when(dt: datetime | str | None, tz: zoneinfo.ZoneInfo, now: datetime | None = None) -> Markup:
    """`<time>` in the analyst's zone (the date only when not today), UTC in the tooltip."""
    if dt is None or dt == "":
        return Markup("&ndash;")
    if isinstance(dt, str):
        dt = datetime.fromisoformat(dt)
    dt = _utc(dt)
    local = dt.astimezone(tz)
    today = (now or datetime.now(UTC)).astimezone(tz).date()
    shown = local.strftime("%H:%M:%S %Z") if local.date() == today else local.strftime("%Y-%m-%d %H:%M %Z")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        dt.strftime("%Y-%m-%dT%H:%M:%SZ"), dt.strftime("%Y-%m-%d %H:%M:%S UTC"), shown)


def countdown(deadline: datetime | str, now: datetime | None = None) -> Markup:
    """`12m 3s left`, kept current by console.js (`data-deadline`); `overdue` once passed."""
    if isinstance(deadline, str):
        deadline = datetime.fromisoformat(deadline)
    left = (_utc(deadline) - (now or datetime.now(UTC))).total_seconds()
    text = f"{fmt_duration(left)} left" if left > 0 else "overdue"
    return Markup('<span class="countdown{}" data-deadline="{}">{}</span>').format(
        " urgent" if left < 120 else "", _utc(deadline).strftime("%Y-%m-%dT%H:%M:%SZ"), text)


def _duration(seconds: float | None) -> str:
    return "–" if seconds is None else fmt_duration(seconds)


def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters["duration"] = _duration
    env.globals["escape"] = escape
    return env


ENV = _env()


def page(request: Request, template: str, session: Session | None, status: int = 200,
         **ctx: Any) -> HTMLResponse:
    """Render a page (with the flash message the previous step left, then cleared)."""
    tz = session.tz if session else zoneinfo.ZoneInfo("UTC")
    now = datetime.now(UTC)
    message = take_flash(request) if session else None
    html = ENV.get_template(template).render(
        request=request, session=session, user=session.user if session else None, now=now, tz=tz,
        when=lambda dt: when(dt, tz, now), countdown=lambda d: countdown(d, now), flash=message,
        path=request.url.path, **ctx)
    resp = HTMLResponse(html, status_code=status, headers=HEADERS)
    if message is not None:
        clear_cookie(resp, FLASH_COOKIE)
    return resp


def fragment(template: str, session: Session, **ctx: Any) -> HTMLResponse:
    """A piece of a page (what console.js swaps in while a report updates)."""
    now = datetime.now(UTC)
    html = ENV.get_template(template).render(session=session, user=session.user, now=now, tz=session.tz,
                                             when=lambda dt: when(dt, session.tz, now),
                                             countdown=lambda d: countdown(d, now), **ctx)
    return HTMLResponse(html, headers=HEADERS)
