"""The VirusTotal v3 HTTP client: the one place VirusTotal's answers become our errors.

VirusTotal's error envelope is `{"error": {"code": "NotFoundError", "message": "..."}}`. A 404
`NotFoundError` (and a 400 `NotAvailableYet`) means "VirusTotal has no data on this indicator",
which the actions report as a successful lookup with `found: false`, not as a failure.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx

from activities._http import VendorClient, parse_retry_after
from core.errors import VendorResponseError, snippet

if TYPE_CHECKING:
    from activities.virustotal.config import VirusTotalConfig

# VirusTotal documents no retry header on 429 QuotaExceededError; its smallest quota window is a minute.
DEFAULT_QUOTA_DELAY = timedelta(seconds=60)
# Error codes the Splunk SOAR app (and we) treat as "no data" rather than a failure.
NO_DATA_CODES = frozenset({"NotFoundError", "NotAvailableYet"})


def error_code(resp: httpx.Response) -> str | None:
    """The `error.code` of a VirusTotal error body, or None when the body is not VirusTotal's envelope."""
    try:
        body = json.loads(resp.content)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    err = body.get("error") if isinstance(body, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    return code if isinstance(code, str) else None


class VirusTotalClient(VendorClient):
    """httpx client for `https://www.virustotal.com/api/v3` authenticated with the `x-apikey` header."""

    vendor = "VirusTotal"

    def __init__(self, *, asset_name: str, config: VirusTotalConfig) -> None:
        super().__init__(
            asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
            verify=config.verify_ssl,
            headers={"x-apikey": config.api_key.get_secret_value(), "Accept": "application/json",
                     "User-Agent": "soar-virustotal-connector/0.1"},
        )

    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """`code: message` from `{"error": {"code", "message"}}`."""
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            return ""
        code, message = err.get("code") or "", err.get("message") or ""
        return f"{code}: {message}" if code and message else str(code or message)

    def retry_after(self, resp: httpx.Response) -> timedelta | None:
        """`Retry-After` when a proxy or a future API version sends one, else one quota minute."""
        return parse_retry_after(resp.headers.get("Retry-After")) or DEFAULT_QUOTA_DELAY

    def auth_hint(self) -> str:
        """Where the key comes from."""
        return ("check configuration.api_key of the asset: the API key shown in your VirusTotal profile, "
                "sent as the x-apikey header")

    async def get_object(self, path: str) -> dict[str, Any] | None:
        """GET one VirusTotal object (`/files/{hash}`, `/urls/{id}`, `/ip_addresses/{ip}`, `/domains/{d}`).

        Returns:
            The JSON:API `data` object, or None when VirusTotal has no record of the indicator.

        Raises:
            AuthError, RateLimited, VendorUnavailable, VendorResponseError (see `VendorClient`).
        """
        resp = await self.send("GET", path)
        if resp.status_code in (400, 404) and error_code(resp) in NO_DATA_CODES:
            return None
        if resp.status_code == 404:
            # A 404 without VirusTotal's envelope is a wrong base_url, not an unknown indicator.
            raise VendorResponseError(
                f"VirusTotal answered HTTP 404 without its NotFoundError envelope for {path.split('/')[1]}; "
                f"check base_url of asset '{self.asset_name}' ({self.base_url}): {snippet(resp.content)!r}"
            )
        self.raise_for_status(resp)
        if resp.status_code != 200:
            raise VendorResponseError(f"VirusTotal answered HTTP {resp.status_code}, expected 200: "
                                      f"{snippet(resp.content)!r}")
        body = self.parse_json(resp)
        data = body.get("data") if isinstance(body, dict) else None
        attrs = data.get("attributes") if isinstance(data, dict) else None
        stats = attrs.get("last_analysis_stats") if isinstance(attrs, dict) else None
        if not isinstance(stats, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in stats.values()
        ):
            raise VendorResponseError("VirusTotal answered without data.attributes.last_analysis_stats "
                                      f"(engine counts): {snippet(resp.content)!r}")
        return data  # type: ignore[return-value]

    async def upload_url(self) -> str:
        """GET /files/upload_url: a cheap authenticated call (what the Splunk SOAR app's test uses).

        Raises:
            AuthError, RateLimited, VendorUnavailable, VendorResponseError.
        """
        _, body = await self.request_json("GET", "/files/upload_url")
        url = body.get("data") if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise VendorResponseError(f"VirusTotal answered /files/upload_url without a data URL: "
                                      f"{snippet(json.dumps(body))!r}")
        return url

