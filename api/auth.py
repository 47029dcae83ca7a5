"""Authentication and roles: `Authorization: Bearer <token>` or Splunk SOAR's `ph-auth-token: <token>`.
Tokens are stored as SHA-256 in users.json and compared in constant time."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from core.config.users import User, UserDirectory, load_users

AUTH_HEADERS = {"WWW-Authenticate": "Bearer"}


def directory(request: Request) -> UserDirectory:
    """The users loaded at startup."""
    d: UserDirectory | None = getattr(request.app.state, "users", None)
    if d is None:
        s = request.app.state.settings
        d = load_users(s.users_file, dev_mode=s.dev_mode)
        request.app.state.users = d
    return d


def token_from(request: Request, allow_query: bool = False) -> str | None:
    """The caller's token from the headers (or the `token` query parameter where allowed)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    tok = request.headers.get("ph-auth-token")
    if tok:
        return tok.strip()
    if allow_query:
        return request.query_params.get("token") or None
    return None


def _authenticate(request: Request, allow_query: bool) -> User:
    token = token_from(request, allow_query)
    if not token or len(token) > 512:
        raise HTTPException(401, "missing or invalid token: send 'Authorization: Bearer <token>' or "
                                 "'ph-auth-token: <token>'", headers=AUTH_HEADERS)
    user = directory(request).authenticate(token)
    if user is None:
        raise HTTPException(401, "invalid token", headers=AUTH_HEADERS)
    request.state.user = user
    return user


async def current_user(request: Request) -> User:
    """The authenticated caller."""
    return _authenticate(request, allow_query=False)


async def current_user_query_ok(request: Request) -> User:
    """The caller, also accepting `?token=` (Splunk webhooks cannot send headers)."""
    return _authenticate(request, allow_query=True)


CurrentUser = Annotated[User, Depends(current_user)]

ANALYST_ROLES = ("analyst", "soc_tier1", "soc_tier2", "soc_tier3", "soc_manager")
INGEST_ROLES = ("automation", "ingest")


def require_roles(*roles: str, allow_query: bool = False) -> Callable[[Request], Coroutine[Any, Any, User]]:
    """A dependency: the caller must hold one of `roles` (or `admin`); 403 otherwise."""

    async def dep(request: Request) -> User:
        user = _authenticate(request, allow_query)
        if not user.has_role(*roles):
            raise HTTPException(403, f"user '{user.name}' lacks a required role (one of: {', '.join(roles)})")
        return user

    return dep


Reader = Annotated[User, Depends(require_roles(*ANALYST_ROLES, "automation"))]
Analyst = Annotated[User, Depends(require_roles(*ANALYST_ROLES))]
Ingester = Annotated[User, Depends(require_roles(*INGEST_ROLES))]
WebhookIngester = Annotated[User, Depends(require_roles(*INGEST_ROLES, allow_query=True))]
