"""Signing in and out of the console, the redirect to the sign-in page, and the console's own static files."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from api.auth import directory
from api.console.render import HEADERS, STATIC, page
from api.console.session import (
    COOKIE,
    SIGNIN_COOKIE,
    ConsoleSession,
    SignInRequired,
    check_csrf,
    clear_cookie,
    may_use_console,
    new_session,
    set_cookie,
)

router = APIRouter()
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}
WHY = {"invalid": "Your session was not valid (it was changed or forged). Sign in again.",
       "expired": "Your session expired. Sign in again.",
       "revoked": "Your account or token changed since you signed in. Sign in again.",
       "signed_out": "You are signed out."}
FAILED_SIGN_IN_DELAY_S = 0.5


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if not target:
        return "/console/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return "/console/"
    return target


def sign_in_required(request: Request, exc: SignInRequired) -> Response:
    """No valid session: pages go to the sign-in form (coming back afterwards), posts are refused."""
    if request.method not in ("GET", "HEAD"):
        resp: Response = HTMLResponse(f"<p>{WHY.get(exc.why, 'Sign in first.')} "
                                      "<a href=\"/console/sign-in\">Sign in</a></p>", status_code=401,
                                      headers=HEADERS)
    elif exc.why == "none" and request.headers.get("sec-fetch-site") == "cross-site" \
            and "bounced" not in request.query_params:
        # A link from Slack or an e-mail: the browser withholds a SameSite=Strict cookie on a cross-site
        # navigation, so ask again from our own page (a same-site navigation, which carries it).
        again = f"{request.url.path}?{request.url.query + '&' if request.url.query else ''}bounced=1"
        resp = HTMLResponse(f'<meta http-equiv="refresh" content="0;url={quote(again, safe="/?=&")}">',
                            headers=HEADERS)
    else:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        resp = RedirectResponse(f"/console/sign-in?next={quote(safe_next(target), safe='')}&why={exc.why}", 303)
    if exc.why != "none":
        clear_cookie(resp, COOKIE)
    return resp


@router.get("/sign-in")
async def sign_in_form(request: Request, next: str | None = None, why: str | None = None) -> Response:
    nonce = secrets.token_urlsafe(24)
    resp = page(request, "sign_in.html", None, nonce=nonce, next=safe_next(next), notice=WHY.get(why or ""))
    set_cookie(request, resp, SIGNIN_COOKIE, nonce, 900)
    return resp


@router.post("/sign-in")
async def sign_in(request: Request, token: str = Form(""), csrf: str = Form(""), tz: str = Form(""),
                  next: str = Form("/console/")) -> Response:
    nonce = request.cookies.get(SIGNIN_COOKIE, "")
    if not nonce or not hmac.compare_digest(nonce, csrf):
        raise HTTPException(403, "The sign-in form expired or did not come from this console. Reload it and sign "
                                 "in again.")
    user = directory(request).authenticate(token.strip()) if 0 < len(token.strip()) <= 512 else None
    error = None
    if user is None:
        await asyncio.sleep(FAILED_SIGN_IN_DELAY_S)  # slows guessing down
        error = "That token is not valid. Paste the API token you were given (it is not your password)."
    elif not may_use_console(user):
        error = f"{user.name} holds no analyst role ({', '.join(user.roles) or 'no roles'}), so cannot use the console."
    if error is not None:
        fresh = secrets.token_urlsafe(24)
        resp = page(request, "sign_in.html", None, status=401, nonce=fresh, next=safe_next(next), error=error)
        set_cookie(request, resp, SIGNIN_COOKIE, fresh, 900)
        return resp
    assert user is not None
    done = RedirectResponse(safe_next(next), 303)
    set_cookie(request, done, COOKIE, new_session(request, user, tz[:64]),
               int(request.app.state.settings.console_session_s))
    clear_cookie(done, SIGNIN_COOKIE)
    return done


@router.post("/sign-out")
async def sign_out(request: Request, session: ConsoleSession, csrf: str = Form("")) -> Response:
    check_csrf(session, csrf)
    resp = RedirectResponse("/console/sign-in?why=signed_out", 303)
    clear_cookie(resp, COOKIE)
    return resp


@router.get("/static/{name}")
async def static(name: str) -> Response:
    if name not in STATIC_FILES:
        raise HTTPException(404, "no such file")
    return FileResponse(STATIC / name, media_type=STATIC_FILES[name],
                        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})
