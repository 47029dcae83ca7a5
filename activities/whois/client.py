"""The RDAP HTTP client: the one place registry answers become our errors.

Errors follow RFC 9083 section 6: `{"errorCode": 404, "title": "...", "description": ["..."]}`.
ARIN answers addresses of other registries with a redirect to the responsible RIR (possibly on another
host); `VendorClient` never follows redirects, so this client follows up to `MAX_REDIRECTS` itself and
remembers the chain (the summary reports which registry answered).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from activities._http import VendorClient
from core.errors import NotFound, VendorResponseError, snippet

if TYPE_CHECKING:
    from activities.whois.config import WhoisConfig

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
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
    """`title: description` of an RFC 9083 error body."""
    if not isinstance(body, dict):
        return ""
    title = str(body.get("title") or "")
    desc = body.get("description")
    text = " ".join(str(d) for d in desc) if isinstance(desc, list) else str(desc or "")
    return f"{title}: {text}" if title and text else title or text


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

    async def get(self, path: str) -> tuple[httpx.Response, list[str]]:
        """GET `path` (relative to base_url), following up to MAX_REDIRECTS redirects across hosts.

        Returns:
            The final response and the URLs redirected to, in order.

        Raises:
            VendorUnavailable, VendorResponseError (a redirect loop, a redirect without Location,
            or one to a non-http(s) URL or from https down to http).
        """
        target, hops = path, list[str]()
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self.send("GET", target)
            if resp.status_code not in REDIRECT_STATUSES:
                return resp, hops
            location = resp.headers.get("location")
            if not location:
                raise VendorResponseError(f"RDAP answered HTTP {resp.status_code} without a Location header "
                                          f"({resp.url})")
            nxt = resp.url.join(location)
            if nxt.scheme not in ("http", "https") or (resp.url.scheme == "https" and nxt.scheme != "https"):
                raise VendorResponseError(f"RDAP redirected {resp.url} to {snippet(str(nxt), 100)}; "
                                          "refusing to follow a redirect that is not https")
            hops.append(str(nxt))
            target = str(nxt)
        raise VendorResponseError(f"RDAP redirected more than {MAX_REDIRECTS} times: {' -> '.join(hops)}")

    async def ip(self, ip: str) -> RdapAnswer:
        """GET /ip/{ip}: the `ip network` object of the registry responsible for `ip`.

        A 404 with an RFC 9083 body (reserved, private or unallocated space) is "no registration".

        Raises:
            AuthError, NotFound (a 404 that is not RDAP: base_url is wrong), RateLimited,
            VendorUnavailable, VendorResponseError.
        """
        resp, hops = await self.get(f"/ip/{ip}")
        if resp.status_code == 404:
            body = self._json_or_none(resp)
            if isinstance(body, dict) and "errorCode" in body:
                return RdapAnswer(None, str(resp.url), hops, reason=_rfc9083_detail(body) or "Not Found")
            raise self._not_rdap(resp)
        body = self._ok_json(resp)
        if body.get("objectClassName") != "ip network":
            raise VendorResponseError(f"RDAP answered {resp.url} with an object that is not an 'ip network': "
                                      f"{snippet(json.dumps(body))!r}")
        return RdapAnswer(body, str(resp.url), hops)

    async def help(self) -> RdapAnswer:
        """GET /help (RFC 9082 section 3.1.6): the server's notices and conformance, costs no lookup."""
        resp, hops = await self.get("/help")
        if resp.status_code == 404:
            raise self._not_rdap(resp)
        body = self._ok_json(resp)
        conformance = body.get("rdapConformance")
        if not isinstance(conformance, list) or "rdap_level_0" not in conformance:
            raise VendorResponseError(f"{resp.url} answered JSON without rdapConformance 'rdap_level_0'; "
                                      f"base_url of asset '{self.asset_name}' is not an RDAP service root")
        return RdapAnswer(body, str(resp.url), hops)

    def _not_rdap(self, resp: httpx.Response) -> NotFound:
        return NotFound(f"RDAP: {resp.url} answered 404 without an RDAP error body; check base_url of "
                        f"asset '{self.asset_name}' (an RDAP service root such as "
                        "https://rdap.arin.net/registry)")

    def _ok_json(self, resp: httpx.Response) -> dict[str, Any]:
        self.raise_for_status(resp)
        if resp.status_code != 200:
            raise VendorResponseError(f"RDAP answered HTTP {resp.status_code}, expected 200: "
                                      f"{snippet(resp.content)!r}")
        body = self.parse_json(resp)
        if not isinstance(body, dict):
            raise VendorResponseError(f"RDAP answered a JSON {type(body).__name__}, not an object: "
                                      f"{snippet(resp.content)!r}")
        return body

    @staticmethod
    def _json_or_none(resp: httpx.Response) -> Any:
        try:
            return json.loads(resp.content) if resp.content else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

