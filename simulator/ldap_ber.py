"""BER for LDAPv3 (RFC 4511 section 5): the requests a client sends, decoded; the responses, encoded.

LDAP uses a small subset of BER: definite lengths only, the universal types BOOLEAN, INTEGER, OCTET STRING,
NULL, ENUMERATED, SEQUENCE and SET, and application/context tags for the operations and filter choices.
Every length is checked against the bytes that are there, nesting is capped, and anything that does not
fit the grammar raises `BerError`, which the server answers with a Notice of Disconnection.

The requests become plain dataclasses; the directory behind the server never sees BER.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 32  # filter nesting; ldap3 and AD clients send a few levels

# Tag bytes (class | constructed | number).
BOOLEAN, INTEGER, OCTET_STRING, NULL, ENUMERATED, SEQUENCE, SET = 0x01, 0x02, 0x04, 0x05, 0x0A, 0x30, 0x31
UNIVERSAL, APPLICATION, CONTEXT = 0, 1, 2

# Application numbers of the protocol operations (RFC 4511 4.2-4.14).
REQUESTS = {0: "bindRequest", 2: "unbindRequest", 3: "searchRequest", 6: "modifyRequest", 8: "addRequest",
            10: "delRequest", 12: "modDNRequest", 14: "compareRequest", 16: "abandonRequest", 23: "extendedReq"}
RESPONSE_NUMBER = {"bindRequest": 1, "searchRequest": 5, "modifyRequest": 7, "addRequest": 9, "delRequest": 11,
                   "modDNRequest": 13, "compareRequest": 15, "extendedReq": 24}
SEARCH_RESULT_ENTRY, EXTENDED_RESPONSE = 4, 24
CHANGE_OPERATIONS = {0: "add", 1: "delete", 2: "replace"}

# A filter as a plain tuple tree, e.g. ("and", (("equalityMatch", "objectClass", b"user"), ("present", "cn"))).
Filter = tuple[Any, ...]
Attributes = list[tuple[str, list[bytes]]]


class BerError(ValueError):
    """The bytes are not a well-formed LDAP message."""


@dataclass(frozen=True)
class Tlv:
    """One BER element: tag class, constructed flag, tag number and content octets."""

    cls: int
    constructed: bool
    number: int
    content: bytes

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        if not self.constructed:
            raise BerError(f"expected a constructed element, got primitive tag {self.number}")
        return read_all(self.content)

    def integer(self) -> int:
        """INTEGER / ENUMERATED content (two's complement, at most 8 bytes)."""
        if self.constructed or not 1 <= len(self.content) <= 8:
            raise BerError(f"an integer of {len(self.content)} bytes")
        return int.from_bytes(self.content, "big", signed=True)

    def boolean(self) -> bool:
        """BOOLEAN content."""
        if self.constructed or len(self.content) != 1:
            raise BerError("a boolean must be one byte")
        return self.content != b"\x00"

    def text(self) -> str:
        """LDAPString content (UTF-8)."""
        if self.constructed:
            raise BerError("a constructed string")
        try:
            return self.content.decode("utf-8")
        except UnicodeDecodeError:
            raise BerError("an LDAPString that is not UTF-8") from None

    def octets(self) -> bytes:
        """OCTET STRING content."""
        if self.constructed:
            raise BerError("a constructed string")
        return self.content


def read_tlv(data: bytes, pos: int = 0) -> tuple[Tlv, int]:
    """The element starting at `pos`, and the position after it.

    Raises:
        BerError: truncated, indefinite length, or a tag/length longer than LDAP ever needs.
    """
    end = len(data)
    if pos >= end:
        raise BerError("truncated element")
    b = data[pos]
    cls, constructed, number = b >> 6, bool(b & 0x20), b & 0x1F
    pos += 1
    if number == 0x1F:  # high tag number: base-128, at most 4 bytes
        number = 0
        for i in range(5):
            if pos >= end or i == 4:
                raise BerError("bad high tag number")
            number = (number << 7) | (data[pos] & 0x7F)
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    if pos >= end:
        raise BerError("truncated length")
    n = data[pos]
    pos += 1
    if n == 0x80:
        raise BerError("indefinite length (RFC 4511 5.1 allows only the definite form)")
    if n & 0x80:
        size = n & 0x7F
        if size > 4 or pos + size > end:
            raise BerError("bad length")
        n = int.from_bytes(data[pos:pos + size], "big")
        pos += size
    if pos + n > end:
        raise BerError(f"element of {n} bytes with {end - pos} left")
    return Tlv(cls, constructed, number, data[pos:pos + n]), pos + n


def read_all(data: bytes) -> list[Tlv]:
    """Every element of `data`, which they must fill exactly."""
    out, pos = [], 0
    while pos < len(data):
        t, pos = read_tlv(data, pos)
        out.append(t)
    return out


# --- requests ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchRequest:
    """A decoded searchRequest."""

    base: str
    scope: int  # 0 baseObject, 1 singleLevel, 2 wholeSubtree
    size_limit: int
    types_only: bool
    filter: Filter
    attributes: tuple[str, ...]


@dataclass(frozen=True)
class Change:
    """One change of a modifyRequest."""

    operation: str  # "add" | "delete" | "replace"
    attribute: str
    values: tuple[bytes, ...]


@dataclass(frozen=True)
class Message:
    """One request: message id, operation name, its decoded fields, and the critical controls' OIDs."""

    id: int
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    critical_controls: tuple[str, ...] = ()


def _expect(t: Tlv, cls: int, number: int, what: str) -> Tlv:
    if t.cls != cls or t.number != number:
        raise BerError(f"expected {what}")
    return t


def _filter(t: Tlv, depth: int = 0) -> Filter:
    if depth > MAX_DEPTH:
        raise BerError(f"filter nested deeper than {MAX_DEPTH}")
    if t.cls != CONTEXT:
        raise BerError("a filter choice must have a context tag")
    n = t.number
    if n in (0, 1):
        parts = t.children()
        if not parts:
            raise BerError("an empty and/or filter")
        return ("and" if n == 0 else "or", tuple(_filter(p, depth + 1) for p in parts))
    if n == 2:
        inner = t.children()
        if len(inner) != 1:
            raise BerError("not takes one filter")
        return ("not", _filter(inner[0], depth + 1))
    if n == 7:
        return ("present", t.text())
    kids = t.children()
    if n in (3, 5, 6, 8):
        if len(kids) != 2:
            raise BerError("an attribute value assertion has two parts")
        name = {3: "equalityMatch", 5: "greaterOrEqual", 6: "lessOrEqual", 8: "approxMatch"}[n]
        return (name, kids[0].text(), kids[1].octets())
    if n == 4:
        if len(kids) != 2:
            raise BerError("a substring filter has a type and substrings")
        initial, final, middle = None, None, []
        for s in kids[1].children():
            if s.cls != CONTEXT or s.number not in (0, 1, 2):
                raise BerError("bad substring choice")
            if s.number == 0:
                initial = s.octets()
            elif s.number == 2:
                final = s.octets()
            else:
                middle.append(s.octets())
        return ("substrings", kids[0].text(), initial, tuple(middle), final)
    if n == 9:
        rule = {k.number: k for k in kids if k.cls == CONTEXT}
        if 3 not in rule:
            raise BerError("an extensible match needs a matchValue")
        return ("extensibleMatch", rule[1].text() if 1 in rule else None, rule[2].text() if 2 in rule else None,
                rule[3].octets(), rule[4].boolean() if 4 in rule else False)
    raise BerError(f"unknown filter choice [{n}]")


def _fields(kind: str, op: Tlv) -> dict[str, Any]:
    if kind == "bindRequest":
        version, name, auth = op.children()[:3]
        return {"version": version.integer(), "name": name.text(), "auth": auth.number,
                "credentials": auth.content if auth.cls == CONTEXT and auth.number == 0 else b""}
    if kind == "searchRequest":
        base, scope, _deref, size, _time, types_only, flt, attrs = op.children()
        return {"request": SearchRequest(base=base.text(), scope=scope.integer(), size_limit=size.integer(),
                                         types_only=types_only.boolean(), filter=_filter(flt),
                                         attributes=tuple(a.text() for a in attrs.children()))}
    if kind == "modifyRequest":
        dn, changes = op.children()
        out = []
        for c in changes.children():
            operation, modification = c.children()
            attr, values = modification.children()
            if operation.integer() not in CHANGE_OPERATIONS:
                raise BerError("unknown modify operation")
            out.append(Change(CHANGE_OPERATIONS[operation.integer()], attr.text(),
                              tuple(v.octets() for v in values.children())))
        return {"dn": dn.text(), "changes": out}
    if kind == "compareRequest":
        dn, ava = op.children()
        attr, value = ava.children()
        return {"dn": dn.text(), "attribute": attr.text(), "value": value.octets()}
    if kind == "extendedReq":
        parts = {k.number: k for k in op.children() if k.cls == CONTEXT}
        if 0 not in parts:
            raise BerError("an extended request needs a requestName")
        return {"name": parts[0].text()}
    return {}  # unbind, abandon, add, delete, modDN: only their kind matters here


def decode_message(frame: bytes) -> Message:
    """One LDAPMessage (a whole frame) -> `Message`.

    Raises:
        BerError: anything that is not a well-formed LDAP request (a response sent by a client included).
    """
    try:
        envelope, end = read_tlv(frame)
        if end != len(frame) or envelope.cls != UNIVERSAL or envelope.number != 16:
            raise BerError("an LDAPMessage is one SEQUENCE")
        parts = envelope.children()
        if len(parts) < 2:
            raise BerError("an LDAPMessage has a message id and an operation")
        mid = _expect(parts[0], UNIVERSAL, 2, "a message id").integer()
        op = parts[1]
        kind = REQUESTS.get(op.number) if op.cls == APPLICATION else None
        if kind is None:
            raise BerError(f"not a request: tag class {op.cls} number {op.number}")
        critical: list[str] = []
        if len(parts) > 2:
            for c in _expect(parts[2], CONTEXT, 0, "controls").children():
                items = c.children()
                if any(i.number == BOOLEAN and i.boolean() for i in items[1:2]):
                    critical.append(items[0].text())
        return Message(mid, kind, _fields(kind, op), tuple(critical))
    except (ValueError, IndexError) as e:  # IndexError/ValueError: too few parts to unpack
        raise BerError(str(e) or type(e).__name__) from None


# --- responses --------------------------------------------------------------------------------------
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One element with a one-byte tag."""
    return bytes([tag]) + _length(len(content)) + content


def integer(n: int, tag: int = INTEGER) -> bytes:
    """INTEGER (or ENUMERATED) in minimal two's complement."""
    return tlv(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def octets(value: bytes | str, tag: int = OCTET_STRING) -> bytes:
    """OCTET STRING (or LDAPString)."""
    return tlv(tag, value.encode() if isinstance(value, str) else value)


def message(mid: int, app_number: int, content: bytes) -> bytes:
    """An LDAPMessage carrying one constructed protocol operation."""
    return tlv(SEQUENCE, integer(mid) + tlv(0x60 | app_number, content))


def result(mid: int, app_number: int, code: int, diagnostic: str = "", matched_dn: str = "",
           extra: bytes = b"") -> bytes:
    """An LDAPResult-shaped response (bindResponse, searchResDone, modifyResponse, ...)."""
    return message(mid, app_number, integer(code, ENUMERATED) + octets(matched_dn) + octets(diagnostic) + extra)


def search_entry(mid: int, dn: str, attributes: Attributes, types_only: bool = False) -> bytes:
    """A searchResEntry."""
    attrs = b"".join(tlv(SEQUENCE, octets(name) + tlv(SET, b"".join(octets(v) for v in ([] if types_only else vals))))
                     for name, vals in attributes)
    return message(mid, SEARCH_RESULT_ENTRY, octets(dn) + tlv(SEQUENCE, attrs))
