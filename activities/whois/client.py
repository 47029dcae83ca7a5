"""The RDAP HTTP client: the one place registry answers become our errors.

Errors follow RFC 9083 section 6: `{"errorCode": 404, "title": "...", "description": ["..."]}`.
ARIN answers addresses of other registries with a redirect to the responsible RIR (possibly on another
host); `VendorClient` never follows redirects, so this client follows up to `MAX_REDIRECTS` itself and
remembers the chain (the summary reports which registry answered).

A redirect is a URL chosen by whoever answered, so it is followed only to a registry on the public internet
(`redirect_target`): https (or the base URL's own scheme, for the simulator), to a host whose every address
is public (no loopback, private, link-local, CGNAT, multicast, reserved or unspecified address), and the
request goes to the address that was checked (the host name stays in `Host` and TLS SNI/verification), so a
DNS answer that changes between the check and the connection cannot steer it inside. The base URL's own
host is exempt: it is the operator's choice (an on-prem RDAP mirror, the simulator). Bodies that are not
RDAP are never quoted in errors (a metadata service's or an intranet page's content would leak through
them): the error gives their content type and length.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from activities._http import VendorClient
from core.errors import NotFound, VendorResponseError, snippet

if TYPE_CHECKING:
    from activities.whois.config import WhoisConfig

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
CGNAT = ipaddress.ip_network("100.64.0.0/10")
MAX_REDIRECTS = 3
RDAP_ACCEPT = "application/rdap+json, application/json;q=0.8"


@dataclass
class RdapAnswer:
    """An RDAP object (None when the registry has no registration) and where it came from."""

    body: dict[str, Any] | None
    url: str
    redirects: list[str] = field(default_factory=list)
    reason: str = ""


def _rfc9083_detail(body: Any) -> str:
    """`title: description` of an RFC 9083 error body ('' for any other body: it is not quoted)."""
    if not isinstance(body, dict) or "errorCode" not in body:
        return ""
    title = str(body.get("title") or "")
    desc = body.get("description")
    text = " ".join(str(d) for d in desc) if isinstance(desc, list) else str(desc or "")
    return f"{title}: {text}" if title and text else title or text


def is_public(a: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether `a` is a public unicast address (IPv4-mapped IPv6 judged as the IPv4 address it carries)."""
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        a = a.ipv4_mapped
    special = (a.is_private or a.is_loopback or a.is_link_local or a.is_multicast or a.is_reserved
               or a.is_unspecified or (a.version == 4 and a in CGNAT))
    return a.is_global and not special


def describe(resp: httpx.Response) -> str:
    """What a body is, without its content: `text/html, 1234 bytes`."""
    return f"{resp.headers.get('content-type') or 'no content type'}, {len(resp.content)} bytes"


def _where(url: httpx.URL | str) -> str:
    """A URL for messages, without its query (registries put nothing secret there, proxies might)."""
    return snippet(str(url).split("?", 1)[0], 120)


class RdapClient(VendorClient):
    """httpx client for an RDAP service root (no authentication)."""

    vendor = "RDAP"

    def __init__(self, *, asset_name: str, config: WhoisConfig) -> None:
        super().__init__(asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
                         verify=config.verify_ssl,
                         headers={"Accept": RDAP_ACCEPT, "User-Agent": "soar-whois-connector/0.1"})

    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """The RFC 9083 error title and description."""
        return _rfc9083_detail(body)

    def auth_hint(self) -> str:
        """RDAP is public: a 401/403 means the network or a proxy blocks us."""
        return "RDAP needs no credentials; check base_url and whether a proxy or firewall blocks the registry"

    def parse_json(self, resp: httpx.Response) -> Any:
        """The JSON body; a body that is not JSON is described (content type, length), never quoted."""
        try:
            return json.loads(resp.content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VendorResponseError(f"RDAP answered HTTP {resp.status_code} from {_where(resp.url)} with a "
                                      f"body that is not JSON ({describe(resp)})") from None

    async def get(self, path: str) -> tuple[httpx.Response, str, list[str]]:
        """GET `path` (relative to base_url), following up to MAX_REDIRECTS redirects to public registries.

        Returns:
            The final response, the URL it answered (as named, not the checked address it was sent to) and
            the URLs redirected to, in order.

        Raises:
            VendorUnavailable, VendorResponseError (a redirect loop, a redirect without Location, or one
            that `redirect_target` refuses).
        """
        url, pinned, hops = httpx.URL(f"{self.base_url}{path}"), None, list[str]()
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self._get(url, pinned)
            if resp.status_code not in REDIRECT_STATUSES:
                return resp, str(url), hops
            location = resp.headers.get("location")
            if not location:
                raise VendorResponseError(f"RDAP answered HTTP {resp.status_code} without a Location header "
                                          f"({_where(url)})")
            nxt = url.join(location)
            pinned = await self.redirect_target(url, nxt)
            hops.append(str(nxt))
            url = nxt
        raise VendorResponseError(f"RDAP redirected more than {MAX_REDIRECTS} times: {' -> '.join(hops)}")

    async def _get(self, url: httpx.URL, address: str | None) -> httpx.Response:
        if address is None:
            return await self.send("GET", str(url))
        # To the checked address; the name stays in Host and in TLS (SNI and certificate verification).
        return await self.send("GET", str(url.copy_with(host=address)), headers={"Host": url.netloc.decode("ascii")},
                               extensions={"sni_hostname": url.host} if url.scheme == "https" else {})

    async def redirect_target(self, current: httpx.URL, nxt: httpx.URL) -> str | None:
        """Check a redirect: the address to send it to (None: the base URL's own host, sent as usual).

        Raises:
            VendorResponseError: not https (nor the base URL's scheme), a downgrade from https, or a host
                that does not resolve only to public addresses.
        """
        base = httpx.URL(self.base_url)
        refuse = f"RDAP redirected {_where(current)} to {snippet(str(nxt), 100)}; refusing to follow it"
        if nxt.scheme not in {"https", base.scheme} or (current.scheme == "https" and nxt.scheme != "https"):
            raise VendorResponseError(f"{refuse}: a redirect must stay on https")
        if nxt.host.lower() == base.host.lower():
            return None
        addresses = await self.resolve(nxt.host)
        bad = [a for a in addresses if not is_public(a)]
        if not addresses or bad:
            shown = ", ".join(str(a) for a in (bad or addresses)) or "no address"
            raise VendorResponseError(f"{refuse}: {nxt.host} resolves to {shown}, not only to public addresses "
                                      "(a registry never sends us to loopback, private, link-local or metadata "
                                      "addresses)")
        return str(addresses[0])

    async def resolve(self, host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """Every address of `host` (an IP literal is itself)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return []
        return list(dict.fromkeys(ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos))

    async def ip(self, ip: str) -> RdapAnswer:
        """GET /ip/{ip}: the `ip network` object of the registry responsible for `ip`.

        A 404 with an RFC 9083 body (reserved, private or unallocated space) is "no registration".

        Raises:
            AuthError, NotFound (a 404 that is not RDAP: base_url is wrong), RateLimited,
            VendorUnavailable, VendorResponseError.
        """
        resp, url, hops = await self.get(f"/ip/{ip}")
        if resp.status_code == 404:
            body = self._json_or_none(resp)
            if isinstance(body, dict) and "errorCode" in body:
                return RdapAnswer(None, url, hops, reason=_rfc9083_detail(body) or "Not Found")
            raise self._not_rdap(url)
        body = self._ok_json(resp, url)
        if body.get("objectClassName") != "ip network":
            kind = body.get("objectClassName")
            what = f"an RDAP '{str(kind)[:40]}' object" if isinstance(kind, str) else "JSON that is not RDAP"
            raise VendorResponseError(f"RDAP answered {_where(url)} with {what}, not an 'ip network' "
                                      f"({describe(resp)})")
        return RdapAnswer(body, url, hops)

    async def help(self) -> RdapAnswer:
        """GET /help (RFC 9082 section 3.1.6): the server's notices and conformance, costs no lookup."""
        resp, url, hops = await self.get("/help")
        if resp.status_code == 404:
            raise self._not_rdap(url)
        body = self._ok_json(resp, url)
        conformance = body.get("rdapConformance")
        if not isinstance(conformance, list) or "rdap_level_0" not in conformance:
            raise VendorResponseError(f"{resp.url} answered JSON without rdapConformance 'rdap_level_0'; "
                                      f"base_url of asset '{self.asset_name}' is not an RDAP service root")
        return RdapAnswer(body, url, hops)

    def _not_rdap(self, url: str) -> NotFound:
        return NotFound(f"RDAP: {_where(url)} answered 404 without an RDAP error body; check base_url of "
                        f"asset '{self.asset_name}' (an RDAP service root such as "
                        "https://rdap.arin.net/registry)")

    def _ok_json(self, resp: httpx.Response, url: str) -> dict[str, Any]:
        self.raise_for_status(resp)
        if resp.status_code != 200:
            raise VendorResponseError(f"RDAP answered HTTP {resp.status_code} from {_where(url)}, expected 200 "
                                      f"({describe(resp)})")
        body = self.parse_json(resp)
        if not isinstance(body, dict):
            raise VendorResponseError(f"RDAP answered {_where(url)} with a JSON {type(body).__name__}, not an "
                                      f"object ({describe(resp)})")
        return body

    @staticmethod
    def _json_or_none(resp: httpx.Response) -> Any:
        try:
            return json.loads(resp.content) if resp.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

