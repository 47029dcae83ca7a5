"""Active Directory data helpers: the `username` parameter, userAccountControl bits and attribute values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ldap3.protocol.formatters.formatters import format_sid
from ldap3.utils.conv import escape_filter_chars

ACCOUNTDISABLE = 0x2
UAC_FLAGS = {
    0x1: "SCRIPT", 0x2: "ACCOUNTDISABLE", 0x8: "HOMEDIR_REQUIRED", 0x10: "LOCKOUT",
    0x20: "PASSWD_NOTREQD", 0x40: "PASSWD_CANT_CHANGE", 0x80: "ENCRYPTED_TEXT_PWD_ALLOWED",
    0x100: "TEMP_DUPLICATE_ACCOUNT", 0x200: "NORMAL_ACCOUNT", 0x800: "INTERDOMAIN_TRUST_ACCOUNT",
    0x1000: "WORKSTATION_TRUST_ACCOUNT", 0x2000: "SERVER_TRUST_ACCOUNT", 0x10000: "DONT_EXPIRE_PASSWORD",
    0x20000: "MNS_LOGON_ACCOUNT", 0x40000: "SMARTCARD_REQUIRED", 0x80000: "TRUSTED_FOR_DELEGATION",
    0x100000: "NOT_DELEGATED", 0x200000: "USE_DES_KEY_ONLY", 0x400000: "DONT_REQ_PREAUTH",
    0x800000: "PASSWORD_EXPIRED", 0x1000000: "TRUSTED_TO_AUTH_FOR_DELEGATION",
}

# Attributes read by `get user attributes` (and the subset the enable/disable actions need).
USER_ATTRIBUTES = [
    "sAMAccountName", "userPrincipalName", "displayName", "givenName", "sn", "mail", "title", "department",
    "description", "manager", "telephoneNumber", "distinguishedName", "memberOf", "userAccountControl",
    "whenCreated", "whenChanged", "pwdLastSet", "lastLogonTimestamp", "accountExpires", "lockoutTime",
    "badPwdCount", "objectSid",
]
STATUS_ATTRIBUTES = ["sAMAccountName", "userAccountControl"]
MULTI_VALUED = {"memberOf"}
FILETIME_ATTRIBUTES = {"pwdLastSet", "lastLogonTimestamp", "accountExpires", "lockoutTime"}
GENERALIZED_TIME_ATTRIBUTES = {"whenCreated", "whenChanged"}
INT_ATTRIBUTES = {"userAccountControl", "badPwdCount"}

# RFC 4515 filter metacharacters plus NUL: refused outright rather than escaped, so that a value such as
# "*)(objectClass=*" fails loudly instead of silently becoming a literal that matches nobody.
FILTER_METACHARACTERS = set("*()\\\x00")
# `CORP\jdoe` (NetBIOS name, up to 15 characters) or `corp.example.com\jdoe` (DNS name).
DOMAIN_PREFIX = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.-]{0,252})\\(.+)$")
MAX_USERNAME = 256
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_FILETIME_NEVER = 0x7FFFFFFFFFFFFFFF


def parse_username(value: Any) -> str:
    """Validate the `username` parameter: a sAMAccountName, a UPN, or DOMAIN\\sAMAccountName.

    Returns:
        The name, trimmed; a DOMAIN\\ prefix is kept: the action checks it is the asset's own domain (a
        foreign one is refused, never silently mapped onto an account of this domain).

    Raises:
        ValueError: empty, too long, or with LDAP filter metacharacters or control characters.
    """
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {type(value).__name__}")
    v = value.strip()
    domain, name = split_domain(v)
    if not name or len(name) > MAX_USERNAME:
        raise ValueError(f"must be a user name of 1 to {MAX_USERNAME} characters (sAMAccountName, UPN or "
                         "DOMAIN\\user)")
    bad = sorted({c for c in name if c in FILTER_METACHARACTERS or ord(c) < 0x20})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise ValueError(f"must be a plain account name; LDAP filter characters and control characters "
                         f"({shown}) are not allowed, got {value[:80]!r}")
    return f"{domain}\\{name}" if domain else name


def split_domain(username: str) -> tuple[str | None, str]:
    """`CORP\\jdoe` -> (`CORP`, `jdoe`); a name without a domain prefix -> (None, name)."""
    m = DOMAIN_PREFIX.match(username)
    return (m.group(1), m.group(2)) if m else (None, username)


def user_filter(username: str) -> str:
    """The LDAP filter finding one user account by sAMAccountName (or by UPN when it contains '@').

    The value is escaped again here (defence in depth: `parse_username` already refused metacharacters).
    """
    v = escape_filter_chars(username)
    by_name = f"(sAMAccountName={v})"
    if "@" in username:
        by_name = f"(|(userPrincipalName={v}){by_name})"
    return f"(&(objectCategory=person)(objectClass=user){by_name})"


def uac_flags(uac: int) -> list[str]:
    """Names of the userAccountControl bits that are set."""
    return [name for bit, name in UAC_FLAGS.items() if uac & bit]


def is_enabled(uac: int) -> bool:
    """Whether the ACCOUNTDISABLE bit (0x2) is clear."""
    return not uac & ACCOUNTDISABLE


def _filetime(raw: str) -> str | None:
    n = int(raw)
    if n <= 0 or n >= _FILETIME_NEVER:
        return None  # 0 / 0x7FFF... mean "never" (or "must change at next logon" for pwdLastSet)
    return (_FILETIME_EPOCH + timedelta(microseconds=n // 10)).isoformat()


def _generalized_time(raw: str) -> str:
    try:
        when = datetime.strptime(raw.split(".")[0].rstrip("Z"), "%Y%m%d%H%M%S")
        return when.replace(tzinfo=UTC).isoformat()
    except ValueError:
        return raw


def _one(name: str, raw: Any) -> Any:
    if name == "objectSid" and isinstance(raw, bytes):
        return format_sid(raw)
    if isinstance(raw, bytes):
        return raw.hex()
    try:
        if name in INT_ATTRIBUTES:
            return int(raw)
        if name in FILETIME_ATTRIBUTES:
            return _filetime(raw)
    except ValueError:
        return raw
    if name in GENERALIZED_TIME_ATTRIBUTES:
        return _generalized_time(raw)
    return raw


def to_json(attributes: dict[str, Any], names: Sequence[str] = tuple(USER_ATTRIBUTES)) -> dict[str, Any]:
    """Raw LDAP attribute values (lists of str/bytes, no schema) -> JSON-friendly values.

    Single-valued attributes become scalars, FILETIME and GeneralizedTime values ISO-8601 strings (None for
    "never"), objectSid an S-1-5-... string; missing attributes are None (memberOf: an empty list).
    """
    out: dict[str, Any] = {}
    by_lower = {k.lower(): v for k, v in attributes.items()}
    for name in names:
        values = by_lower.get(name.lower())
        if values is None or values == []:
            out[name] = [] if name in MULTI_VALUED else None
            continue
        if not isinstance(values, list):
            values = [values]
        converted = [_one(name, v) for v in values]
        out[name] = converted if name in MULTI_VALUED else converted[0]
    return out
