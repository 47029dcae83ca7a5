"""Asset configuration of the Active Directory (LDAP) connector.

Splunk SOAR's directory apps load as they are: "AD LDAP" (`force_ssl`, `validate_ssl_cert`, `ssl_port`),
"LDAP" (`force_ssl`) and the brief's "Active Directory" object (`ssl`). Without TLS and without a port,
the port is 389.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator

from core.connector import ConnectorConfig


class ActiveDirectoryConfig(ConnectorConfig):
    """`configuration` of an "Active Directory" asset (a domain controller reached over LDAP)."""

    server: str = Field(description="Domain controller host name or IP, e.g. dc1.corp.example.com")
    port: int = Field(default=636, ge=1, le=65535, description="636 for LDAPS, 389 for LDAP/StartTLS",
                      validation_alias=AliasChoices("port", "ssl_port"))
    use_ssl: bool = Field(default=True, description="LDAPS: TLS from the first byte (port 636)",
                          validation_alias=AliasChoices("use_ssl", "ssl", "force_ssl"))
    start_tls: bool = Field(default=False, description="Upgrade plain LDAP (port 389) with StartTLS")
    ca_file: str | None = Field(default=None, description="PEM file of the CA that signed the DC certificate")
    username: str = Field(description="Bind account (SIMPLE bind): UPN, DN or DOMAIN\\user")
    password: SecretStr = Field(description="Password of the bind account (secret)")
    base_dn: str | None = Field(default=None, description="Search base; default: defaultNamingContext")
    netbios_domain: str | None = Field(default=None, max_length=15,
                                       description="The domain's NetBIOS name (CORP) when it is not the first "
                                                   "label of the DNS name; DOMAIN\\user of another domain is "
                                                   "refused")

    @model_validator(mode="before")
    @classmethod
    def _plain_ldap_port(cls, data: Any) -> Any:
        if isinstance(data, dict) and not any(k in data for k in ("port", "ssl_port")):
            tls = next((data[k] for k in ("use_ssl", "ssl", "force_ssl") if k in data), True)
            if tls is False:
                data = {**data, "port": 389}
        return data

    @field_validator("server")
    @classmethod
    def _plain_host(cls, v: str) -> str:
        v = v.strip()
        if not v or "://" in v or "/" in v or any(c.isspace() for c in v):
            raise ValueError("server must be a bare host name or IP address (no ldap:// scheme, path or "
                             "spaces), e.g. dc1.corp.example.com; set port and use_ssl separately")
        return v

    @field_validator("username")
    @classmethod
    def _username(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("username must not be empty (an anonymous bind cannot change accounts)")
        return v

    @field_validator("base_dn", "ca_file", "netbios_domain")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @model_validator(mode="after")
    def _one_tls_mode(self) -> ActiveDirectoryConfig:
        if self.use_ssl and self.start_tls:
            raise ValueError("use_ssl (LDAPS, port 636) and start_tls (port 389) exclude each other; "
                             "set one of them to false")
        return self

    @property
    def transport(self) -> str:
        """`ldaps`, `starttls` or `ldap` (cleartext)."""
        return "ldaps" if self.use_ssl else "starttls" if self.start_tls else "ldap"
