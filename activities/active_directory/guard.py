"""The guardrails only the directory can judge (see core/guardrails.py for the rest).

`disable user` reads the account, then refuses (`GuardrailRefused`, before any write) when it is:

- a protected account by any of its names, or the built-in RID-500 Administrator / RID-502 krbtgt however
  they were renamed;
- the asset's own bind account (UPN, DN, DOMAIN\\user or sAMAccountName form): the SOAR would lock itself
  out of the directory;
- a member of a protected group: directly, through nested groups (memberOf read transitively), or by its
  primary group (which memberOf never lists). Well-known groups are recognised by their RID too, so a
  localised or renamed "Domain Admins" is still protected.

Every action refuses a `DOMAIN\\user` whose domain is not the asset's: the prefix was silently dropped before,
which looked `OTHERFOREST\\jdoe` up as this domain's `jdoe`, a different person.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from activities.active_directory.attributes import split_domain, to_json
from core.errors import GuardrailRefused, InvalidParameter

if TYPE_CHECKING:
    from activities.active_directory.actions import Ctx
    from activities.active_directory.config import ActiveDirectoryConfig

# Attributes `disable user` reads before it writes.
GUARD_ATTRIBUTES = ["sAMAccountName", "userAccountControl", "userPrincipalName", "objectSid", "memberOf",
                    "primaryGroupID"]
GROUP_ATTRIBUTES = ["sAMAccountName", "objectSid", "memberOf"]
WELL_KNOWN_ACCOUNTS = {500: "Administrator", 502: "krbtgt"}  # domain RIDs (MS-DTYP 2.4.2.4)
WELL_KNOWN_GROUPS = {512: "Domain Admins", 516: "Domain Controllers", 518: "Schema Admins",
                     519: "Enterprise Admins", 520: "Group Policy Creator Owners"}
BUILTIN_GROUPS = {"S-1-5-32-544": "Administrators", "S-1-5-32-548": "Account Operators",
                  "S-1-5-32-549": "Server Operators", "S-1-5-32-551": "Backup Operators"}
_DN_SPACES = re.compile(r"\s*([,=])\s*")


def norm_dn(dn: str) -> str:
    """A DN compared loosely: lower case, no spaces around `,` and `=`."""
    return _DN_SPACES.sub(r"\1", dn.strip().lower())


def domain_names(config: ActiveDirectoryConfig, base_dn: str) -> set[str]:
    """The names a DOMAIN\\ prefix of this asset's domain may use (lower case): the configured NetBIOS name,
    the first DC= label and the dotted DNS name of the base DN, and the bind account's own prefix."""
    names = {config.netbios_domain.lower()} if config.netbios_domain else set()
    labels = [p.split("=", 1)[1].strip().lower() for p in base_dn.split(",") if p.strip().lower().startswith("dc=")]
    if labels:
        names |= {labels[0], ".".join(labels)}
    if "\\" in config.username:
        names.add(config.username.split("\\", 1)[0].strip().lower())
    return names


async def bare_name(ctx: Ctx, username: str, *, acting: bool) -> str:
    """The account name to look up: `username` without its DOMAIN\\ prefix, which must name this domain.

    Raises:
        GuardrailRefused (an action that writes) or InvalidParameter (a lookup): a foreign domain prefix.
    """
    domain, name = split_domain(username)
    if domain is None:
        return name
    ours = domain_names(ctx.config, await ctx.client.naming_context())
    if domain.lower() in ours:
        return name
    asset = ctx.asset.asset_name
    problem = (f"'{username}' names the domain {domain}, but asset '{asset}' is the directory of "
               f"{', '.join(sorted(ours)).upper()}; here the name would match another domain's account")
    fix = (f"run it on the asset of the {domain} domain; if {domain} is this domain's NetBIOS name, set "
           f"netbios_domain of asset '{asset}' to {domain}")
    if acting:
        raise GuardrailRefused("foreign_domain", username, f"not allowed: {problem}", fix)
    raise InvalidParameter(f"username: {problem}. Fix: {fix}")


def is_bind_account(bind: str, dn: str, sam: str | None, upn: str | None) -> bool:
    """Whether the account (`dn`, `sam`, `upn`) is the one the asset binds as (`bind` in any SIMPLE-bind form)."""
    b = bind.strip().lower()
    sam_l, upn_l = (sam or "").lower(), (upn or "").lower()
    if "=" in b:
        return norm_dn(b) == norm_dn(dn)
    if "\\" in b:
        return b.rsplit("\\", 1)[1] == sam_l
    if "@" in b:  # AD accepts sAMAccountName@dnsdomain even without that UPN
        return b == upn_l or b.split("@", 1)[0] == sam_l
    return b == sam_l


def _rid(sid: Any) -> tuple[str, int] | None:
    if not isinstance(sid, str) or "-" not in sid:
        return None
    domain, _, rid = sid.rpartition("-")
    return (domain, int(rid)) if rid.isdigit() else None


def _group_names(dn: str, attrs: dict[str, Any]) -> list[str]:
    values = to_json(attrs, GROUP_ATTRIBUTES)
    names = [dn, dn.split(",", 1)[0].split("=", 1)[-1], values["sAMAccountName"] or ""]
    sid = values["objectSid"]
    rid = _rid(sid)
    if isinstance(sid, str) and sid in BUILTIN_GROUPS:
        names.append(BUILTIN_GROUPS[sid])
    elif rid and rid[0].startswith("S-1-5-21-") and rid[1] in WELL_KNOWN_GROUPS:
        names.append(WELL_KNOWN_GROUPS[rid[1]])
    return names


async def check_disable(ctx: Ctx, given: str, dn: str, raw: dict[str, Any]) -> None:
    """Refuse disabling the account read as (`dn`, `raw` with `GUARD_ATTRIBUTES`) when a guardrail covers it.

    Raises:
        GuardrailRefused: protected_accounts, bind_account or protected_groups.
    """
    rails = ctx.guardrails
    attrs = to_json(raw, GUARD_ATTRIBUTES)
    sam, upn = attrs["sAMAccountName"], attrs["userPrincipalName"]
    name = sam or given
    rid = _rid(attrs["objectSid"])
    builtin = WELL_KNOWN_ACCOUNTS.get(rid[1]) if rid else None
    hit = rails.protected_account(given, sam or "", upn or "", builtin or "")
    if hit is not None:
        why = f"{name} is a protected account" + (f" (the domain's built-in {builtin}, RID {rid[1]})"
                                                   if builtin and rid else "")
        raise rails.account_refused("protected_accounts", given, why,
                                    f"if it really must be disabled, remove '{hit}' from protected_accounts")
    if is_bind_account(ctx.config.username, dn, sam, upn):
        raise rails.account_refused("bind_account", given, f"{name} is the bind account of asset "
                                    f"'{ctx.asset.asset_name}': the SOAR would lock itself out of the directory",
                                    "disable it with another administrator account")
    groups = await ctx.client.group_closure([str(g) for g in attrs["memberOf"]])
    candidates = [(g["dn"], _group_names(g["dn"], g["attributes"])) for g in groups]
    primary = str(attrs["primaryGroupID"] or "")
    if primary.isdigit() and int(primary) in WELL_KNOWN_GROUPS:
        candidates.append(("primary group", [WELL_KNOWN_GROUPS[int(primary)]]))
    direct = {norm_dn(str(g)) for g in attrs["memberOf"]}
    for where, names in candidates:
        group = rails.protected_group(names)
        if group is not None:
            how = "as its primary group" if where == "primary group" else \
                "directly" if norm_dn(where) in direct else "through nested groups"
            raise rails.account_refused("protected_groups", given, f"{name} is a member of the protected group "
                                        f"'{group}' ({how})", f"if it really must be disabled, take it out of "
                                        f"'{group}' first or remove '{group}' from protected_groups")
