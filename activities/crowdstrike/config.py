"""Configuration of a CrowdStrike Falcon asset (Splunk SOAR app "CrowdStrike OAuth API")."""

from __future__ import annotations

import re

from pydantic import AliasChoices, Field, SecretStr, field_validator

from core.connector import ConnectorConfig

MEMBER_CID_RE = re.compile(r"^[0-9a-fA-F]{32}(-[0-9a-fA-F]{2})?$")


class CrowdStrikeConfig(ConnectorConfig):
    """An OAuth2 API client of one Falcon cloud (us-1 by default). Splunk's `url` is our `base_url`."""

    client_id: str = Field(min_length=1, max_length=200, description="OAuth2 API client id")
    client_secret: SecretStr = Field(description="OAuth2 API client secret (secret)")
    base_url: str = Field(default="https://api.crowdstrike.com",
                          description="Cloud API URL: us-1 api.crowdstrike.com, "
                                      "us-2 api.us-2.crowdstrike.com, eu-1 api.eu-1.crowdstrike.com",
                          validation_alias=AliasChoices("base_url", "url"))
    member_cid: str | None = Field(default=None, description="Flight Control: act on this child CID")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL like https://api.crowdstrike.com")
        return v.rstrip("/")

    @field_validator("member_cid")
    @classmethod
    def _cid(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        if not MEMBER_CID_RE.match(v):
            raise ValueError("must be a 32-character hex CID (optionally with its -XX checksum)")
        return v.lower()
