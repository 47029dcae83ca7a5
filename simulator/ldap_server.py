"""A small LDAPv3 server over a real socket (BER on the wire, LDAPS), for the simulated Active Directory.

Two ways were weighed:

* ldaptor runs on Twisted, whose reactor is a process-wide singleton: it would need a thread (or a process)
  of its own beside uvicorn's asyncio loop, locks around the shared `SimState`, and two new dependencies
  (Twisted, and ldaptor, last released in 2021) for one protocol.
* pyasn1 with the RFC 4511 definitions ldap3 ships (`ldap3.protocol.rfc4511`) encodes responses that ldap3
  reads, but cannot decode the searches our connector sends: `And.componentType = Filter()` is set after
  the `And()` inside `Filter` was built, so `(&(...)(...))` decodes with no component spec ("Read 13 bytes
  instead of expected 19"), and `Not` keeps an untagged tag set. pyasn1 can only express that recursive
  CHOICE by unrolling it to a fixed depth (as pyasn1-modules' rfc2251 does).

So this is an `asyncio.start_server` on the simulator's own loop (LDAP handlers and HTTP routes share
`SimState` with no locks and no second event loop), with the small BER subset LDAP uses read and written by
simulator/ldap_ber.py. This module knows the wire (framing, TLS, sessions, which response answers which
request, size limits, controls); a `Backend` (simulator/active_directory.py) knows the directory. Malformed
input never reaches the backend: a frame that is not one definite-length LDAPMessage in the RFC 4511 grammar
gets a Notice of Disconnection (protocolError) and the connection is dropped; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulator import ldap_ber as ber
from simulator.ldap_ber import Attributes, BerError, Change, Message, SearchRequest

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 1 << 20  # far above any request ldap3 sends; a bigger frame is dropped unread
IDLE_TIMEOUT_S = 900.0  # AD's default MaxConnIdleTime
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"
START_TLS = "1.3.6.1.4.1.1466.20037"
WHO_AM_I = "1.3.6.1.4.1.4203.1.11.3"

SUCCESS, OPERATIONS_ERROR, PROTOCOL_ERROR, SIZE_LIMIT_EXCEEDED = 0, 1, 2, 4
COMPARE_FALSE, COMPARE_TRUE, AUTH_METHOD_NOT_SUPPORTED = 5, 6, 7
UNAVAILABLE_CRITICAL_EXTENSION, NO_SUCH_OBJECT, UNWILLING_TO_PERFORM, OTHER = 12, 32, 53, 80


class LdapError(Exception):
    """An LDAP result other than success, raised by a backend and sent as the operation's response."""

    def __init__(self, code: int, message: str, matched_dn: str = "") -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.matched_dn = code, message, matched_dn


@dataclass
class Session:
    """One client connection: who it is bound as (None: anonymous) and its transport."""

    peer: str
    tls: bool
    bound_dn: str | None = None


@dataclass(frozen=True)
class Entry:
    """A search result: DN and attributes in the order to send them."""

    dn: str
    attributes: Attributes = field(default_factory=list)


class Backend(Protocol):
    """What the server asks of a directory. Every method raises `LdapError` for a non-success result."""

    async def gate(self, session: Session, op: str) -> None:
        """Called before every operation (counting, latency, injected faults)."""

    def record(self, op: str, code: int) -> None:
        """Called after every operation with the result code sent."""

    def bind(self, session: Session, name: str, password: bytes) -> str | None:
        """SIMPLE bind; returns the bound DN (None for an anonymous bind)."""

    def search(self, session: Session, request: SearchRequest) -> list[Entry]:
        """Every matching entry (the server applies the size limit)."""

    def modify(self, session: Session, dn: str, changes: Sequence[Change]) -> None:
        """Apply all changes, or none."""

    def compare(self, session: Session, dn: str, attribute: str, value: bytes) -> bool:
        """Whether `dn` has `attribute` = `value`."""

    def who_am_i(self, session: Session) -> str:
        """RFC 4532 authzId of the session ("" when anonymous)."""


# --- TLS --------------------------------------------------------------------------------------------
def self_signed_tls(dns_names: Sequence[str], ips: Sequence[str]) -> tuple[ssl.SSLContext, str]:
    """A server TLS context with a fresh self-signed P-256 certificate, and that certificate as PEM.

    The key exists only in memory and, for the moment `load_cert_chain` needs files, in a private temp dir.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0]),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SOAR vendor simulator")])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns_names]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    with tempfile.TemporaryDirectory(prefix="soar-sim-ldap-") as d:
        (Path(d) / "cert.pem").write_bytes(cert_pem)
        (Path(d) / "key.pem").write_bytes(key_pem)
        ctx.load_cert_chain(Path(d) / "cert.pem", Path(d) / "key.pem")
    return ctx, cert_pem.decode()


# --- framing ----------------------------------------------------------------------------------------
async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """One whole LDAPMessage as sent (tag, definite length, content); None at EOF.

    Raises:
        BerError: not a SEQUENCE, an indefinite or oversized length (checked before reading the body).
    """
    first = await reader.read(1)
    if not first:
        return None
    if first[0] != ber.SEQUENCE:
        raise BerError(f"an LDAPMessage starts with 0x30, got 0x{first.hex()}")
    head = await reader.readexactly(1)
    n = head[0]
    if n == 0x80:
        raise BerError("indefinite length (RFC 4511 5.1 allows only the definite form)")
    length_bytes = b""
    if n & 0x80:
        if n & 0x7F > 4:
            raise BerError(f"a length of {n & 0x7F} bytes")
        length_bytes = await reader.readexactly(n & 0x7F)
        n = int.from_bytes(length_bytes, "big")
    if n > MAX_MESSAGE_BYTES:
        raise BerError(f"a message of {n} bytes (limit {MAX_MESSAGE_BYTES})")
    return first + head + length_bytes + await reader.readexactly(n)


class LdapServer:
    """LDAPv3 over TCP (LDAPS when given a TLS context) on the running asyncio loop."""

    def __init__(self, backend: Backend, host: str, port: int, tls: ssl.SSLContext | None,
                 idle_timeout: float = IDLE_TIMEOUT_S) -> None:
        self.backend, self.host, self.port, self.tls, self.idle_timeout = backend, host, port, tls, idle_timeout
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> LdapServer:
        """Listen; with port 0 the kernel picks one (see `port` afterwards).

        Raises:
            OSError: the port is taken (the message says which setting moves it).
        """
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self.port, ssl=self.tls,
                                                      ssl_handshake_timeout=10 if self.tls else None)
        except OSError as e:
            raise OSError(e.errno, f"cannot listen for LDAP on {self.host}:{self.port} ({e.strerror}); set "
                                   "SOAR_SIMULATOR_LDAP_PORT (or `soar simulator --ldap-port`) to a free port") from e
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is not None:
            self._server.close()
        for w in list(self._conns):
            w.close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        session = Session(peer=f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer),
                          tls=self.tls is not None)
        self._conns.add(writer)
        try:
            while True:
                try:  # idle, or stuck half-way through a message: AD drops it too (MaxConnIdleTime)
                    frame = await asyncio.wait_for(read_frame(reader), self.idle_timeout)
                except TimeoutError:
                    return
                if frame is None:
                    return
                out, keep_open = await self._dispatch(session, ber.decode_message(frame))
                writer.write(b"".join(out))
                await writer.drain()
                if not keep_open:
                    return
        except BerError as e:
            log.info("LDAP client %s broke the protocol (%s); disconnecting", session.peer, e)
            notice = ber.octets(NOTICE_OF_DISCONNECTION, 0x8A)  # responseName [10]
            with contextlib.suppress(Exception):
                writer.write(ber.result(0, ber.EXTENDED_RESPONSE, PROTOCOL_ERROR, str(e), extra=notice))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, TimeoutError):
            pass  # the client went away mid-message
        finally:
            self._conns.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(self, session: Session, msg: Message) -> tuple[list[bytes], bool]:
        """Responses to one request, and whether the connection stays open."""
        if msg.kind in ("unbindRequest", "abandonRequest"):
            return [], msg.kind == "abandonRequest"
        out: list[bytes] = []
        code, message, matched, extra = SUCCESS, "", "", b""
        try:
            if msg.critical_controls:
                raise LdapError(UNAVAILABLE_CRITICAL_EXTENSION,
                                f"critical control {msg.critical_controls[0]} is not supported")
            await self.backend.gate(session, msg.kind)
            code, extra, out = self._operation(session, msg)
        except LdapError as e:
            code, message, matched = e.code, e.message, e.matched_dn
            if msg.kind == "bindRequest":
                session.bound_dn = None  # a failed bind leaves the connection anonymous (RFC 4511 4.2.1)
        except Exception:
            log.exception("LDAP %s from %s failed in the simulator", msg.kind, session.peer)
            code, message, out = OTHER, "internal error in the simulator's directory", []
        self.backend.record(msg.kind, code)
        out.append(ber.result(msg.id, ber.RESPONSE_NUMBER[msg.kind], code, message, matched, extra))
        return out, True

    def _operation(self, session: Session, msg: Message) -> tuple[int, bytes, list[bytes]]:
        """Run one request: (result code, extra response fields, messages sent before the final one)."""
        b, f = self.backend, msg.fields
        if msg.kind == "bindRequest":
            if f["version"] != 3:
                raise LdapError(PROTOCOL_ERROR, "only LDAP version 3 is supported")
            if f["auth"] != 0:
                raise LdapError(AUTH_METHOD_NOT_SUPPORTED, "only SIMPLE bind is supported")
            session.bound_dn = b.bind(session, f["name"], f["credentials"])
            return SUCCESS, b"", []
        if msg.kind == "searchRequest":
            request: SearchRequest = f["request"]
            entries = b.search(session, request)
            limit = request.size_limit or len(entries)
            out = [ber.search_entry(msg.id, e.dn, e.attributes, request.types_only) for e in entries[:limit]]
            return (SIZE_LIMIT_EXCEEDED if len(entries) > limit else SUCCESS), b"", out
        if msg.kind == "modifyRequest":
            b.modify(session, f["dn"], f["changes"])
            return SUCCESS, b"", []
        if msg.kind == "compareRequest":
            same = b.compare(session, f["dn"], f["attribute"], f["value"])
            return (COMPARE_TRUE if same else COMPARE_FALSE), b"", []
        if msg.kind == "extendedReq":
            if f["name"] == WHO_AM_I:
                return SUCCESS, ber.octets(b.who_am_i(session), 0x8B), []  # responseValue [11]
            if f["name"] == START_TLS:
                raise LdapError(OPERATIONS_ERROR, "TLS is already active on this connection (LDAPS)")
            raise LdapError(PROTOCOL_ERROR, f"extended operation {f['name']} is not supported")
        raise LdapError(UNWILLING_TO_PERFORM, f"the simulator's directory has a fixed set of entries ({msg.kind})")
