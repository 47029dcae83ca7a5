"""Console sessions: the user's API token is exchanged once, on the sign-in form, for a signed session cookie.

The cookie (`soar_session`: HttpOnly, SameSite=Strict, Path=/console, Secure behind https) carries the user's
name, a fingerprint of their token, issue and expiry times, the browser's time zone and a random session id,
signed with HMAC-SHA256 under a key only the API holds (`SOAR_CONSOLE_SESSION_KEY`, or derived from the
approval signing key, so every API replica agrees without another secret to distribute). On every request
the signature, the expiry and the user are checked again: a forged, tampered or expired cookie is refused,
and so is one whose user was removed or whose token changed in users.json (rotating a token signs its
sessions out). Form posts carry a CSRF token derived from the session id (and SameSite=Strict keeps other
sites' forms from carrying the cookie at all); the sign-in form is protected by a double-submit nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import zoneinfo
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response

from api.answers import signer
from api.auth import ANALYST_ROLES, directory
from core.config.users import User

COOKIE = "soar_session"
SIGNIN_COOKIE = "soar_signin"
FLASH_COOKIE = "soar_flash"
PATH = "/console"
CLOCK_SKEW_S = 60
VERSION = "v1"


class SignInRequired(Exception):  # noqa: N818 - control flow: answered by a redirect to the sign-in page
    """No valid session: `why` is `none`, `invalid` (forged or tampered), `expired` or `revoked`."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Session:
    """A verified session."""

    user: User
    sid: str
    issued: int
    expires: int
    tz: zoneinfo.ZoneInfo
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def session_key(request: Request) -> bytes:
    """The key sessions are signed with (cached per app).

    Raises:
        HTTPException: 503 when neither a session key nor the approval signing key is configured.
    """
    key: bytes | None = getattr(request.app.state, "console_key", None)
    if key is None:
        s = request.app.state.settings
        if s.console_session_key is not None:
            secret = s.console_session_key.get_secret_value().encode()
            key = hashlib.sha256(b"soar console session v1:" + secret).digest()
        else:
            key = signer(s).derive(b"soar console session v1")
        request.app.state.console_key = key
    return key


def _mac(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, f"{VERSION}.{body}".encode(), hashlib.sha256).digest())


def seal(key: bytes, data: dict[str, Any]) -> str:
    """`v1.<payload>.<mac>`."""
    body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
    return f"{VERSION}.{body}.{_mac(key, body)}"


def unseal(key: bytes, value: str) -> dict[str, Any] | None:
    """The payload of a value `seal` made with `key`, or None for anything else."""
    parts = value.split(".")
    if len(parts) != 3 or parts[0] != VERSION or len(value) > 4096:
        return None
    if not hmac.compare_digest(_mac(key, parts[1]), parts[2]):
        return None
    try:
        data = json.loads(_unb64(parts[1]))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def fingerprint(user: User) -> str:
    """What ties a session to the user's current token (a prefix of its digest, itself not a secret)."""
    return user.token_sha256.lower()[:16]


def zone(name: str | None) -> zoneinfo.ZoneInfo:
    """An IANA zone, or UTC for anything unknown."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def may_use_console(user: User) -> bool:
    """Analysts (any analyst role) and admins; automation accounts and users without roles may not."""
    return user.has_role(*ANALYST_ROLES)


def new_session(request: Request, user: User, tz: str) -> str:
    """A sealed session for `user` (lifetime `SOAR_CONSOLE_SESSION_S`)."""
    now = int(time.time())
    life = int(request.app.state.settings.console_session_s)
    return seal(session_key(request), {"u": user.name, "f": fingerprint(user), "iat": now, "exp": now + life,
                                       "tz": str(zone(tz)), "sid": secrets.token_hex(16)})


def read_session(request: Request) -> Session:
    """The request's verified session.

    Raises:
        SignInRequired: no cookie, a cookie that does not verify, an expired one, or one of a removed user or
            an old token.
    """
    raw = request.cookies.get(COOKIE)
    if not raw:
        raise SignInRequired("none")
    key = session_key(request)
    data = unseal(key, raw)
    if data is None:
        raise SignInRequired("invalid")
    now = time.time()
    try:
        name, fp, issued, expires, sid = str(data["u"]), str(data["f"]), int(data["iat"]), int(data["exp"]), \
            str(data["sid"])
    except (KeyError, TypeError, ValueError):
        raise SignInRequired("invalid") from None
    if expires <= now or issued > now + CLOCK_SKEW_S:
        raise SignInRequired("expired")
    user = directory(request).get(name)
    if user is None or not hmac.compare_digest(fingerprint(user), fp) or not may_use_console(user):
        raise SignInRequired("revoked")
    request.state.user = user
    csrf = _b64(hmac.new(key, f"csrf:{sid}".encode(), hashlib.sha256).digest())[:32]
    return Session(user=user, sid=sid, issued=issued, expires=expires, tz=zone(user.timezone or data.get("tz")),
                   csrf=csrf)


def check_csrf(session: Session, token: str) -> None:
    """A form post's CSRF token must be this session's.

    Raises:
        HTTPException: 403, saying to reload the page.
    """
    if not token or not hmac.compare_digest(token, session.csrf):
        raise HTTPException(403, "This form has expired or did not come from the console. Reload the page and "
                                 "try again.")


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None = None) -> None:
    """Set one of the console's cookies (HttpOnly, SameSite=Strict, Secure behind https)."""
    secure = request.url.scheme == "https" or request.app.state.settings.public_url.startswith("https://")
    response.set_cookie(name, value, max_age=max_age, path=PATH, secure=secure, httponly=True, samesite="strict")


def clear_cookie(response: Response, name: str) -> None:
    """Drop a console cookie."""
    response.delete_cookie(name, path=PATH, httponly=True, samesite="strict")


def flash(request: Request, response: Response, message: str, kind: str = "ok") -> None:
    """A message for the next page the browser shows (signed, one minute)."""
    set_cookie(request, response, FLASH_COOKIE, seal(session_key(request), {"m": message[:500], "k": kind}), 60)


def take_flash(request: Request) -> tuple[str, str] | None:
    """The pending flash message and its kind (`ok` or `error`), if any (the caller clears the cookie)."""
    raw = request.cookies.get(FLASH_COOKIE)
    data = unseal(session_key(request), raw) if raw else None
    if not data or not isinstance(data.get("m"), str):
        return None
    return data["m"], "error" if data.get("k") == "error" else "ok"


async def console_session(request: Request) -> Session:
    """FastAPI dependency: the signed-in analyst's session."""
    return read_session(request)


ConsoleSession = Annotated[Session, Depends(console_session)]
