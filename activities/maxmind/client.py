"""MaxMind GeoIP2 lookups: the web service client and the local .mmdb reader. This module is the one
place MaxMind's answers (HTTP or database) become our errors.

Web service errors come as `{"code": "IP_ADDRESS_RESERVED", "error": "..."}` with content type
`application/vnd.maxmind.com-error+json`; 429 and 503 come without a body. A reserved/private IP
(400 IP_ADDRESS_RESERVED) or an IP not in the data (404 IP_ADDRESS_NOT_FOUND) is "no data", not an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import geoip2.database
import geoip2.errors
import httpx
import maxminddb
from geoip2.models import Country

from activities._http import VendorClient
from core.errors import AuthError, ConfigError, InvalidParameter, VendorResponseError, snippet

if TYPE_CHECKING:
    from activities.maxmind.config import MaxMindConfig

CITY_PATH = "/geoip/v2.1/city/{ip}"
NO_DATA_CODES = {"IP_ADDRESS_RESERVED", "IP_ADDRESS_NOT_FOUND"}
AUTH_CODES = {"AUTHORIZATION_INVALID", "LICENSE_KEY_REQUIRED", "ACCOUNT_ID_REQUIRED", "PERMISSION_REQUIRED"}


@dataclass
class Lookup:
    """One lookup: the GeoIP2 record (web service JSON shape) or None with the reason there is none."""

    record: dict[str, Any] | None
    source: str
    reason: str = ""
    network: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _error_body(resp: httpx.Response) -> tuple[str, str]:
    """`(code, error)` of MaxMind's error envelope, or empty strings."""
    try:
        body = json.loads(resp.content) if resp.content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("code") or ""), str(body.get("error") or "")


class MaxMindWebClient(VendorClient):
    """httpx client for the GeoIP2 Precision web service, HTTP Basic `account_id:license_key`."""

    vendor = "MaxMind"

    def __init__(self, *, asset_name: str, config: MaxMindConfig) -> None:
        assert config.account_id is not None and config.license_key is not None  # checked by the config model
        # The official client sends `Accept: application/json`; a non-matching Accept gets a 415.
        super().__init__(
            asset_name=asset_name, base_url=config.base_url, timeout_s=config.timeout_s,
            verify=config.verify_ssl,
            auth=(config.account_id, config.license_key.get_secret_value()),
            headers={"Accept": "application/json", "User-Agent": "soar-maxmind-connector/0.1"},
        )
        self.account_id = config.account_id

    def error_detail(self, resp: httpx.Response, body: Any) -> str:
        """`CODE: human text` from `{"code", "error"}`."""
        if not isinstance(body, dict):
            return ""
        code, error = str(body.get("code") or ""), str(body.get("error") or "")
        return f"{code}: {error}" if code and error else code or error

    def auth_hint(self) -> str:
        """What to check on a 401."""
        return ("check configuration.account_id and configuration.license_key of the asset "
                "(GeoLite keys need base_url https://geolite.info)")

    async def city(self, ip: str) -> Lookup:
        """GET /geoip/v2.1/city/{ip} (`ip` may be `me`).

        Raises:
            AuthError, InvalidParameter, RateLimited, VendorUnavailable, VendorResponseError.
        """
        resp = await self.send("GET", CITY_PATH.format(ip=ip))
        code, error = _error_body(resp)
        if resp.status_code in (400, 404) and code in NO_DATA_CODES:
            return Lookup(None, "web service", reason=f"{code}: {error}" if error else code)
        if resp.status_code == 400 and code == "IP_ADDRESS_INVALID":
            raise InvalidParameter(f"MaxMind rejected the IP address ({code}: {snippet(error, 200)})")
        if resp.status_code in (402, 403) and code in AUTH_CODES:
            raise AuthError(f"MaxMind rejected the request of asset '{self.asset_name}' "
                            f"(HTTP {resp.status_code}: {code}: {snippet(error, 200)}); "
                            "the license does not include the GeoIP2 City service")
        if resp.status_code == 402:
            raise VendorResponseError(f"MaxMind account {self.account_id} is out of queries "
                                      f"(HTTP 402: {code or 'INSUFFICIENT_FUNDS'}); add funds to the account")
        self.raise_for_status(resp)
        if resp.status_code != 200:
            raise VendorResponseError(f"MaxMind answered HTTP {resp.status_code}, expected 200: "
                                      f"{snippet(resp.content)!r}")
        body = self.parse_json(resp)
        if not isinstance(body, dict) or not isinstance(body.get("traits", {}), dict):
            raise VendorResponseError("MaxMind answered a city lookup with a body that is not a GeoIP2 "
                                      f"record: {snippet(resp.content)!r}")
        traits = body.get("traits") or {}
        remaining = (body.get("maxmind") or {}).get("queries_remaining")
        return Lookup(body, "web service", network=traits.get("network"),
                      extra={"queries_remaining": remaining} if remaining is not None else {})

    async def check(self, ip: str | None = None) -> Lookup:
        """Look up `ip` (default: the caller's own address, `me`): any answer but 401/402/5xx proves the
        credentials."""
        return await self.city(ip or "me")


class MaxMindDatabase:
    """A local GeoIP2/GeoLite2 .mmdb opened with `geoip2.database.Reader` (memory-mapped, no HTTP)."""

    vendor = "MaxMind database"

    def __init__(self, *, asset_name: str, path: str) -> None:
        self.asset_name, self.path = asset_name, path
        where = f"asset '{asset_name}'"
        fix = "point configuration.database_path at a GeoIP2/GeoLite2 City (or Country) .mmdb file"
        try:
            self.reader = geoip2.database.Reader(path)
        except OSError as e:
            raise ConfigError("assets", where, "configuration.database_path",
                              f"cannot open {path}: {e.strerror or e}", fix) from None
        except (maxminddb.InvalidDatabaseError, ValueError) as e:
            raise ConfigError("assets", where, "configuration.database_path",
                              f"{path} is not a MaxMind DB file ({snippet(str(e), 80)})", fix) from None
        self.database_type = self.reader.metadata().database_type
        self._query: Callable[[str], Country]
        if "Enterprise" in self.database_type:
            self._query = self.reader.enterprise
        elif "City" in self.database_type:
            self._query = self.reader.city
        elif "Country" in self.database_type:
            self._query = self.reader.country
        else:
            self.reader.close()
            raise ConfigError("assets", where, "configuration.database_path",
                              f"{path} is a {self.database_type} database, which has no locations", fix)

    async def city(self, ip: str) -> Lookup:
        """Look `ip` up in the database (a memory-mapped read: fast enough to do inline).

        Raises:
            InvalidParameter: not an IP address. VendorResponseError: the database is corrupt.
        """
        try:
            record = self._query(ip)
        except geoip2.errors.AddressNotFoundError as e:
            net = str(e.network) if e.network is not None else None
            return Lookup(None, "database", reason=f"not in the {self.database_type} database", network=net)
        except ValueError as e:
            raise InvalidParameter(f"MaxMind database lookup: {snippet(str(e), 120)}") from None
        except maxminddb.InvalidDatabaseError as e:
            raise VendorResponseError(f"{self.path} is corrupt ({snippet(str(e), 120)}); "
                                      "download a fresh copy of the database") from None
        data = record.to_dict()
        net = getattr(record.traits, "network", None)
        return Lookup(data, "database", network=str(net) if net is not None else None)

    async def check(self) -> dict[str, Any]:
        """The database's metadata (type, build date, IP version, node count)."""
        m = self.reader.metadata()
        return {"database_type": m.database_type, "ip_version": m.ip_version, "node_count": m.node_count,
                "build_date": datetime.fromtimestamp(m.build_epoch, UTC).date().isoformat(),
                "languages": list(m.languages)}

    async def aclose(self) -> None:
        """Unmap the database file."""
        self.reader.close()


def open_client(*, asset_name: str, config: MaxMindConfig) -> MaxMindWebClient | MaxMindDatabase:
    """The asset's client: the local database when `database_path` is set, else the web service.

    Raises:
        ConfigError: the database file cannot be opened or has no locations.
    """
    if config.database_path is not None:
        return MaxMindDatabase(asset_name=asset_name, path=config.database_path)
    return MaxMindWebClient(asset_name=asset_name, config=config)
