"""MaxMind actions: geolocate ip and test connectivity."""

from __future__ import annotations

from typing import Any

from activities.maxmind.client import Lookup, MaxMindDatabase, MaxMindWebClient
from activities.maxmind.config import MaxMindConfig
from core.connector import ActionContext, action
from core.models import ActionResult
from core.params import IpParams, NoParams

Ctx = ActionContext[MaxMindConfig, MaxMindWebClient | MaxMindDatabase]


def _name(obj: Any) -> str | None:
    """The English name of a GeoIP2 place record (`{"names": {"en": ...}}`)."""
    if not isinstance(obj, dict):
        return None
    names = obj.get("names")
    return names.get("en") if isinstance(names, dict) else None


def summarize(rec: dict[str, Any]) -> dict[str, Any]:
    """The summary fields of a GeoIP2 city record (web service JSON or `Model.to_dict()`)."""
    country = rec.get("country") or {}
    location = rec.get("location") or {}
    subdivisions = rec.get("subdivisions") or [{}]
    return {
        "found": True,
        "city": _name(rec.get("city")),
        "country_iso_code": country.get("iso_code"),
        "country_name": _name(country),
        "continent_code": (rec.get("continent") or {}).get("code"),
        "subdivision": _name(subdivisions[0]) if subdivisions else None,
        "latitude": location.get("latitude"),
        "longitude": location.get("longitude"),
        "accuracy_radius_km": location.get("accuracy_radius"),
        "time_zone": location.get("time_zone"),
        "network": (rec.get("traits") or {}).get("network"),
        # The Splunk MaxMind app's summary keys: city name, subdivision code, country name.
        "state": (subdivisions[0] or {}).get("iso_code") if subdivisions else None,
        "country": _name(country),
    }


def _message(s: dict[str, Any]) -> str:
    """`London, GB`, or whatever part of it is known."""
    place = ", ".join(p for p in (s["city"], s["country_iso_code"]) if p)
    return place or s["country_name"] or "located (no city or country in the record)"


@action("geolocate ip", params=IpParams, read_only=True, target="ip")
async def geolocate_ip(ctx: Ctx, p: IpParams) -> ActionResult:
    """Geolocate an IP: city, country and coordinates (web service or local .mmdb)."""
    lookup: Lookup = await ctx.client.city(p.ip)
    if lookup.record is None:
        summary = {"found": False, "reason": lookup.reason, "network": lookup.network,
                   "source": lookup.source}
        return ActionResult(message=f"No geolocation data for {p.ip} ({lookup.reason})", summary=summary)
    summary = {**summarize(lookup.record), "source": lookup.source, **lookup.extra}
    if summary["network"] is None:
        summary["network"] = lookup.network
    return ActionResult(message=_message(summary), summary=summary, data=[{"ip": p.ip, **lookup.record}])


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Open the .mmdb, or check the web service credentials with a lookup of the caller's own IP (`me`)."""
    client = ctx.client
    if isinstance(client, MaxMindDatabase):
        meta = await client.check()
        return ActionResult(message=f"Opened {meta['database_type']} database {client.path} "
                                    f"(built {meta['build_date']})", summary=meta)
    lookup = await client.check(ctx.config.test_ip)
    where = _message(summarize(lookup.record)) if lookup.record else f"no data, {lookup.reason}"
    probe = ctx.config.test_ip or "this host's address"
    return ActionResult(message=f"Connected to MaxMind at {ctx.config.base_url}; account "
                                f"{ctx.config.account_id} accepted ({probe}: "
                                f"{where})",
                        summary={"source": "web service", **lookup.extra})
