"""Asset configuration of the AbuseIPDB connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from core.connector import ConnectorConfig

DEFAULT_BASE_URL = "https://api.abuseipdb.com/api/v2"


class AbuseIPDBConfig(ConnectorConfig):
    """`configuration` of an "AbuseIPDB" asset."""

    api_key: SecretStr = Field(description="AbuseIPDB APIv2 key, sent as the Key header (secret)")
    base_url: str = Field(default=DEFAULT_BASE_URL,
                          description="API root, e.g. the simulator's /abuseipdb/api/v2")
