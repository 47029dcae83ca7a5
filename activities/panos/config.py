"""Asset configuration of the Palo Alto Networks firewall connector (PAN-OS XML API).

Splunk's "Palo Alto Networks Firewall" app configures `device` (a bare IP or host name; the XML API is
then `https://<device>/api/`) and `verify_server_cert`; both load as they are.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator

from core.connector import ConnectorConfig

VSYS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,31}$")


class PanosConfig(ConnectorConfig):
    """`configuration` of a "Palo Alto Networks Firewall" asset.

    Either `api_key`, or `username` + `password` (the connector then generates a key with
    `type=keygen`). With both, the configured key is used first and a fresh one is generated from the
    credentials when the firewall rejects it.
    """

    splunk_keys: ClassVar[dict[str, str]] = {"device": "base_url https://<device> (and device_name)"}

    base_url: str = Field(description="https://<device> (the XML API is at <base_url>/api/)")  # type: ignore[assignment]
    username: str | None = Field(default=None, description="Admin that owns the API key and the commits")
    password: SecretStr | None = Field(default=None, description="Password of `username` (secret)")
    api_key: SecretStr | None = Field(default=None, description="A pre-generated API key (secret)")
    device_name: str = Field(default="firewall", max_length=100, description="Shown in action messages")
    vsys: str = Field(default="vsys1", description="Virtual system the objects and rules live in")
    commit_poll_s: float = Field(default=2.0, gt=0, le=60, description="Interval between commit job polls")
    commit_timeout_s: float = Field(default=600.0, gt=0, le=3600, description="Give up on a commit job after")

    @model_validator(mode="before")
    @classmethod
    def _splunk_device(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "device" not in data:
            return data
        data = dict(data)
        device = data.pop("device")
        host = device.strip() if isinstance(device, str) else ""
        if not host or ("://" not in host and any(c in host for c in " /?#@")):
            raise ValueError("device must be the firewall's IP address or host name, e.g. 10.0.0.1")
        data.setdefault("base_url", host if "://" in host else f"https://{host}")
        data.setdefault("device_name", host.split("://")[-1][:100])
        return data

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, v: str) -> str:
        v = v.strip().rstrip("/")
        if not v.startswith(("https://", "http://")):
            raise ValueError("base_url must look like https://<firewall address>")
        return v.removesuffix("/api")

    @field_validator("vsys")
    @classmethod
    def _vsys(cls, v: str) -> str:
        if not VSYS_RE.match(v):
            raise ValueError("vsys must be a virtual system name like vsys1")
        return v

    @field_validator("username")
    @classmethod
    def _username(cls, v: str | None) -> str | None:
        if v is not None and re.search(r"[<>&'\"\x00-\x1f]", v):
            raise ValueError("username must not contain quotes, '<', '>', '&' or control characters")
        return v or None

    @model_validator(mode="after")
    def _credentials(self) -> PanosConfig:
        has_key = self.api_key is not None and bool(self.api_key.get_secret_value())
        if not has_key and not self.can_keygen:
            raise ValueError("set either api_key, or both username and password (used to generate a key)")
        return self

    @property
    def can_keygen(self) -> bool:
        """Whether a key can be (re)generated from username + password."""
        return bool(self.username) and self.password is not None and bool(self.password.get_secret_value())
