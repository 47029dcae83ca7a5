"""The in-memory directory behind the simulated Active Directory: DNs, scopes, filters and attribute lists.

Matching follows what an AD domain controller does for the attributes it holds:

* attribute names are case-insensitive; string values compare case-insensitively;
* DN-valued attributes compare as normalised DNs; `objectCategory=person` matches the category DN
  `CN=Person,CN=Schema,...` (AD's shorthand for a category's ldapDisplayName);
* integer attributes compare as numbers (`>=`, `<=`), and the AD bitwise matching rules
  `1.2.840.113556.1.4.803` (AND) and `.804` (OR) work, e.g. `(userAccountControl:1.2.840.113556.1.4.803:=2)`;
* binary attributes (objectSid, objectGUID) compare byte for byte.

A filter element the directory cannot evaluate is Undefined, which, as in RFC 4511 4.5.1.7, matches nothing
(and `not` of it matches nothing either).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from simulator.ldap_ber import Filter
from simulator.ldap_server import Entry

BIT_AND, BIT_OR = "1.2.840.113556.1.4.803", "1.2.840.113556.1.4.804"
Values = list[str | bytes]

INTEGER_ATTRIBUTES = {"useraccountcontrol", "badpwdcount", "usnchanged", "usncreated", "pwdlastset", "accountexpires",
                      "lastlogontimestamp", "lockouttime", "logoncount", "primarygroupid", "samaccounttype",
                      "grouptype", "highestcommittedusn", "instancetype", "admincount"}
DN_ATTRIBUTES = {"distinguishedname", "memberof", "member", "manager", "objectcategory", "defaultnamingcontext"}
BINARY_ATTRIBUTES = {"objectsid", "objectguid"}


def split_dn(dn: str) -> list[str]:
    """The RDNs of `dn`, outermost last, with escapes kept (`CN=Doe\\, John,DC=x` -> 2 RDNs)."""
    parts, cur, escaped = [], [], False
    for ch in dn:
        if escaped:
            cur.append(ch)
            escaped = False
        elif ch == "\\":
            cur.append(ch)
            escaped = True
        elif ch in ",;":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if cur or parts:
        parts.append("".join(cur))
    return [p.strip() for p in parts]


def norm_dn(dn: str) -> str:
    """A DN in comparable form: RDNs trimmed, `type = value` spacing removed, lower case."""
    out = []
    for rdn in split_dn(dn):
        t, _, v = rdn.partition("=")
        out.append(f"{t.strip()}={v.strip()}".lower())
    return ",".join(out)


def parent_dn(ndn: str) -> str:
    """The normalised parent of a normalised DN ("" for a top-level one)."""
    parts = split_dn(ndn)
    return ",".join(parts[1:])


def in_scope(ndn: str, base: str, scope: int) -> bool:
    """Whether normalised `ndn` is within `scope` (0 base, 1 one level, 2 subtree) of normalised `base`."""
    if scope == 0:
        return ndn == base
    if scope == 1:
        return parent_dn(ndn) == base
    return ndn == base or (ndn.endswith("," + base) if base else True)


def _text(v: str | bytes) -> str:
    return v if isinstance(v, str) else v.decode("utf-8", "replace")


def _raw(v: str | bytes) -> bytes:
    return v if isinstance(v, bytes) else v.encode()


def _int(v: str | bytes) -> int | None:
    try:
        return int(_text(v))
    except ValueError:
        return None


def _canon(attr: str, v: str | bytes) -> Any:
    """The comparable form of a value of `attr` (lower-cased attribute name)."""
    if attr in BINARY_ATTRIBUTES:
        return _raw(v)
    if attr in INTEGER_ATTRIBUTES:
        return _int(v)
    if attr in DN_ATTRIBUTES:
        return norm_dn(_text(v))
    return _text(v).casefold()


class DirectoryEntry:
    """One object: its DN and attributes (name as stored -> values)."""

    def __init__(self, dn: str, attributes: Mapping[str, Values]) -> None:
        self.dn = dn
        self.ndn = norm_dn(dn)
        self.attributes: dict[str, Values] = {k: list(v) for k, v in attributes.items()}

    def name_of(self, attr: str) -> str | None:
        """The stored spelling of `attr` (case-insensitive), or None when the entry lacks it."""
        low = attr.lower()
        return next((k for k in self.attributes if k.lower() == low), None)

    def get(self, attr: str) -> Values:
        """The values of `attr` ([] when absent)."""
        name = self.name_of(attr)
        return self.attributes[name] if name else []

    def first(self, attr: str) -> str | None:
        """The first value of `attr` as text."""
        values = self.get(attr)
        return _text(values[0]) if values else None

    def has(self, attr: str, value: str | bytes) -> bool:
        """Equality match of one value (the attribute's matching rule)."""
        low = attr.lower()
        if low == "objectcategory" and "=" not in _text(value):  # AD: a category's ldapDisplayName
            want = f"cn={_text(value).strip().casefold()}"
            return any(split_dn(_canon(low, v))[0] == want for v in self.get(attr))
        want = _canon(low, value)
        return any(_canon(low, v) == want for v in self.get(attr))

    def matches(self, f: Filter) -> bool:
        """Whether the entry matches filter `f` (Undefined counts as False)."""
        return self._eval(f) is True

    def _eval(self, f: Filter) -> bool | None:
        kind = f[0]
        if kind == "and":
            results = [self._eval(x) for x in f[1]]
            return False if False in results else (None if None in results else True)
        if kind == "or":
            results = [self._eval(x) for x in f[1]]
            return True if True in results else (None if None in results else False)
        if kind == "not":
            r = self._eval(f[1])
            return None if r is None else not r
        if kind == "present":
            return f[1].lower() == "objectclass" or bool(self.get(f[1]))
        if kind in ("equalityMatch", "approxMatch"):
            return self.has(f[1], f[2]) if self.get(f[1]) else False
        if kind in ("greaterOrEqual", "lessOrEqual"):
            return self._order(kind, f[1], f[2])
        if kind == "substrings":
            return self._substrings(f[1], f[2], f[3], f[4])
        if kind == "extensibleMatch":
            return self._extensible(f[1], f[2], f[3])
        return None

    def _order(self, kind: str, attr: str, value: bytes) -> bool | None:
        low = attr.lower()
        want = _canon(low, value)
        if want is None:
            return None
        have = [c for c in (_canon(low, v) for v in self.get(attr)) if c is not None]
        return any(h >= want if kind == "greaterOrEqual" else h <= want for h in have)

    def _substrings(self, attr: str, initial: bytes | None, middle: Sequence[bytes], final: bytes | None) -> bool:
        for v in self.get(attr):
            s = _text(v).casefold()
            pos = 0
            if initial is not None:
                if not s.startswith(_text(initial).casefold()):
                    continue
                pos = len(initial)
            ok = True
            for m in middle:
                i = s.find(_text(m).casefold(), pos)
                if i < 0:
                    ok = False
                    break
                pos = i + len(m)
            if ok and (final is None or (s[pos:].endswith(_text(final).casefold()))):
                return True
        return False

    def _extensible(self, rule: str | None, attr: str | None, value: bytes) -> bool | None:
        if attr is None:
            return None
        if rule in (BIT_AND, BIT_OR):
            mask = _int(value)
            if mask is None:
                return None
            have = [n for n in (_int(v) for v in self.get(attr)) if n is not None]
            return any((n & mask) == mask if rule == BIT_AND else bool(n & mask) for n in have)
        if rule is None:
            return self.has(attr, value)
        return None

    def select(self, requested: Sequence[str]) -> list[tuple[str, list[bytes]]]:
        """The attributes a search asked for: all (none named, or `*`), none (`1.1`), or the named ones.

        `+` (operational attributes) adds nothing: the entries hold only user attributes.
        """
        named = [a for a in requested if a not in ("*", "1.1", "+")]
        picked = list(self.attributes) if not requested or "*" in requested else []
        for a in named:
            n = self.name_of(a)
            if n and n not in picked:
                picked.append(n)
        return [(n, [_raw(v) for v in self.attributes[n]]) for n in picked if self.attributes[n]]

    def result(self, requested: Sequence[str]) -> Entry:
        """This entry as a search result."""
        return Entry(dn=self.dn, attributes=self.select(requested))
