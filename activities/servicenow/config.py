"""Configuration of a ServiceNow asset (Splunk SOAR app "ServiceNow")."""

from __future__ import annotations

import re

from pydantic import AliasChoices, Field, SecretStr, field_validator

from core.connector import ConnectorConfig


class ServiceNowConfig(ConnectorConfig):
    """A ServiceNow instance reached with Basic auth (an integration user with the `itil` role).

    Splunk's "ServiceNow" app calls the instance URL `url`.
    """

    username: str = Field(min_length=1, max_length=200, description="Integration user name")
    password: SecretStr = Field(description="Integration user password (secret)")
    base_url: str = Field(description="Instance URL, e.g. https://dev12345.service-now.com (no /api suffix)",
                          validation_alias=AliasChoices("base_url", "url"))

    @field_validator("base_url")
    @classmethod
    def _instance_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be the instance URL, like https://dev12345.service-now.com")
        v = v.rstrip("/")
        # People paste the REST explorer URL; the Table API path is added by the client.
        return v.removesuffix("/api/now/table").removesuffix("/api/now")
