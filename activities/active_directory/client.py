"""LDAP client for Active Directory: the one place ldap3 answers and exceptions become our errors.

ldap3 is synchronous, so every call runs in a worker thread (`asyncio.to_thread`) under a lock: one bound
connection per asset, reused across actions and re-bound once when the server has dropped it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import ssl
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import ldap3
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPCommunicationError,
    LDAPException,
    LDAPOperationResult,
    LDAPResponseTimeoutError,
    LDAPStartTLSError,
)

from activities.active_directory.attributes import user_filter
from activities.active_directory.config import ActiveDirectoryConfig
from core.errors import AuthError, ConfigError, NotFound, VendorResponseError, VendorUnavailable, snippet

log = logging.getLogger(__name__)
T = TypeVar("T")

ROOT_DSE_ATTRIBUTES = ["defaultNamingContext", "dnsHostName", "serverName", "vendorName",
                       "domainFunctionality", "supportedLDAPVersion"]
# The Win32 error after "data" in an AD invalidCredentials diagnostic says why the bind failed; AD offers
# no other channel for it (MS-ADTS 3.1.1.3.1.1, "AcceptSecurityContext error, data 52e").
AD_BIND_REASONS = {
    "525": "user not found", "52e": "wrong user name or password", "530": "logon not permitted at this time",
    "531": "logon not permitted from this workstation", "532": "password expired",
    "533": "account disabled", "701": "account expired", "773": "password must be changed",
    "775": "account locked out",
}
AD_DATA_RE = re.compile(r"\bdata ([0-9a-fA-F]{3,8})\b")
UNAVAILABLE_CODES = {3, 51, 52}  # timeLimitExceeded, busy, unavailable
NO_SUCH_OBJECT = 32
REFERRAL = 10
MAX_GROUPS = 1000


class ActiveDirectoryClient:
    """One asset's LDAP connection (SIMPLE bind over LDAPS, StartTLS or plain LDAP)."""

    vendor = "Active Directory"

    def __init__(self, *, asset_name: str, config: ActiveDirectoryConfig) -> None:
        self.asset_name = asset_name
        self.config = config
        self.base_dn: str | None = config.base_dn
        self._conn: ldap3.Connection | None = None
        self._lock = threading.Lock()
        tls = None
        if config.use_ssl or config.start_tls:
            tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if config.verify_ssl else ssl.CERT_NONE,
                            ca_certs_file=config.ca_file if config.verify_ssl else None)
        self._server = ldap3.Server(config.server, port=config.port, use_ssl=config.use_ssl, tls=tls,
                                    get_info=ldap3.NONE, connect_timeout=config.timeout_s)

    @property
    def url(self) -> str:
        """Where the DC is reached, e.g. `ldaps://dc1:636` (StartTLS shows as `ldap://...+starttls`)."""
        cfg = self.config
        scheme = "ldaps" if cfg.use_ssl else "ldap"
        return f"{scheme}://{cfg.server}:{cfg.port}" + ("+starttls" if cfg.start_tls else "")

    # --- operations -------------------------------------------------------------------------------
    async def root_dse(self) -> dict[str, Any]:
        """Read the root DSE (binds first). Single-valued attributes come back as strings."""

        def op(conn: ldap3.Connection) -> dict[str, Any]:
            conn.search("", "(objectClass=*)", ldap3.BASE, attributes=ROOT_DSE_ATTRIBUTES)
            if not conn.response:
                raise VendorResponseError(f"{self.vendor} at {self.url} returned no root DSE entry")
            attrs = conn.response[0].get("attributes", {})
            return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in attrs.items()}

        return await self._call("read the root DSE", op)

    async def find_user(self, username: str, attributes: list[str]) -> tuple[str, dict[str, Any]]:
        """Find one user account by sAMAccountName (or UPN). Returns its DN and raw attributes.

        Raises:
            NotFound: no such user under the base DN (or the base DN does not exist).
            VendorResponseError: the name matches more than one account.
        """
        flt = user_filter(username)

        def op(conn: ldap3.Connection) -> tuple[str, dict[str, Any]]:
            base = self._base(conn)
            # size_limit 2: enough to tell "one" from "ambiguous" without reading a directory's worth.
            try:
                conn.search(base, flt, ldap3.SUBTREE, attributes=attributes, size_limit=2)
            except LDAPOperationResult as e:
                if e.result == NO_SUCH_OBJECT:
                    raise NotFound(f"{self.vendor}: base DN '{base}' does not exist on {self.url}; "
                                   f"fix base_dn of asset '{self.asset_name}' (or remove it to use the "
                                   "domain's defaultNamingContext)") from None
                raise
            entries = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
            if not entries:
                raise NotFound(f"{self.vendor}: no user account '{username}' under '{base}' "
                               f"(asset '{self.asset_name}')")
            if len(entries) > 1:
                raise VendorResponseError(f"{self.vendor}: '{username}' matches more than one account under "
                                          f"'{base}'; use the sAMAccountName")
            return entries[0]["dn"], dict(entries[0].get("attributes", {}))

        return await self._call(f"search for user '{username}'", op)

    async def naming_context(self) -> str:
        """The search base: base_dn, or the domain's defaultNamingContext (read once)."""
        return await self._call("read the naming context", self._base)

    async def group_closure(self, dns: list[str], limit: int = MAX_GROUPS) -> list[dict[str, Any]]:
        """The groups `dns` names and, transitively, the groups they are members of (breadth first).

        Returns:
            One `{"dn", "attributes"}` per group (`sAMAccountName`, `objectSid`, `memberOf`; empty for a
            group this DC cannot show, e.g. one of another domain).

        Raises:
            VendorResponseError: more than `limit` groups (their membership cannot be judged completely).
        """

        def op(conn: ldap3.Connection) -> list[dict[str, Any]]:
            seen: dict[str, dict[str, Any]] = {}
            queue = deque(dns)
            while queue:
                dn = queue.popleft()
                key = " ".join(dn.lower().split())
                if key in seen:
                    continue
                if len(seen) >= limit:
                    raise VendorResponseError(f"{self.vendor}: more than {limit} groups reached through "
                                              "memberOf; the account's group membership cannot be checked")
                try:
                    conn.search(dn, "(objectClass=group)", ldap3.BASE,
                                attributes=["sAMAccountName", "objectSid", "memberOf"])
                except LDAPOperationResult as e:
                    if e.result not in (NO_SUCH_OBJECT, REFERRAL):
                        raise
                    seen[key] = {"dn": dn, "attributes": {}}
                    continue
                found = [r for r in conn.response or [] if r.get("type") == "searchResEntry"]
                attrs = dict(found[0].get("attributes", {})) if found else {}
                seen[key] = {"dn": dn, "attributes": attrs}
                parents = attrs.get("memberOf") or []
                queue.extend(str(p) for p in (parents if isinstance(parents, list) else [parents]))
            return list(seen.values())

        return await self._call("read group memberships", op)

    async def set_user_account_control(self, dn: str, value: int) -> None:
        """Replace userAccountControl of `dn` with `value`."""

        def op(conn: ldap3.Connection) -> None:
            conn.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(value)])]})

        await self._call(f"modify userAccountControl of '{dn}'", op)

    async def aclose(self) -> None:
        """Unbind and close the connection (the CLI and worker shutdown call this)."""
        await asyncio.to_thread(self._close)

    # --- connection management (worker thread) --------------------------------------------------
    async def _call(self, what: str, op: Callable[[ldap3.Connection], T]) -> T:
        return await asyncio.to_thread(self._run, what, op)

    def _run(self, what: str, op: Callable[[ldap3.Connection], T]) -> T:
        with self._lock:
            try:
                return self._with_connection(op)
            except LDAPException as e:
                raise self._translate(e, what) from None
            except OSError as e:
                raise VendorUnavailable(f"{self.vendor} unreachable at {self.url} ({type(e).__name__}) "
                                        f"while trying to {what}; check server/port of asset "
                                        f"'{self.asset_name}'") from None

    def _with_connection(self, op: Callable[[ldap3.Connection], T]) -> T:
        reused = self._conn is not None and not self._conn.closed
        if not reused:
            self._conn = self._connect()
        assert self._conn is not None  # noqa: S101 - narrowing for mypy
        try:
            return op(self._conn)
        except LDAPCommunicationError as e:
            self._close_quietly()
            if not reused or isinstance(e, TimeoutError):
                raise
            # The DC (or a load balancer, or an idle timeout) dropped the connection we kept: bind again once.
            log.info("Active Directory connection of asset %s was dropped; re-binding", self.asset_name)
            self._conn = self._connect()
            return op(self._conn)

    def _connect(self) -> ldap3.Connection:
        cfg = self.config
        log.debug("binding to %s as %s (asset %s)", self.url, cfg.username, self.asset_name)
        conn = ldap3.Connection(
            self._server, user=cfg.username, password=cfg.password.get_secret_value(),
            authentication=ldap3.SIMPLE, client_strategy=ldap3.SYNC, raise_exceptions=True,
            # ldap3 packs receive_timeout into SO_RCVTIMEO as whole seconds (a float crashes it)
            receive_timeout=max(1, math.ceil(cfg.timeout_s)), auto_referrals=False, read_only=False,
        )
        try:
            conn.open(read_server_info=False)
            if cfg.start_tls:
                # read_server_info=False: ldap3 would read the schema before the bind, which AD refuses.
                conn.start_tls(read_server_info=False)
            conn.bind(read_server_info=False)
        except BaseException:
            try:
                conn.unbind()
            except LDAPException:
                pass
            raise
        return conn

    def _base(self, conn: ldap3.Connection) -> str:
        if self.base_dn is None:
            conn.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext"])
            attrs = conn.response[0].get("attributes", {}) if conn.response else {}
            values = attrs.get("defaultNamingContext")
            base = values[0] if isinstance(values, list) and values else values
            if not base:
                raise VendorResponseError(f"{self.vendor} at {self.url} has no defaultNamingContext in its "
                                          f"root DSE; set base_dn of asset '{self.asset_name}'")
            self.base_dn = str(base)
        return self.base_dn

    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.unbind()
            except (LDAPException, OSError):
                pass

    def _close(self) -> None:
        with self._lock:
            self._close_quietly()

    # --- the error boundary ---------------------------------------------------------------------
    def _translate(self, e: LDAPException, what: str) -> Exception:
        """An ldap3 exception -> our error tree. Messages never contain the password."""
        where = f"{self.vendor} at {self.url}"
        if isinstance(e, LDAPOperationResult):
            return self._translate_result(e, what, where)
        if isinstance(e, (ssl.SSLCertVerificationError, LDAPCertificateError)):
            return ConfigError("assets", f"asset '{self.asset_name}'", "configuration.ca_file",
                               f"the TLS certificate of {where} did not verify ({type(e).__name__})",
                               "set ca_file to the PEM file of the CA that issued the DC's certificate "
                               "(verify_ssl false only for a lab)")
        if isinstance(e, (LDAPCommunicationError, LDAPResponseTimeoutError)):
            timed_out = isinstance(e, (TimeoutError, LDAPResponseTimeoutError))
            why = f"timed out after {self.config.timeout_s:g}s" if timed_out else "connection failed"
            return VendorUnavailable(f"{where}: {why} while trying to {what} ({type(e).__name__}); check "
                                     f"server, port and use_ssl/start_tls of asset '{self.asset_name}' "
                                     "and the network")
        if isinstance(e, LDAPStartTLSError):
            return VendorUnavailable(f"{where}: StartTLS failed ({snippet(str(e))}); the DC needs a "
                                     "certificate for StartTLS, or use LDAPS (use_ssl true, port 636)")
        return VendorResponseError(f"{where}: unexpected LDAP client error while trying to {what}: "
                                   f"{type(e).__name__}: {snippet(str(e))}")

    def _translate_result(self, e: LDAPOperationResult, what: str, where: str) -> Exception:
        code, name = e.result, e.description or "?"
        diagnostic = snippet(e.message or "", 200)
        user = self.config.username
        if code == 49:
            m = AD_DATA_RE.search(e.message or "")
            reason = AD_BIND_REASONS.get(m.group(1).lower(), f"AD code {m.group(1)}") if m else "rejected"
            return AuthError(f"{where} rejected the bind of asset '{self.asset_name}' as {user} "
                             f"(invalidCredentials: {reason}); check username and password of the asset "
                             "(UPN, DN or DOMAIN\\user)")
        if code == 50:
            return AuthError(f"{where}: the account {user} of asset '{self.asset_name}' lacks the rights to "
                             f"{what} (insufficientAccessRights: {diagnostic}); delegate 'Read/Write "
                             "userAccountControl' on the users' OU to it, or use an account that has it")
        if code in (8, 13):  # strongerAuthRequired, confidentialityRequired
            return AuthError(f"{where} refused a cleartext SIMPLE bind of asset '{self.asset_name}' "
                             f"({name}); use LDAPS (use_ssl true, port 636) or start_tls true")
        if code == NO_SUCH_OBJECT:
            return NotFound(f"{where}: no such object while trying to {what} ({diagnostic})")
        if code in UNAVAILABLE_CODES:
            return VendorUnavailable(f"{where} is {name} (LDAP result {code}) while trying to {what}: "
                                     f"{diagnostic}")
        return VendorResponseError(f"{where} refused to {what} (LDAP result {code} {name}: {diagnostic})")
