"""The CrowdStrike Falcon API client: OAuth2 token handling and the one place Falcon answers become
our errors.

Falcon answers every call with the envelope `{"meta", "resources", "errors": [{"code", "message"}]}`.
A 429 carries `X-Ratelimit-Retryafter`, an epoch timestamp (not a delay).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import httpx

from activities._http import VendorClient, epoch_to_delay
from activities.crowdstrike.config import CrowdStrikeConfig
from core.errors import NotFound, VendorResponseError, snippet

TOKEN_PATH = "/oauth2/token"
REFRESH_MARGIN_S = 60.0
MAX_IDS = 100


def fql_quote(value: str) -> str:
    """A value as an FQL string literal (`'...'` with quotes and backslashes escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class CrowdStrikeClient(VendorClient):
    """Falcon API client for one asset. Caches its bearer token and refreshes it before it expires."""

    vendor = "CrowdStrike"

    def __init__(self, *, asset_name: str, config: CrowdStrikeConfig) -> None:
        super().__init__(asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
                         verify=config.verify_ssl,
                         headers={"Accept": "application/json", "User-Agent": "soar-crowdstrike/0.1"})
        self._client_id = config.client_id
        self._client_secret = config.client_secret
        self._member_cid = config.member_cid
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.tokens_fetched = 0

    # --- hooks -----------------------------------------------------------------------------------
    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """The messages of the envelope's `errors` list."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list):
            return ""
        return "; ".join(str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors)

    def retry_after(self, resp: httpx.Response) -> timedelta | None:
        """`X-Ratelimit-Retryafter` is the epoch second when calls are allowed again."""
        return epoch_to_delay(resp.headers.get("X-Ratelimit-Retryafter")) or super().retry_after(resp)

    def auth_hint(self) -> str:
        """What to check on a 401/403."""
        return ("check client_id/client_secret (and member_cid) of the asset, the cloud in base_url, "
                "and that the API client has the Hosts: Read and Hosts: Write scopes")

    # --- token -----------------------------------------------------------------------------------
    async def _fetch_token(self) -> None:
        form = {"client_id": self._client_id, "client_secret": self._client_secret.get_secret_value()}
        if self._member_cid:
            form["member_cid"] = self._member_cid
        _, body = await self.request_json("POST", TOKEN_PATH, expect=(201, 200), data=form)
        token = body.get("access_token") if isinstance(body, dict) else None
        expires_in = body.get("expires_in", 1799) if isinstance(body, dict) else None
        if not isinstance(token, str) or not token or not isinstance(expires_in, int | float):
            keys = sorted(body) if isinstance(body, dict) else type(body).__name__
            raise VendorResponseError(f"CrowdStrike token answer lacks access_token/expires_in ({keys})")
        self._token = token
        self._expires_at = time.monotonic() + float(expires_in) - min(REFRESH_MARGIN_S, float(expires_in) / 2)
        self.tokens_fetched += 1

    async def token(self, stale: str | None = None) -> str:
        """A valid bearer token: the cached one, or a new one when it is about to expire or is `stale`.

        Raises:
            AuthError: the client credentials were rejected.
        """
        async with self._lock:
            if self._token is None or self._token == stale or time.monotonic() >= self._expires_at:
                await self._fetch_token()
            assert self._token is not None
            return self._token

    # --- API calls -------------------------------------------------------------------------------
    async def api(self, method: str, path: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> dict:
        """One authenticated call; on a 401 the token is refreshed once and the call repeated.

        Returns:
            The envelope as a dict.

        Raises:
            AuthError, NotFound, RateLimited, VendorUnavailable, VendorResponseError.
        """
        token = await self.token()
        resp = await self.send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        if resp.status_code == 401:
            token = await self.token(stale=token)
            resp = await self.send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
        self.raise_for_status(resp)
        if resp.status_code not in expect:
            raise VendorResponseError(f"CrowdStrike answered HTTP {resp.status_code}, expected "
                                      f"{'/'.join(map(str, expect))}: {snippet(resp.content)!r}")
        body = self.parse_json(resp)
        if not isinstance(body, dict) or not isinstance(body.get("resources") or [], list):
            raise VendorResponseError(f"CrowdStrike answered an unexpected envelope: "
                                      f"{snippet(resp.content)!r}")
        if body.get("errors") and not body.get("resources"):
            detail = snippet(self.error_detail(resp, body), 200)
            raise VendorResponseError(f"CrowdStrike reported an error: {detail}")
        return body

    async def find_device_ids(self, hostname: str) -> list[str]:
        """Device ids (aids) whose hostname is `hostname`; empty when there is none."""
        body = await self.api("GET", "/devices/queries/devices/v1",
                              params={"filter": f"hostname:{fql_quote(hostname)}", "limit": MAX_IDS})
        ids = body.get("resources") or []
        if not all(isinstance(i, str) for i in ids):
            raise VendorResponseError(f"CrowdStrike device query returned non-string ids: {str(ids)[:120]!r}")
        return ids

    async def get_devices(self, ids: list[str]) -> list[dict[str, Any]]:
        """Device details for up to 100 ids."""
        body = await self.api("GET", "/devices/entities/devices/v2",
                              params=[("ids", i) for i in ids[:MAX_IDS]])
        devices = [d for d in body.get("resources") or [] if isinstance(d, dict) and d.get("device_id")]
        if not devices:
            raise VendorResponseError("CrowdStrike returned no device details for ids it had just listed")
        return devices

    async def get_device(self, device_id: str) -> dict[str, Any] | None:
        """The device with this id (aid), or None when Falcon has none."""
        try:
            body = await self.api("GET", "/devices/entities/devices/v2", params=[("ids", device_id)])
        except NotFound:
            return None
        devices = [d for d in body.get("resources") or [] if isinstance(d, dict) and d.get("device_id")]
        return devices[0] if devices else None

    async def device_action(self, action_name: str, ids: list[str]) -> list[dict[str, Any]]:
        """Run a host action (`contain`, `lift_containment`) and return the affected resources."""
        body = await self.api("POST", "/devices/entities/devices-actions/v2", expect=(202, 200),
                              params={"action_name": action_name}, json={"ids": ids[:MAX_IDS]})
        return [r for r in body.get("resources") or [] if isinstance(r, dict)]
