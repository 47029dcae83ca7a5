"""Configuration of a Whois RDAP asset (Splunk SOAR app "Whois"). RDAP needs no credentials."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from core.connector import ConnectorConfig

DEFAULT_BASE_URL = "https://rdap.arin.net/registry"


class WhoisConfig(ConnectorConfig):
    """Where RDAP queries start; the registry redirects to the RIR responsible for the address."""

    base_url: str = Field(default=DEFAULT_BASE_URL,
                          description="RDAP service root (ARIN redirects other RIRs' space), "
                                      "e.g. https://rdap.arin.net/registry or the simulator's /rdap")

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http(s) URL like https://rdap.arin.net/registry")
        return v.rstrip("/")
