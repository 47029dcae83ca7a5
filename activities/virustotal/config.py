"""Asset configuration of the VirusTotal v3 connector."""

from __future__ import annotations

from pydantic import Field, SecretStr

from core.connector import ConnectorConfig

DEFAULT_BASE_URL = "https://www.virustotal.com/api/v3"


class VirusTotalConfig(ConnectorConfig):
    """`configuration` of a "VirusTotal v3" asset."""

    api_key: SecretStr = Field(description="VirusTotal API key, sent as the x-apikey header (secret)")
    base_url: str = Field(default=DEFAULT_BASE_URL,
                          description="API root, e.g. the simulator's /virustotal/api/v3")
