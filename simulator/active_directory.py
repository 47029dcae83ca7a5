"""Fake Active Directory domain controller: LDAPS on a port of its own (default 8636), on the simulator's loop.

The connector (`activities/active_directory`) talks to it exactly as to a DC: SIMPLE bind (UPN, DN or
`CORP\\user`), root DSE, `(&(objectCategory=person)(objectClass=user)(sAMAccountName=...))` searches, and a
`replace` of userAccountControl. The objects are in simulator/ad_entries.py; the wire protocol is
simulator/ldap_server.py. The answers follow AD, including its diagnostics: a wrong password is
invalidCredentials (49) with `data 52e` (`data 533` for a disabled account), a search before a bind is
operationsError `000004DC`, a missing base is noSuchObject (32) with the best match, and a bound account
outside Domain Admins / SOAR Responders gets insufficientAccessRights (50) on a write.

Side effects (GET /_sim/state; `POST /_sim/reset` restores the directory):
    effects.active_directory.disabled_users  sAMAccountNames disabled over LDAP and not enabled since
    effects.active_directory.modifications   every write: dn, sAMAccountName, changes (before/after), by, usn
    effects.active_directory.attributes      {normalised dn: {attribute: values}} written since the reset
    effects.active_directory.binds           {sAMAccountName: successful binds}

Faults (`POST /_sim/faults {"vendor": "active_directory", ...}`) answer the next LDAP operations: status 429
becomes busy (51), 5xx unavailable (52), any other status unwillingToPerform (53); `latency_ms` delays them.
A quota (`POST /_sim/quota`) answers busy beyond it.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from simulator import credentials
from simulator.ad_entries import (
    ADMIN_GROUPS,
    BASE_DN,
    DC_HOST,
    DOMAIN_DNS,
    NETBIOS,
    PASSWORDS,
    SCHEMA,
    SEED_USN,
    generalized_time,
    seed_entries,
)
from simulator.core import SimState, admit
from simulator.ldap_ber import Change, SearchRequest
from simulator.ldap_directory import DirectoryEntry, in_scope, norm_dn, parent_dn
from simulator.ldap_server import (
    NO_SUCH_OBJECT,
    OPERATIONS_ERROR,
    UNWILLING_TO_PERFORM,
    Entry,
    LdapError,
    LdapServer,
    Session,
    self_signed_tls,
)

VENDOR = "active_directory"
ACCOUNTDISABLE = 0x2
ACCOUNT_TYPE_BITS = (0x200, 0x800, 0x1000, 0x2000)  # exactly one: normal, interdomain, workstation, server
WRITABLE = {"useraccountcontrol", "description", "title", "department", "telephonenumber", "displayname", "info"}
INVALID_CREDENTIALS, INSUFFICIENT_ACCESS, INVALID_SYNTAX, NO_SUCH_ATTRIBUTE, VALUE_EXISTS = 49, 50, 21, 16, 20
BUSY, UNAVAILABLE = 51, 52

# AD's own diagnostics (the connector reads the "data NNN" part of the bind failure).
BIND_FAILED = "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {}, v4563"
NEEDS_BIND = ("000004DC: LdapErr: DSID-0C090A5C, comment: In order to perform this operation a successful bind "
              "must be completed on the connection., data 0, v4563")
NO_OBJECT = "0000208D: NameErr: DSID-0310028B, problem 2001 (NO_OBJECT), data 0, best match of:\n\t'{}'\n"
NO_RIGHTS = "00002098: SecErr: DSID-03150F94, problem 4003 (INSUFF_ACCESS_RIGHTS), data 0"
BAD_SYNTAX = "00000057: LdapErr: DSID-0C090F71, comment: Error in attribute conversion operation, data 0, v4563"
WILL_NOT = "0000209A: SvcErr: DSID-031A12D2, problem 5003 (WILL_NOT_PERFORM), data 0: {}"


def _fault_code(status: int) -> int:
    return BUSY if status == 429 else UNAVAILABLE if status >= 500 else UNWILLING_TO_PERFORM


class Directory:
    """The `Backend` of the simulator's LDAP server: the seed objects plus the writes kept in `SimState`."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim
        self._seed = seed_entries()

    # --- state kept in SimState (so /_sim/reset restores the directory) ---------------------------------
    def _written(self) -> dict[str, dict[str, list[str]]]:
        return self.sim.effect(VENDOR, "attributes", {})  # type: ignore[no-any-return]

    def _modifications(self) -> list[dict[str, Any]]:
        return self.sim.effect(VENDOR, "modifications", [])  # type: ignore[no-any-return]

    def highest_usn(self) -> int:
        """highestCommittedUSN: one more per write since the reset."""
        return SEED_USN + len(self._modifications())

    def entries(self) -> list[DirectoryEntry]:
        """Every object as it is now (seed values overlaid with the writes)."""
        written = self._written()
        out = []
        for e in self._seed:
            changed = written.get(e.ndn)
            if changed:
                attrs = {**e.attributes}
                for name, values in changed.items():
                    key = e.name_of(name) or name
                    if values:
                        attrs[key] = list(values)
                    else:
                        attrs.pop(key, None)
                e = DirectoryEntry(e.dn, attrs)
            out.append(e)
        return out

    def find(self, dn: str) -> DirectoryEntry | None:
        """The object named `dn` (any case and spacing)."""
        ndn = norm_dn(dn)
        return next((e for e in self.entries() if e.ndn == ndn), None)

    def _missing(self, dn: str) -> LdapError:
        known = {e.ndn: e.dn for e in self.entries()}
        ndn = norm_dn(dn)
        while ndn and ndn not in known:
            ndn = parent_dn(ndn)
        best = known.get(ndn, "")
        return LdapError(NO_SUCH_OBJECT, NO_OBJECT.format(best), best)

    def root_dse(self) -> DirectoryEntry:
        """The root DSE (readable without a bind)."""
        return DirectoryEntry("", {
            "currentTime": [generalized_time(datetime.now(UTC))], "dnsHostName": [DC_HOST],
            "defaultNamingContext": [BASE_DN], "rootDomainNamingContext": [BASE_DN],
            "namingContexts": [BASE_DN, f"CN=Configuration,{BASE_DN}", SCHEMA],
            "configurationNamingContext": [f"CN=Configuration,{BASE_DN}"], "schemaNamingContext": [SCHEMA],
            "serverName": [f"CN=DC01,CN=Servers,CN=Default-First-Site-Name,CN=Sites,CN=Configuration,{BASE_DN}"],
            "supportedLDAPVersion": ["3", "2"], "supportedSASLMechanisms": ["GSSAPI", "GSS-SPNEGO", "EXTERNAL"],
            "highestCommittedUSN": [str(self.highest_usn())], "isSynchronized": ["TRUE"],
            "domainFunctionality": ["7"], "forestFunctionality": ["7"], "domainControllerFunctionality": ["7"],
            "ldapServiceName": [f"{DOMAIN_DNS}:dc01$@{DOMAIN_DNS.upper()}"],
        })

    # --- Backend ------------------------------------------------------------------------------------
    async def gate(self, session: Session, op: str) -> None:
        """Count the call, apply latency, answer with an injected fault or the quota."""
        fault, wait = await admit(self.sim, VENDOR)
        if fault is not None and fault.status is not None:
            raise LdapError(_fault_code(fault.status), fault.message)
        if wait is not None:
            raise LdapError(BUSY, f"quota exceeded; retry in {wait:.0f}s")

    def record(self, op: str, code: int) -> None:
        """Record the result code, like the HTTP vendors' status codes."""
        self.sim.record(VENDOR, code, f"ldap:{op}")

    def _account(self, name: str) -> DirectoryEntry | None:
        users = [e for e in self.entries() if e.has("objectClass", "user")]
        low = name.strip().casefold()
        if "=" in low:
            ndn = norm_dn(name)
            return next((e for e in users if e.ndn == ndn), None)
        if "@" in low:
            return next((e for e in users if (e.first("userPrincipalName") or "").casefold() == low), None)
        domain, sep, sam = low.partition("\\")
        if sep and domain in (NETBIOS.casefold(), DOMAIN_DNS):
            return next((e for e in users if (e.first("sAMAccountName") or "").casefold() == sam), None)
        return None  # a bare sAMAccountName is not a bind name for AD (data 52e)

    def bind(self, session: Session, name: str, password: bytes) -> str | None:
        """SIMPLE bind: anonymous when both are empty; otherwise the password of the account."""
        if not name and not password:
            return None
        if not password:
            raise LdapError(UNWILLING_TO_PERFORM, "unauthenticated bind (a name without a password) is refused")
        account = self._account(name)
        sam = account.first("sAMAccountName") if account else None
        known = PASSWORDS.get(sam or "")
        if account is None or known is None or not hmac.compare_digest(password, known.encode()):
            raise LdapError(INVALID_CREDENTIALS, BIND_FAILED.format("52e"))
        if int(account.first("userAccountControl") or 0) & ACCOUNTDISABLE:
            raise LdapError(INVALID_CREDENTIALS, BIND_FAILED.format("533"))
        binds = self.sim.effect(VENDOR, "binds", {})
        binds[sam] = binds.get(sam, 0) + 1
        return account.dn

    def _bound(self, session: Session) -> DirectoryEntry:
        account = self.find(session.bound_dn) if session.bound_dn else None
        if account is None:
            raise LdapError(OPERATIONS_ERROR, NEEDS_BIND)
        return account

    def search(self, session: Session, request: SearchRequest) -> list[Entry]:
        """Root DSE (base scope on ""), or the bound account's view of the domain."""
        if request.base == "" and request.scope == 0:
            dse = self.root_dse()
            return [dse.result(request.attributes)] if dse.matches(request.filter) else []
        self._bound(session)
        base = norm_dn(request.base)
        entries = self.entries()
        if base and not any(e.ndn == base for e in entries):
            raise self._missing(request.base)
        return [e.result(request.attributes) for e in entries
                if in_scope(e.ndn, base, request.scope) and e.matches(request.filter)]

    def compare(self, session: Session, dn: str, attribute: str, value: bytes) -> bool:
        """Compare one attribute value."""
        self._bound(session)
        entry = self.find(dn)
        if entry is None:
            raise self._missing(dn)
        if not entry.get(attribute):
            raise LdapError(NO_SUCH_ATTRIBUTE, f"{attribute} is not set on {entry.dn}")
        return entry.has(attribute, value)

    def who_am_i(self, session: Session) -> str:
        """`u:CORP\\sam` of the bound account, "" when anonymous."""
        account = self.find(session.bound_dn) if session.bound_dn else None
        return f"u:{NETBIOS}\\{account.first('sAMAccountName')}" if account else ""

    def modify(self, session: Session, dn: str, changes: Sequence[Change]) -> None:
        """Apply every change or none; a write bumps uSNChanged and whenChanged and is recorded."""
        writer = self._bound(session)
        if not {norm_dn(str(g)) for g in writer.get("memberOf")} & ADMIN_GROUPS:
            raise LdapError(INSUFFICIENT_ACCESS, NO_RIGHTS)
        entry = self.find(dn)
        if entry is None:
            raise self._missing(dn)
        current = {k: [str(v) for v in vals] for k, vals in entry.attributes.items() if k.lower() in WRITABLE}
        before = {k: list(v) for k, v in current.items()}
        for c in changes:
            self._apply(entry, current, c)
        usn = self.highest_usn() + 1
        written = self._written().setdefault(entry.ndn, {})
        for name, values in current.items():
            if values != before.get(name, []):
                written[name] = values
        written["uSNChanged"] = [str(usn)]
        written["whenChanged"] = [generalized_time(datetime.now(UTC))]
        sam = entry.first("sAMAccountName")
        self._modifications().append({
            "dn": entry.dn, "sAMAccountName": sam, "by": writer.first("sAMAccountName"), "usn": usn,
            "changes": [{"attribute": c.attribute, "operation": c.operation,
                         "before": before.get(entry.name_of(c.attribute) or c.attribute, []),
                         "after": current.get(entry.name_of(c.attribute) or c.attribute, [])} for c in changes],
        })
        self._track_disabled(sam, before, current)

    def _apply(self, entry: DirectoryEntry, current: dict[str, list[str]], c: Change) -> None:
        low = c.attribute.lower()
        if low not in WRITABLE:
            raise LdapError(UNWILLING_TO_PERFORM, WILL_NOT.format(
                f"{c.attribute} is read-only in the simulated directory (writable: {', '.join(sorted(WRITABLE))})"))
        try:
            values = [v.decode("utf-8") for v in c.values]
        except UnicodeDecodeError:
            raise LdapError(INVALID_SYNTAX, BAD_SYNTAX) from None
        name = entry.name_of(c.attribute) or next((k for k in current if k.lower() == low), c.attribute)
        have = current.setdefault(name, [])
        if c.operation == "replace":
            have[:] = values
        elif c.operation == "add":
            if any(v.casefold() in {h.casefold() for h in have} for v in values):
                raise LdapError(VALUE_EXISTS, f"{c.attribute} already has that value")
            have.extend(values)
        else:  # delete
            if not have or any(v not in have for v in values):
                raise LdapError(NO_SUCH_ATTRIBUTE, f"{c.attribute} has no such value on {entry.dn}")
            have[:] = [h for h in have if h not in values] if values else []
        if low == "useraccountcontrol":
            _check_uac(have)

    def _track_disabled(self, sam: str | None, before: dict[str, list[str]], after: dict[str, list[str]]) -> None:
        def disabled(attrs: dict[str, list[str]]) -> bool:
            values = next((v for k, v in attrs.items() if k.lower() == "useraccountcontrol"), [])
            return bool(values) and bool(int(values[0]) & ACCOUNTDISABLE)

        users: set[str] = self.sim.effect(VENDOR, "disabled_users", set())
        if sam and disabled(after) and not disabled(before):
            users.add(sam)
        elif sam and not disabled(after):
            users.discard(sam)


def _check_uac(values: list[str]) -> None:
    """userAccountControl: one integer with exactly one account-type bit, as AD insists."""
    if len(values) != 1:
        raise LdapError(UNWILLING_TO_PERFORM, WILL_NOT.format("userAccountControl takes exactly one value"))
    try:
        uac = int(values[0])
    except ValueError:
        raise LdapError(INVALID_SYNTAX, BAD_SYNTAX) from None
    if not 0 <= uac < 1 << 32 or sum(bool(uac & b) for b in ACCOUNT_TYPE_BITS) != 1:
        raise LdapError(UNWILLING_TO_PERFORM, WILL_NOT.format(
            f"userAccountControl {uac} must keep exactly one account-type bit (0x200 for a user)"))


class LdapEndpoint:
    """The running LDAPS listener of the simulated DC."""

    def __init__(self, server: LdapServer, certificate_pem: str) -> None:
        self.server, self.certificate_pem = server, certificate_pem

    @property
    def port(self) -> int:
        """The port it listens on."""
        return self.server.port

    def info(self) -> dict[str, Any]:
        """For `GET /_sim/ldap`: where it is, the base DN, the bind account and the certificate to trust."""
        return {"url": f"ldaps://{self.server.host}:{self.port}", "host": self.server.host, "port": self.port,
                "base_dn": BASE_DN, "bind_user": credentials.AD_BIND_USER,
                "certificate_pem": self.certificate_pem}

    async def close(self) -> None:
        """Stop listening and drop the connections."""
        await self.server.close()


async def start_ldap(sim: SimState, host: str, port: int) -> LdapEndpoint:
    """Start the simulated DC's LDAPS listener on the running loop (port 0: any free port).

    Raises:
        OSError: the port is taken.
    """
    names = [DC_HOST, "localhost", "simulator"]
    ips = ["127.0.0.1", "::1"]
    try:
        ip = ipaddress.ip_address(host)
        if not ip.is_unspecified and str(ip) not in ips:
            ips.append(str(ip))
    except ValueError:
        if host not in names:
            names.append(host)
    tls, pem = self_signed_tls(names, ips)
    server = await LdapServer(Directory(sim), host, port, tls).start()
    return LdapEndpoint(server, pem)
