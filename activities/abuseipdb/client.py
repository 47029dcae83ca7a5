"""The AbuseIPDB APIv2 HTTP client: the one place AbuseIPDB's answers become our errors.

Errors come as `{"errors": [{"detail": "...", "status": 422, "source": {"parameter": "ipAddress"}}]}`.
A 429 carries `Retry-After` (seconds) and `X-RateLimit-Reset` (epoch seconds); we prefer the former.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from activities._http import VendorClient, epoch_to_delay, parse_retry_after
from core.errors import InvalidParameter, VendorResponseError, snippet

if TYPE_CHECKING:
    from activities.abuseipdb.config import AbuseIPDBConfig


class AbuseIPDBClient(VendorClient):
    """httpx client for `https://api.abuseipdb.com/api/v2`, authenticated with the `Key` header."""

    vendor = "AbuseIPDB"

    def __init__(self, *, asset_name: str, config: AbuseIPDBConfig) -> None:
        # Without `Accept: application/json` AbuseIPDB may answer errors as an HTML page.
        super().__init__(
            asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
            verify=config.verify_ssl,
            headers={"Key": config.api_key.get_secret_value(), "Accept": "application/json",
                     "User-Agent": "soar-abuseipdb-connector/0.1"},
        )

    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """The `detail` texts of `{"errors": [...]}`, with the offending parameter when given."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(errors, list):
            return ""
        parts = []
        for e in errors[:3]:
            if not isinstance(e, dict):
                continue
            detail = str(e.get("detail") or "")
            source = e.get("source")
            param = source.get("parameter") if isinstance(source, dict) else None
            parts.append(f"{detail} (parameter {param})" if param else detail)
        return "; ".join(p for p in parts if p)

    def retry_after(self, resp: httpx.Response) -> timedelta | None:
        """`Retry-After` seconds, else the `X-RateLimit-Reset` epoch."""
        return (parse_retry_after(resp.headers.get("Retry-After"))
                or epoch_to_delay(resp.headers.get("X-RateLimit-Reset")))

    def auth_hint(self) -> str:
        """Where the key comes from."""
        return ("check configuration.api_key of the asset: an APIv2 key from your AbuseIPDB account "
                "(APIv1 keys do not work), sent as the Key header")

    def raise_for_status(self, resp: httpx.Response, *, not_found_ok: bool = False) -> None:
        """As `VendorClient.raise_for_status`, plus 422 (a rejected parameter) -> InvalidParameter."""
        if resp.status_code == 422:
            try:
                body = json.loads(resp.content)
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
            detail = self.error_detail(resp, body) or snippet(resp.content)
            raise InvalidParameter(f"AbuseIPDB rejected the request (HTTP 422): {snippet(detail, 200)}")
        super().raise_for_status(resp, not_found_ok=not_found_ok)

    async def check(self, ip: str, days: int) -> dict[str, Any]:
        """GET /check?ipAddress=&maxAgeInDays= -> the `data` object.

        Raises:
            AuthError, InvalidParameter, RateLimited, VendorUnavailable, VendorResponseError.
        """
        _, body = await self.request_json("GET", "/check", params={"ipAddress": ip, "maxAgeInDays": days})
        data = body.get("data") if isinstance(body, dict) else None
        score = data.get("abuseConfidenceScore") if isinstance(data, dict) else None
        if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= 100:
            raise VendorResponseError("AbuseIPDB answered /check without data.abuseConfidenceScore (0-100): "
                                      f"{snippet(json.dumps(body))!r}")
        return data  # type: ignore[return-value]

