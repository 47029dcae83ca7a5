"""The objects of the simulated Active Directory domain corp.example.com (CORP), as a DC would return them.

Users (password `credentials.AD_USER_PASSWORD` unless noted):

| sAMAccountName | DN | userAccountControl | notes |
| --- | --- | --- | --- |
| `svc-soar` | CN=svc-soar,OU=Service Accounts | 66048 | the bind account (`credentials.AD_PASSWORD`); SOAR Responders |
| `jdoe` | CN=John Doe,CN=Users | 512 | the demo alerts' user; Finance, VPN Users |
| `asmith` | CN=Alice Smith,CN=Users | 512 | SOC analyst; jdoe's manager |
| `mlopez` | CN=Maria Lopez,OU=Staff | 514 | already disabled (a leaver) |
| `Administrator` | CN=Administrator,CN=Users | 66048 | Domain Admins; cannot bind here (no password is known) |
| `t0-ops` | CN=Tier0 Operator,OU=Staff | 66048 | Tier 0 Operators, a group nested in Domain Admins (a guardrail case) |
| `svc-backup` | CN=svc-backup,OU=Service Accounts | 66048 | no groups; DONT_EXPIRE_PASSWORD (a flag besides 0x2) |
| `WORKSTATION-042$` | CN=WORKSTATION-042,OU=Workstations | 4096 | a computer (objectClass user, category Computer) |

Members of Domain Admins and SOAR Responders may write; every other account only reads. Groups carry
`member`, and a nested group its own `memberOf`, as a DC returns them.
Values are stored as a DC sends them over LDAP: integers and FILETIMEs as decimal strings, times as
GeneralizedTime, objectSid and objectGUID as bytes.
"""

from __future__ import annotations

import struct
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from simulator import credentials
from simulator.ldap_directory import DirectoryEntry, Values, norm_dn

DOMAIN_DNS = "corp.example.com"
NETBIOS = "CORP"
BASE_DN = "DC=corp,DC=example,DC=com"
DC_HOST = "dc01.corp.example.com"
SCHEMA = f"CN=Schema,CN=Configuration,{BASE_DN}"
DOMAIN_SID = (3623811015, 3361044348, 30300820)
SEED_USN = 13000
NEVER = "9223372036854775807"
ADMIN_GROUPS = {norm_dn(f"CN=Domain Admins,CN=Users,{BASE_DN}"), norm_dn(f"CN=SOAR Responders,OU=Groups,{BASE_DN}")}
_CREATED = datetime(2023, 3, 6, 9, 15, 0, tzinfo=UTC)
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def generalized_time(when: datetime) -> str:
    """AD's GeneralizedTime form, e.g. 20230306091500.0Z."""
    return when.astimezone(UTC).strftime("%Y%m%d%H%M%S.0Z")


def filetime(when: datetime) -> str:
    """A FILETIME (100 ns since 1601) as AD sends it: a decimal string."""
    return str(int((when - _FILETIME_EPOCH).total_seconds()) * 10_000_000)


def sid(rid: int) -> bytes:
    """The binary objectSid S-1-5-21-<domain>-<rid>."""
    return bytes([1, 5]) + (5).to_bytes(6, "big") + struct.pack("<5I", 21, *DOMAIN_SID, rid)


def _object(dn: str, classes: list[str], category: str, rid: int | None,
            **attrs: Sequence[str | bytes] | str) -> DirectoryEntry:
    cn = dn.split(",", 1)[0].split("=", 1)[1]
    base: dict[str, Values] = {
        "objectClass": list(classes), "cn": [cn], "name": [cn], "distinguishedName": [dn],
        "objectCategory": [f"CN={category},{SCHEMA}"], "instanceType": ["4"],
        "whenCreated": [generalized_time(_CREATED)], "whenChanged": [generalized_time(_CREATED)],
        "uSNCreated": [str(SEED_USN - 100)], "uSNChanged": [str(SEED_USN - 100)],
        "objectGUID": [uuid.uuid5(uuid.NAMESPACE_URL, f"ldap:///{dn}").bytes_le],
    }
    if rid is not None:
        base["objectSid"] = [sid(rid)]
    for k, v in attrs.items():
        base[k] = [v] if isinstance(v, str) else list(v)
    return DirectoryEntry(dn, base)


def _user(cn: str, ou: str, sam: str, rid: int, uac: int, *, groups: list[str], given: str = "", sn: str = "",
          **attrs: str) -> DirectoryEntry:
    dn = f"CN={cn},{ou},{BASE_DN}"
    names = {"givenName": given, "sn": sn} if given else {}
    return _object(dn, ["top", "person", "organizationalPerson", "user"], "Person", rid,
                   sAMAccountName=sam, userPrincipalName=f"{sam}@{DOMAIN_DNS}", displayName=cn,
                   userAccountControl=str(uac), memberOf=[f"{g},{BASE_DN}" for g in groups],
                   primaryGroupID="513", sAMAccountType="805306368", badPwdCount="0", lockoutTime="0",
                   accountExpires=NEVER, pwdLastSet=filetime(datetime(2024, 11, 4, 8, 0, tzinfo=UTC)),
                   lastLogonTimestamp=filetime(datetime(2025, 1, 13, 7, 42, tzinfo=UTC)), **names, **attrs)


GROUPS = {"Domain Admins": ("CN=Users", 512), "Domain Users": ("CN=Users", 513),
          "SOAR Responders": ("OU=Groups", 1110), "Finance": ("OU=Groups", 1111), "VPN Users": ("OU=Groups", 1112),
          "Tier 0 Operators": ("OU=Groups", 1113)}
NESTED = {"Tier 0 Operators": ["CN=Domain Admins,CN=Users"]}  # group -> the groups it is a member of


def seed_entries() -> list[DirectoryEntry]:
    """A fresh copy of every object of the domain, parents before children."""
    dom = BASE_DN
    entries = [
        _object(dom, ["top", "domain", "domainDNS"], "Domain-DNS", None, dc="corp"),
        _object(f"CN=Users,{dom}", ["top", "container"], "Container", None),
        *(_object(f"OU={ou},{dom}", ["top", "organizationalUnit"], "Organizational-Unit", None, ou=ou)
          for ou in ("Staff", "Service Accounts", "Workstations", "Groups")),
        _user("Administrator", "CN=Users", "Administrator", 500, 0x10200, groups=["CN=Domain Admins,CN=Users"],
              description="Built-in account for administering the computer/domain"),
        _user("svc-soar", "OU=Service Accounts", "svc-soar", 1104, 0x10200, groups=["CN=SOAR Responders,OU=Groups"],
              description="SOAR automation: reads accounts, disables/enables them on analyst approval"),
        _user("Tier0 Operator", "OU=Staff", "t0-ops", 1114, 0x10200, groups=["CN=Tier 0 Operators,OU=Groups"],
              description="Tier 0 administration (a domain admin through a nested group)"),
        _user("svc-backup", "OU=Service Accounts", "svc-backup", 1115, 0x10200, groups=[],
              description="Backup agent service account"),
        _user("John Doe", "CN=Users", "jdoe", 1105, 0x200, given="John", sn="Doe",
              groups=["CN=Finance,OU=Groups", "CN=VPN Users,OU=Groups"], mail=f"jdoe@{DOMAIN_DNS}",
              title="Financial Analyst", department="Finance", telephoneNumber="+1 555 0142",
              manager=f"CN=Alice Smith,CN=Users,{dom}"),
        _user("Alice Smith", "CN=Users", "asmith", 1106, 0x200, given="Alice", sn="Smith",
              groups=["CN=VPN Users,OU=Groups"], mail=f"asmith@{DOMAIN_DNS}", title="SOC Analyst",
              department="Security Operations"),
        _user("Maria Lopez", "OU=Staff", "mlopez", 1107, 0x202, given="Maria", sn="Lopez", groups=[],
              mail=f"mlopez@{DOMAIN_DNS}", title="Former Contractor", department="Finance",
              description="Left 2024-12; account kept disabled for 90 days"),
        _object(f"CN=WORKSTATION-042,OU=Workstations,{dom}",
                ["top", "person", "organizationalPerson", "user", "computer"], "Computer", 1108,
                sAMAccountName="WORKSTATION-042$", userAccountControl="4096",
                dNSHostName=f"workstation-042.{DOMAIN_DNS}",
                primaryGroupID="515", sAMAccountType="805306369"),
    ]
    members: dict[str, list[str]] = {}
    for e in entries:
        for g in e.get("memberOf"):
            members.setdefault(norm_dn(str(g)), []).append(e.dn)
    for name, (ou, _) in GROUPS.items():
        for parent in NESTED.get(name, []):
            members.setdefault(norm_dn(f"{parent},{dom}"), []).append(f"CN={name},{ou},{dom}")
    for name, (ou, rid) in GROUPS.items():
        dn = f"CN={name},{ou},{dom}"
        nested = {"memberOf": [f"{p},{dom}" for p in NESTED[name]]} if name in NESTED else {}
        entries.append(_object(dn, ["top", "group"], "Group", rid, sAMAccountName=name, groupType="-2147483646",
                               sAMAccountType="268435456", member=members.get(norm_dn(dn), []), **nested))
    return entries


PASSWORDS = {"svc-soar": credentials.AD_PASSWORD, "jdoe": credentials.AD_USER_PASSWORD,
             "asmith": credentials.AD_USER_PASSWORD, "mlopez": credentials.AD_USER_PASSWORD}
