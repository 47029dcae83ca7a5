"""What the connector creates on the firewall: object names, XPaths and XML elements, and the
validation of the values that end up inside them.

Names follow the Splunk SOAR "Palo Alto Networks Firewall" app with "Phantom" replaced by "SOAR", so
an operator who knows that app finds the same objects: the address object `<ip> Added By SOAR` in the
address group `SOAR Network List`, denied by the rule `SOAR IP Security Policy`; URLs in the custom
URL category `SOAR URL Category`, denied by `SOAR URL Security Policy`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

ADDRESS_SUFFIX = "Added By SOAR"
IP_GROUP = "SOAR Network List"
IP_RULE = "SOAR IP Security Policy"
URL_CATEGORY = "SOAR URL Category"
URL_RULE = "SOAR URL Security Policy"
TAG_COLOR = "color7"
MAX_NAME_LEN = 63
MAX_URL_ENTRY_LEN = 255

# Characters that could end an XPath string literal or an XML element/attribute we build.
UNSAFE = re.compile(r"['\"<>\[\]\\\s\x00-\x1f\x7f]")
HOST_RE = re.compile(r"^(?=.{1,253}$)(\*\.)?([a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?$")


def _reject_unsafe(kind: str, value: str, example: str) -> None:
    if UNSAFE.search(value):
        raise ValueError(f"{kind} must not contain quotes, '<', '>', '[', ']', backslashes or "
                         f"whitespace (e.g. {example}), got {value[:80]!r}")


def validate_block_ip(value: object) -> str:
    """An IPv4/IPv6 address or CIDR network, normalised (`10.0.0.5/24` -> `10.0.0.0/24`).

    Raises:
        ValueError: not an address or network, or it carries characters that could break XML/XPath.
    """
    if not isinstance(value, str):
        raise ValueError(f"ip must be a string, got {type(value).__name__}")
    v = value.strip()
    _reject_unsafe("ip", v, "203.0.113.7 or 203.0.113.0/24")
    if "%" in v:
        raise ValueError(f"ip must not carry an IPv6 zone ('%...'), got {v[:80]!r}")
    try:
        if "/" in v:
            net = ipaddress.ip_network(v, strict=False)
            return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
        return str(ipaddress.ip_address(v))
    except ValueError:
        raise ValueError(f"ip must be an IPv4/IPv6 address or CIDR network (e.g. 203.0.113.7 or "
                         f"2001:db8::/32), got {v[:80]!r}") from None


def validate_block_url(value: object) -> str:
    """An http(s) URL or a bare `host/path`; returns it trimmed.

    Raises:
        ValueError: not a URL with a host, or it carries characters that could break XML/XPath.
    """
    if not isinstance(value, str):
        raise ValueError(f"url must be a string, got {type(value).__name__}")
    v = value.strip()
    _reject_unsafe("url", v, "https://evil.example.com/path")
    url_entry(v)
    return v


def url_entry(url: str) -> str:
    """The custom URL category entry for `url`: no scheme, port, query or fragment (PAN-OS URL lists
    match `host/path`); a bare host gets a trailing `/` so it matches that host only.

    Raises:
        ValueError: no usable host, an unsupported scheme, credentials in the URL or too long.
    """
    candidate = url if "://" in url else f"//{url}"
    try:
        parts = urlsplit(candidate)
        _ = parts.port
    except ValueError:
        raise ValueError(f"url is not a parseable URL: {url[:80]!r}") from None
    if parts.scheme and parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"url must be an http(s) URL or host/path, got scheme {parts.scheme!r}")
    if "@" in parts.netloc:
        raise ValueError("url must not carry credentials (user@host)")
    host = (parts.hostname or "").rstrip(".")
    if not host or not (HOST_RE.match(host) or _is_ip(host)):
        raise ValueError(f"url must name a host like evil.example.com, got {url[:80]!r}")
    entry = f"{host}{parts.path or '/'}"
    if len(entry) > MAX_URL_ENTRY_LEN:
        raise ValueError(f"url is {len(entry)} characters without its scheme; "
                         f"PAN-OS allows {MAX_URL_ENTRY_LEN}")
    return entry


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def address_name(ip: str) -> str:
    """The address object name for a normalised IP/CIDR (PAN-OS names: <= 63 chars, no '/' or ':').

    `203.0.113.7` -> `203.0.113.7 Added By SOAR`; `10.0.0.0/24` -> `10.0.0.0 mask 24 Added By SOAR`.
    """
    text = ip.replace(":", "-").replace("/", " mask ")
    name = f"{text} {ADDRESS_SUFFIX}" if text[0].isalnum() else f"{ADDRESS_SUFFIX} {text}"
    if len(name) > MAX_NAME_LEN:
        name = hashlib.sha256(ip.encode()).hexdigest()[:MAX_NAME_LEN]
    return name


def tag_name(container_id: str | None) -> str:
    """The tag marking objects a case created (`SOAR 42`), or `SOAR` outside a case."""
    if not container_id:
        return "SOAR"
    return "SOAR " + re.sub(r"[^A-Za-z0-9_.-]", "_", container_id)[:50]


def literal(name: str) -> str:
    """`name` as a single-quoted XPath literal (names are validated; this is the last guard)."""
    if "'" in name:
        raise ValueError(f"refusing to put {name!r} in an XPath")
    return f"'{name}'"


class XPaths:
    """XPaths inside one virtual system (`/config/devices/entry/vsys/entry[@name='vsys1']`)."""

    def __init__(self, vsys: str) -> None:
        self.root = f"/config/devices/entry/vsys/entry[@name={literal(vsys)}]"

    def tags(self) -> str:
        """The tag container (entries are set into it)."""
        return f"{self.root}/tag"

    def address(self, name: str) -> str:
        """One address object."""
        return f"{self.root}/address/entry[@name={literal(name)}]"

    def group(self, name: str = IP_GROUP) -> str:
        """One address group."""
        return f"{self.root}/address-group/entry[@name={literal(name)}]"

    def group_member(self, member: str, name: str = IP_GROUP) -> str:
        """One static member of an address group."""
        return f"{self.group(name)}/static/member[text()={literal(member)}]"

    def url_category(self, name: str = URL_CATEGORY) -> str:
        """One custom URL category."""
        return f"{self.root}/profiles/custom-url-category/entry[@name={literal(name)}]"

    def url_member(self, entry: str, name: str = URL_CATEGORY) -> str:
        """One entry of a custom URL category's list."""
        return f"{self.url_category(name)}/list/member[text()={literal(entry)}]"

    def rule(self, name: str) -> str:
        """One security rule."""
        return f"{self.root}/rulebase/security/rules/entry[@name={literal(name)}]"


def member(value: str) -> str:
    """`<member>value</member>`, escaped."""
    return f"<member>{escape(value)}</member>"


def tag_element(tag: str, container_id: str | None) -> str:
    """A tag entry, set into the tag container."""
    comment = f"SOAR container {container_id}" if container_id else "Created by SOAR"
    return (f"<entry name={quoteattr(tag)}><color>{TAG_COLOR}</color>"
            f"<comments>{escape(comment)}</comments></entry>")


def address_element(ip: str, tag: str) -> str:
    """An address object's body: `ip-netmask` (address or CIDR) plus the case tag."""
    return f"<ip-netmask>{escape(ip)}</ip-netmask><tag>{member(tag)}</tag>"


def group_element(address: str) -> str:
    """An address group body adding one static member (PAN-OS `set` merges member lists)."""
    return f"<static>{member(address)}</static>"


def url_category_element(entry: str) -> str:
    """A custom URL category body adding one URL list entry."""
    return (f"<description>Created by SOAR</description><list>{member(entry)}</list>"
            "<type>URL List</type>")


def deny_rule_element(*, destination: str = "any", category: str = "any") -> str:
    """A deny security rule: any zone/source/user/application/service, to `destination`, `category`."""
    anys = "".join(f"<{f}>{member('any')}</{f}>"
                   for f in ("from", "to", "source", "source-user", "application", "service"))
    return (f"{anys}<destination>{member(destination)}</destination><category>{member(category)}</category>"
            "<action>deny</action><description>Created by SOAR, please don't edit</description>")
