"""The simulator's LDAP server on the wire: what ldap3 sends beyond the connector's flows, malformed input over
TLS and raw TCP (the connection is dropped, the server keeps serving), and the BER decoder under fuzzing."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

import ldap3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ldap3.core.exceptions import (
    LDAPInvalidCredentialsResult,
    LDAPOperationsErrorResult,
    LDAPUnavailableCriticalExtensionResult,
    LDAPUnwillingToPerformResult,
)

from simulator import credentials, ldap_ber
from simulator.active_directory import Directory
from simulator.core import SimState
from simulator.ldap_server import LdapServer
from tests.conftest import Sim

BASE = "DC=corp,DC=example,DC=com"
USERS = "(&(objectCategory=person)(objectClass=user))"


def server(sim: Sim) -> ldap3.Server:
    return ldap3.Server("127.0.0.1", port=sim.ldap_port, use_ssl=True, get_info=ldap3.NONE,
                        tls=ldap3.Tls(validate=ssl.CERT_NONE), connect_timeout=5)


@pytest.fixture
def conn(sim: Sim) -> Iterator[ldap3.Connection]:
    """ldap3 bound as the demo bind account."""
    c = ldap3.Connection(server(sim), user=credentials.AD_BIND_USER, password=credentials.AD_PASSWORD,
                         auto_bind=True, raise_exceptions=True, receive_timeout=5)
    yield c
    c.unbind()


def names(c: ldap3.Connection) -> list[str]:
    return sorted(r["attributes"]["sAMAccountName"][0] for r in c.response if r["type"] == "searchResEntry")


def tls_socket(sim: Sim) -> ssl.SSLSocket:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", sim.ldap_port), timeout=5))
    return s


def read_until_closed(s: socket.socket) -> bytes:
    out = b""
    try:
        while chunk := s.recv(65536):
            out += chunk
    except (ConnectionError, ssl.SSLError, TimeoutError):
        pass
    return out


def bind_still_works(sim: Sim) -> None:
    c = ldap3.Connection(server(sim), user=credentials.AD_BIND_USER, password=credentials.AD_PASSWORD,
                         raise_exceptions=True, receive_timeout=5)
    assert c.bind()
    c.unbind()


@pytest.mark.parametrize("filt, expected", [
    (f"(&{USERS}(userAccountControl:1.2.840.113556.1.4.803:=2))", ["mlopez"]),  # AD's bitwise AND rule
    (f"(&{USERS}(!(userAccountControl:1.2.840.113556.1.4.803:=2))(mail=*))", ["asmith", "jdoe"]),
    (f"(&{USERS}(displayName=*Smi*))", ["asmith"]),
    (f"(&{USERS}(|(department=finance)(title=SOC*)))", ["asmith", "jdoe", "mlopez"]),
    ("(&(objectClass=user)(userAccountControl>=4096)(userAccountControl<=4096))", ["WORKSTATION-042$"]),
    (f"(&{USERS}(userAccountControl<=512))", ["asmith", "jdoe"]),
    # The nested group Tier 0 Operators is a member too (its own memberOf, as on a DC).
    (f"(memberOf=CN=Domain Admins,CN=Users,{BASE})", ["Administrator", "Tier 0 Operators"]),
    ("(objectCategory=group)", ["Domain Admins", "Domain Users", "Finance", "SOAR Responders", "Tier 0 Operators",
                                "VPN Users"]),
])
def test_filters(conn: ldap3.Connection, filt: str, expected: list[str]) -> None:
    conn.search(BASE, filt, attributes=["sAMAccountName"])
    assert names(conn) == expected


def test_scopes_size_limit_and_attribute_selection(conn: ldap3.Connection) -> None:
    conn.search(f"CN=Users,{BASE}", USERS, ldap3.LEVEL, attributes=["sAMAccountName"], size_limit=1)
    assert len(names(conn)) == 1 and conn.result["description"] == "sizeLimitExceeded"
    conn.search(f"CN=John Doe,CN=Users,{BASE}", "(objectClass=*)", ldap3.BASE, attributes=["1.1"])
    assert conn.response[0]["raw_attributes"] == {}
    conn.search(f"CN=John Doe,CN=Users,{BASE}", "(objectClass=*)", ldap3.BASE, attributes=["*"])
    assert {"sAMAccountName", "userAccountControl", "objectSid", "uSNChanged"} <= set(conn.response[0]["attributes"])


def test_compare_whoami_and_refused_operations(conn: ldap3.Connection) -> None:
    jdoe = f"CN=John Doe,CN=Users,{BASE}"
    assert conn.compare(jdoe, "department", "FINANCE") is True
    assert conn.compare(jdoe, "department", "Sales") is False
    assert conn.extend.standard.who_am_i() == "u:CORP\\svc-soar"
    with pytest.raises(LDAPUnwillingToPerformResult):
        conn.add(f"CN=New,CN=Users,{BASE}", "user", {"sAMAccountName": "new"})
    with pytest.raises(LDAPUnwillingToPerformResult):
        conn.delete(jdoe)
    with pytest.raises(LDAPUnwillingToPerformResult, match="read-only"):
        conn.modify(jdoe, {"sAMAccountName": [(ldap3.MODIFY_REPLACE, ["x"])]})
    with pytest.raises(LDAPUnwillingToPerformResult, match="account-type bit"):
        conn.modify(jdoe, {"userAccountControl": [(ldap3.MODIFY_REPLACE, ["2"])]})
    with pytest.raises(LDAPUnavailableCriticalExtensionResult):
        conn.search(BASE, USERS, controls=[("1.2.3.4.5", True, None)])
    conn.search(BASE, "(sAMAccountName=jdoe)", attributes=["sAMAccountName"], controls=[("1.2.3.4.5", False, None)])
    assert names(conn) == ["jdoe"]  # a non-critical control it does not know is ignored


def test_anonymous_reads_only_the_root_dse(sim: Sim) -> None:
    c = ldap3.Connection(server(sim), raise_exceptions=True, receive_timeout=5)
    c.bind()
    c.search("", "(objectClass=*)", ldap3.BASE, attributes=["defaultNamingContext", "supportedLDAPVersion"])
    assert c.response[0]["attributes"]["defaultNamingContext"] == [BASE]
    with pytest.raises(LDAPOperationsErrorResult, match="000004DC"):
        c.search(BASE, "(sAMAccountName=jdoe)")
    with pytest.raises(LDAPInvalidCredentialsResult, match="data 52e"):
        c.rebind(user=credentials.AD_BIND_USER, password="nope")
    c.unbind()


@pytest.mark.parametrize("payload", [
    b"\x00garbage that is not BER at all",
    b"\x30\x84\x7f\xff\xff\xff",                          # announces 2 GiB: dropped before reading it
    b"\x30\x80\x02\x01\x01\x00\x00",                      # indefinite length
    b"\x30\x05\x02\x01\x01\x61\x00",                      # a bindResponse sent by the client
    b"\x30\x0b\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80",  # truncated bindRequest inside a valid frame
    ldap_ber.tlv(0x30, ldap_ber.integer(1) + ldap_ber.tlv(0x63, b"\x04\x00")),  # searchRequest, 1 field of 8
])
def test_malformed_messages_over_tls_are_dropped_and_the_server_keeps_serving(sim: Sim, payload: bytes) -> None:
    with tls_socket(sim) as s:
        s.sendall(payload)
        answer = read_until_closed(s)
    msg, _ = ldap_ber.read_tlv(answer)  # RFC 4511 Notice of Disconnection: messageID 0, protocolError
    mid, op = msg.children()[:2]
    assert mid.integer() == 0 and op.number == ldap_ber.EXTENDED_RESPONSE
    assert op.children()[0].integer() == 2 and b"1.3.6.1.4.1.1466.20036" in op.content
    bind_still_works(sim)


def test_plaintext_and_half_open_connections_do_not_stop_the_server(sim: Sim) -> None:
    with socket.create_connection(("127.0.0.1", sim.ldap_port), timeout=5) as raw:  # LDAP without TLS
        raw.sendall(ldap_ber.tlv(0x30, ldap_ber.integer(1) + ldap_ber.tlv(0x42, b"")))
        read_until_closed(raw)
    idle = tls_socket(sim)  # connected, never speaks
    half = tls_socket(sim)
    half.sendall(b"\x30\x10\x02\x01")  # half a message, then gone
    half.close()
    try:
        bind_still_works(sim)
    finally:
        idle.close()
    assert sim.state()["calls"] == {"active_directory": 1}


async def test_idle_and_stuck_connections_are_dropped() -> None:
    srv = await LdapServer(Directory(SimState()), "127.0.0.1", 0, tls=None, idle_timeout=0.3).start()
    try:
        idle_r, idle_w = await asyncio.open_connection("127.0.0.1", srv.port)
        stuck_r, stuck_w = await asyncio.open_connection("127.0.0.1", srv.port)
        stuck_w.write(b"\x30\x10\x02\x01")  # promises 16 bytes, sends 2
        assert await asyncio.wait_for(idle_r.read(), 5) == b""
        assert await asyncio.wait_for(stuck_r.read(), 5) == b""
        for w in (idle_w, stuck_w):
            w.close()
    finally:
        await srv.close()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_decoder_raises_only_ber_errors(body: bytes) -> None:
    frame = ldap_ber.tlv(0x30, body)
    try:
        ldap_ber.decode_message(frame)
    except ldap_ber.BerError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"\xa0", b"\xa1", b"\xa2", b"\xa3", b"\x87", b"\x04", b"\x30"]), max_size=60),
       st.binary(max_size=40))
def test_decoder_survives_nested_filter_shapes(tags: list[bytes], tail: bytes) -> None:
    inner = tail
    for t in tags:
        inner = ldap_ber.tlv(t[0], inner)
    search = b"\x04\x00\x0a\x01\x02\x0a\x01\x00\x02\x01\x00\x02\x01\x00\x01\x01\x00" + inner + b"\x30\x00"
    try:
        ldap_ber.decode_message(ldap_ber.message(1, 3, search))
    except ldap_ber.BerError:
        pass
