"""Validation of CEF artifact values. Errors name the CEF field and say what a valid value looks like."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)([a-zA-Z0-9_-]{1,63}\.)*[a-zA-Z0-9-]{1,63}\.?$")
HOST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"]{1,64}@[^@\s<>\"]{1,253}$")
USER_RE = re.compile(r"^[^\x00-\x1f<>\"]{1,256}$")

MAX_VALUE_LEN = 8192


def _str(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"cef.{field} must be a string, got {type(value).__name__}")
    if len(value) > MAX_VALUE_LEN:
        raise ValueError(f"cef.{field} is {len(value)} characters long; the limit is {MAX_VALUE_LEN}")
    return value.strip()


def validate_ip(field: str, value: Any) -> str:
    """An IPv4 or IPv6 address."""
    v = _str(field, value)
    try:
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise ValueError(f"cef.{field} must be an IPv4 or IPv6 address (e.g. 203.0.113.7), got {v[:80]!r}") from None


def validate_hash(field: str, value: Any, lengths: tuple[int, ...] = (32, 40, 64)) -> str:
    """An MD5 (32), SHA-1 (40) or SHA-256 (64) hex digest."""
    v = _str(field, value)
    if not HEX_RE.match(v) or len(v) not in lengths:
        want = "/".join(str(n) for n in lengths)
        raise ValueError(f"cef.{field} must be a {want}-character hex digest, got {v[:80]!r}")
    return v.lower()


def validate_url(field: str, value: Any) -> str:
    """An absolute http(s)/ftp URL with a host."""
    v = _str(field, value)
    try:
        parts = urlsplit(v)
    except ValueError:
        raise ValueError(f"cef.{field} is not a parseable URL: {v[:80]!r}") from None
    if parts.scheme.lower() not in ("http", "https", "ftp") or not parts.hostname:
        raise ValueError(
            f"cef.{field} must be an absolute URL like https://example.com/path, got {v[:80]!r}"
        )
    return v


def validate_domain(field: str, value: Any) -> str:
    """A DNS name."""
    v = _str(field, value).rstrip(".").lower()
    if not DOMAIN_RE.match(v) or "." not in v:
        raise ValueError(f"cef.{field} must be a domain name like example.com, got {v[:80]!r}")
    return v


def validate_host(field: str, value: Any) -> str:
    """A host name (short or fully qualified)."""
    v = _str(field, value)
    if not HOST_RE.match(v):
        raise ValueError(f"cef.{field} must be a host name like WORKSTATION-042, got {v[:80]!r}")
    return v


def validate_email(field: str, value: Any) -> str:
    """An e-mail address (`local@domain`)."""
    v = _str(field, value)
    if not EMAIL_RE.match(v):
        raise ValueError(f"cef.{field} must be an e-mail address like user@example.com, got {v[:80]!r}")
    return v


def validate_user(field: str, value: Any) -> str:
    """A user name (sAMAccountName, UPN or DOMAIN\\user)."""
    v = _str(field, value)
    if not USER_RE.match(v):
        raise ValueError(f"cef.{field} must be a user name without control characters, got {v[:80]!r}")
    return v


CEF_VALIDATORS: dict[str, Callable[[str, Any], str]] = {
    "requestURL": validate_url,
    "fileHash": validate_hash,
    "fileHashMd5": lambda f, v: validate_hash(f, v, (32,)),
    "fileHashSha1": lambda f, v: validate_hash(f, v, (40,)),
    "fileHashSha256": lambda f, v: validate_hash(f, v, (64,)),
    "sourceAddress": validate_ip,
    "destinationAddress": validate_ip,
    "sourceDnsDomain": validate_domain,
    "destinationDnsDomain": validate_domain,
    "sourceHostName": validate_host,
    "destinationHostName": validate_host,
    "sourceUserName": validate_user,
    "destinationUserName": validate_user,
    "fromEmail": validate_email,
    "toEmail": validate_email,
    "replyToEmail": validate_email,
}

# What kind of indicator each CEF key holds (the Splunk SOAR "contains" types).
CEF_CONTAINS: dict[str, str] = {
    "requestURL": "url",
    "fileHash": "hash",
    "fileHashMd5": "hash",
    "fileHashSha1": "hash",
    "fileHashSha256": "hash",
    "sourceAddress": "ip",
    "destinationAddress": "ip",
    "sourceDnsDomain": "domain",
    "destinationDnsDomain": "domain",
    "sourceHostName": "host",
    "destinationHostName": "host",
    "sourceUserName": "user",
    "destinationUserName": "user",
    "fromEmail": "email",
    "toEmail": "email",
    "replyToEmail": "email",
}


def validate_cef(cef: dict[str, Any]) -> dict[str, Any]:
    """Validate the known CEF keys of an artifact; other keys pass through (bounded in size).

    Raises:
        ValueError: naming the first invalid field and what a valid value looks like.
    """
    out: dict[str, Any] = {}
    if len(cef) > 200:
        raise ValueError(f"cef has {len(cef)} keys; the limit is 200")
    for key, value in cef.items():
        if not isinstance(key, str) or not key or len(key) > 128:
            raise ValueError(f"cef key {str(key)[:40]!r} must be a non-empty string of at most 128 characters")
        validator = CEF_VALIDATORS.get(key)
        if validator is None:
            if isinstance(value, str) and len(value) > MAX_VALUE_LEN:
                raise ValueError(f"cef.{key} is {len(value)} characters long; the limit is {MAX_VALUE_LEN}")
            out[key] = value
        elif value is None or value == "":
            continue
        else:
            out[key] = validator(key, value)
    return out


def defang(value: str) -> str:
    """Make an indicator safe to display (`https://evil.com` -> `hxxps://evil[.]com`)."""
    return value.replace("http", "hxxp", 1).replace(".", "[.]")
