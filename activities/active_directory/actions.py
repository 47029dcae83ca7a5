"""Active Directory actions: read a user, disable/enable it (userAccountControl 0x2), test connectivity.

`disable user` checks the directory-side guardrails (activities/active_directory/guard.py) between its read
and its write; every action refuses a DOMAIN\\ prefix of another domain.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from activities.active_directory.attributes import (
    ACCOUNTDISABLE,
    STATUS_ATTRIBUTES,
    USER_ATTRIBUTES,
    is_enabled,
    parse_username,
    to_json,
    uac_flags,
)
from activities.active_directory.client import ActiveDirectoryClient
from activities.active_directory.config import ActiveDirectoryConfig
from activities.active_directory.guard import GUARD_ATTRIBUTES, bare_name, check_disable
from core.connector import ActionContext, action
from core.errors import VendorResponseError
from core.models import ActionResult
from core.params import NoParams

Ctx = ActionContext[ActiveDirectoryConfig, ActiveDirectoryClient]


class UserParams(BaseModel):
    """A user account: sAMAccountName (jdoe), UPN (jdoe@corp.example.com) or DOMAIN\\jdoe.

    Splunk's "AD LDAP" app calls the parameter `user` (with `use_samaccountname`), its "LDAP" app `username`.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    username: str = Field(validation_alias=AliasChoices("username", "user"))
    use_samaccountname: bool | None = Field(
        default=None, description="Accepted for AD LDAP playbooks; the user is found by sAMAccountName or UPN")

    @field_validator("username", mode="before")
    @classmethod
    def _username(cls, v: Any) -> str:
        return parse_username(v)


def _uac(raw: dict[str, Any], username: str) -> int:
    attrs = to_json(raw, STATUS_ATTRIBUTES)
    if not isinstance(attrs["userAccountControl"], int):
        raise VendorResponseError(f"Active Directory returned no readable userAccountControl for "
                                  f"'{username}' (may the bind account read it?)")
    return attrs["userAccountControl"]


def _status(enabled: bool) -> str:
    return "enabled" if enabled else "disabled"


@action("get user attributes", params=UserParams, read_only=True, target="username")
async def get_user_attributes(ctx: Ctx, p: UserParams) -> ActionResult:
    """Read a user account's attributes (identity, mail, groups, userAccountControl and its flags)."""
    dn, raw = await ctx.client.find_user(await bare_name(ctx, p.username, acting=False), USER_ATTRIBUTES)
    attrs = to_json(raw)
    uac = attrs["userAccountControl"]
    enabled = is_enabled(uac) if isinstance(uac, int) else None
    attrs["dn"] = dn
    attrs["enabled"] = enabled
    attrs["uac_flags"] = uac_flags(uac) if isinstance(uac, int) else []
    groups = len(attrs["memberOf"])
    name = attrs["sAMAccountName"] or p.username
    state = "status unknown" if enabled is None else _status(enabled)
    return ActionResult(
        message=f"{name} ({attrs['displayName'] or dn}): {state}, member of {groups} group(s)",
        summary={"dn": dn, "sAMAccountName": attrs["sAMAccountName"], "displayName": attrs["displayName"],
                 "mail": attrs["mail"], "userAccountControl": uac, "enabled": enabled,
                 "member_of_count": groups},
        data=[attrs],
    )


async def _set_disabled(ctx: Ctx, username: str, disable: bool) -> ActionResult:
    """Set or clear ACCOUNTDISABLE, touching no other bit; no write when it already has the wanted value.

    Disabling checks the guardrails on what was read (before the "already disabled" answer too: a protected
    account is refused whatever its state).
    """
    ad = ctx.client
    lookup = await bare_name(ctx, username, acting=True)
    dn, raw = await ad.find_user(lookup, GUARD_ATTRIBUTES if disable else STATUS_ATTRIBUTES)
    if disable:
        await check_disable(ctx, username, dn, raw)
    name = to_json(raw, STATUS_ATTRIBUTES)["sAMAccountName"] or lookup
    before = _uac(raw, lookup)
    was_enabled = is_enabled(before)
    after = before | ACCOUNTDISABLE if disable else before & ~ACCOUNTDISABLE
    summary = {"dn": dn, "sAMAccountName": name, "starting_status": _status(was_enabled),
               "ending_status": _status(not disable), "userAccountControl": after, "changed": after != before,
               "account_status": _status(not disable)}  # the AD LDAP app's summary key
    if after == before:
        return ActionResult(message=f"{name} already {_status(not disable)}", summary=summary,
                            data=[{"dn": dn, "sAMAccountName": name, "userAccountControl": after}])
    await ad.set_user_account_control(dn, after)
    return ActionResult(
        message=f"{name} {_status(not disable)} (was {_status(was_enabled)})", summary=summary,
        data=[{"dn": dn, "sAMAccountName": name, "userAccountControl": after,
               "previous_userAccountControl": before}],
    )


@action("disable user", params=UserParams, read_only=False, high_impact=True, target="username",
        aliases=("disable account",))
async def disable_user(ctx: Ctx, p: UserParams) -> ActionResult:
    """Disable a user account (sets userAccountControl bit 0x2 ACCOUNTDISABLE). High impact."""
    return await _set_disabled(ctx, p.username, disable=True)


@action("enable user", params=UserParams, read_only=False, target="username", aliases=("enable account",))
async def enable_user(ctx: Ctx, p: UserParams) -> ActionResult:
    """Enable a user account (clears userAccountControl bit 0x2 ACCOUNTDISABLE)."""
    return await _set_disabled(ctx, p.username, disable=False)


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Bind with the asset's account and read the root DSE."""
    ad = ctx.client
    dse = await ad.root_dse()
    base = ad.base_dn or dse.get("defaultNamingContext")
    if ad.base_dn is None and base:
        ad.base_dn = str(base)
    host = dse.get("dnsHostName") or ad.config.server
    return ActionResult(
        message=f"Bound to {host} over {ad.config.transport} as {ad.config.username}; base DN {base}",
        summary={"server": ad.config.server, "port": ad.config.port, "transport": ad.config.transport,
                 "dns_host_name": dse.get("dnsHostName"), "base_dn": base,
                 "default_naming_context": dse.get("defaultNamingContext"),
                 "vendor": dse.get("vendorName") or "Microsoft"},
        data=[dse],
    )
