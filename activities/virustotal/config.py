"""Asset configuration of the VirusTotal v3 connector (Splunk SOAR app "VirusTotal v3").

Splunk's app keys are accepted as they are: `apikey`, `rate_limit` (alone it means VirusTotal's public
quota, 4 requests a minute, as in Splunk's app), `timeout`, and `cache_reputation_checks` with
`cache_expiration_interval` (our `cache_ttl_s`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AliasChoices, Field, SecretStr, model_validator

from core.connector import ConnectorConfig

DEFAULT_BASE_URL = "https://www.virustotal.com/api/v3"
PUBLIC_QUOTA_PER_MINUTE = 4  # what Splunk's `rate_limit: true` means: the public API's quota
SPLUNK_CACHE_DEFAULT_S = 3600  # Splunk's default cache_expiration_interval


class VirusTotalConfig(ConnectorConfig):
    """`configuration` of a "VirusTotal v3" asset."""

    splunk_keys: ClassVar[dict[str, str]] = {
        "cache_reputation_checks": "cache_ttl_s = cache_expiration_interval (default 3600) when true",
        "cache_expiration_interval": "cache_ttl_s, when cache_reputation_checks is true",
    }

    api_key: SecretStr = Field(description="VirusTotal API key, sent as the x-apikey header (secret)",
                               validation_alias=AliasChoices("api_key", "apikey"))
    base_url: str = Field(default=DEFAULT_BASE_URL,
                          description="API root, e.g. the simulator's /virustotal/api/v3")

    @model_validator(mode="before")
    @classmethod
    def _splunk_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("rate_limit") is True and data.get("max_requests_per_minute") is None:
            data["max_requests_per_minute"] = PUBLIC_QUOTA_PER_MINUTE
        caching = data.pop("cache_reputation_checks", None)
        interval = data.pop("cache_expiration_interval", None)
        if caching is True and "cache_ttl_s" not in data:
            # Splunk: "any other value than a positive integer will disable caching"
            ttl = interval if interval is not None else SPLUNK_CACHE_DEFAULT_S
            data["cache_ttl_s"] = ttl if isinstance(ttl, int | float) and ttl > 0 else 0
        return data
