"""Configuration of a MaxMind GeoIP2 asset (Splunk SOAR app "MaxMind")."""

from __future__ import annotations

import re

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from core.cef import validate_ip
from core.connector import ConnectorConfig
from core.params import plain

DEFAULT_BASE_URL = "https://geoip.maxmind.com"


class MaxMindConfig(ConnectorConfig):
    """A GeoIP2 web service account, or a local `.mmdb` database (then no HTTP is made)."""

    account_id: str | None = Field(default=None, max_length=20,
                                   description="MaxMind account ID (the Basic-auth user name)")
    license_key: SecretStr | None = Field(default=None, description="MaxMind license key (secret)")
    database_path: str | None = Field(
        default=None,
        description="Path of a local GeoIP2/GeoLite2 City .mmdb; when set, the web service is not used")
    test_ip: str | None = Field(default=None, validation_alias=AliasChoices("test_ip", "ip_address"),
                                description="IP that test connectivity looks up (Splunk's ip_address); "
                                            "default: this host's own address")
    base_url: str = Field(default=DEFAULT_BASE_URL,
                          description="Web service root: geoip.maxmind.com, geolite.info (GeoLite), "
                                      "sandbox.maxmind.com, or the simulator's /maxmind")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL like https://geoip.maxmind.com")
        return v.rstrip("/")

    @field_validator("account_id")
    @classmethod
    def _account_id(cls, v: str | None) -> str | None:
        if v in (None, ""):
            return None
        v = v.strip()
        if not v.isdigit():
            raise ValueError("must be the numeric MaxMind account ID (e.g. 123456)")
        return v

    @field_validator("test_ip")
    @classmethod
    def _test_ip(cls, v: str | None) -> str | None:
        return plain(validate_ip, "test_ip", v) if v else None

    @field_validator("database_path")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        return (v.strip() or None) if v is not None else None

    @model_validator(mode="after")
    def _web_or_file(self) -> MaxMindConfig:
        if self.database_path is None and (self.account_id is None or self.license_key is None
                                           or not self.license_key.get_secret_value()):
            raise ValueError("set account_id and license_key (web service) or database_path (local .mmdb). "
                             "Splunk's MaxMind app needs only license_key because it downloads GeoLite2 itself; "
                             "this connector queries the web service with account_id and license_key, or "
                             "reads a .mmdb you keep up to date")
        return self

    @property
    def uses_database(self) -> bool:
        """Whether lookups go to the local .mmdb rather than the web service."""
        return self.database_path is not None
