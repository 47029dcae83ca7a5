"""Parameter models shared by connector actions (validated before any request is made)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.cef import validate_domain, validate_hash, validate_ip, validate_url


def plain(validate: Callable[[str, Any], str], name: str, value: Any) -> str:
    """Run a CEF validator on an action parameter; its message names the parameter, not `cef.<name>`."""
    try:
        return validate(name, value)
    except ValueError as e:
        raise ValueError(str(e).removeprefix("cef.")) from None


class NoParams(BaseModel):
    """No parameters (e.g. `test connectivity`)."""

    model_config = ConfigDict(extra="forbid")


class IpParams(BaseModel):
    """One IP address."""

    model_config = ConfigDict(extra="forbid")
    ip: str = Field(description="IPv4 or IPv6 address")

    @field_validator("ip", mode="before")
    @classmethod
    def _ip(cls, v: Any) -> str:
        return plain(validate_ip, "ip", v)


class UrlParams(BaseModel):
    """One URL."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="Absolute http(s)/ftp URL")

    @field_validator("url", mode="before")
    @classmethod
    def _url(cls, v: Any) -> str:
        return plain(validate_url, "url", v)


class HashParams(BaseModel):
    """One file hash."""

    model_config = ConfigDict(extra="forbid")
    hash: str = Field(description="MD5, SHA-1 or SHA-256 of the file")

    @field_validator("hash", mode="before")
    @classmethod
    def _hash(cls, v: Any) -> str:
        return plain(validate_hash, "hash", v)


class DomainParams(BaseModel):
    """One domain name."""

    model_config = ConfigDict(extra="forbid")
    domain: str = Field(description="DNS name, e.g. example.com")

    @field_validator("domain", mode="before")
    @classmethod
    def _domain(cls, v: Any) -> str:
        return plain(validate_domain, "domain", v)
