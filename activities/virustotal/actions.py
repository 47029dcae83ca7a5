"""VirusTotal v3 actions: url, file, ip and domain reputation, and test connectivity.

Every reputation action returns the engine counts of `last_analysis_stats` in its summary
(`malicious`, `suspicious`, `harmless`, `undetected`, `total_engines` = the sum of all counts,
including `timeout`, `confirmed-timeout`, `type-unsupported` and `failure`) and the message
"14/90 engines malicious". An indicator VirusTotal has never seen is a successful lookup with
`found: false` and zero counts, so a playbook can tell "unknown" from "clean" (`found: true`, 0 malicious).
"""

from __future__ import annotations

import base64
from typing import Any

from activities.virustotal.client import VirusTotalClient
from activities.virustotal.config import VirusTotalConfig
from core.connector import ActionContext, action
from core.models import ActionResult
from core.params import DomainParams, HashParams, IpParams, NoParams, UrlParams

Ctx = ActionContext[VirusTotalConfig, VirusTotalClient]

STAT_KEYS = ("malicious", "suspicious", "harmless", "undetected")
# Attributes a playbook reads, per object type (the raw object can be hundreds of kB for files).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "file": ("md5", "sha1", "sha256", "size", "type_description", "meaningful_name", "names", "magic",
             "first_submission_date"),
    "url": ("url", "last_final_url", "title", "categories", "times_submitted", "last_submission_date",
            "last_http_response_code"),
    "ip": ("asn", "as_owner", "country", "continent", "network"),
    "domain": ("registrar", "creation_date", "categories", "last_dns_records"),
}
MAX_DETECTIONS = 100


def url_id(url: str) -> str:
    """VirusTotal's URL identifier: unpadded URL-safe base64 of the URL (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(url.encode()).decode().strip("=")


def engine_summary(stats: dict[str, int], kind: str) -> dict[str, Any]:
    """Summary counts from `last_analysis_stats`; `total_engines` counts every category VirusTotal reports."""
    out: dict[str, Any] = {"found": True, **{k: int(stats.get(k, 0)) for k in STAT_KEYS},
                           "total_engines": sum(int(v) for v in stats.values())}
    if kind == "file":
        out["positives"] = out["malicious"]
    return out


def compact(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """The data row: the VirusTotal object as Splunk's VirusTotal v3 app returns it (`id`, `type`, `links`,
    `attributes`, so `data.*.attributes.last_analysis_stats.malicious` datapaths read what they read there),
    trimmed to what triage uses (`last_analysis_results` keeps the engines that flagged it), plus flat
    conveniences: the stats, reputation, type-specific fields and the flagged engines as `detections`."""
    attrs = data.get("attributes") or {}
    results = attrs.get("last_analysis_results") or {}
    flagged = {name: r for name, r in results.items()
               if isinstance(r, dict) and r.get("category") in ("malicious", "suspicious")}
    detections = [{"engine": name, "category": r.get("category"), "result": r.get("result")}
                  for name, r in flagged.items()][:MAX_DETECTIONS]
    kept = {k: attrs[k] for k in ("last_analysis_stats", "last_analysis_date", "reputation", "total_votes", "tags",
                                  *TYPE_FIELDS[kind]) if k in attrs}
    kept["last_analysis_results"] = dict(list(flagged.items())[:MAX_DETECTIONS])
    link = (data.get("links") or {}).get("self")
    row: dict[str, Any] = {
        "type": data.get("type"), "id": data.get("id"), "links": {"self": link}, "link": link,
        "attributes": kept,
        "last_analysis_stats": attrs.get("last_analysis_stats"),
        "last_analysis_date": attrs.get("last_analysis_date"), "reputation": attrs.get("reputation"),
        "total_votes": attrs.get("total_votes"), "tags": attrs.get("tags", []), "detections": detections,
    }
    row.update({k: attrs[k] for k in TYPE_FIELDS[kind] if k in attrs})
    return row


async def lookup(ctx: Ctx, kind: str, indicator: str, path: str) -> ActionResult:
    """Fetch one object and shape the result (shared by the four reputation actions)."""
    data = await ctx.client.get_object(path)
    if data is None:
        summary = engine_summary({}, kind) | {"found": False}
        return ActionResult(message=f"No VirusTotal data for {indicator}", summary=summary,
                            data=[{"indicator": indicator, "found": False}])
    attrs = data["attributes"]
    summary = engine_summary(attrs["last_analysis_stats"], kind)
    summary["reputation"] = attrs.get("reputation")
    return ActionResult(message=f"{summary['malicious']}/{summary['total_engines']} engines malicious",
                        summary=summary, data=[{"indicator": indicator, **compact(data, kind)}])


@action("url reputation", params=UrlParams, read_only=True, target="url")
async def url_reputation(ctx: Ctx, p: UrlParams) -> ActionResult:
    """Get the VirusTotal report of a URL (GET /urls/{base64url id})."""
    return await lookup(ctx, "url", p.url, f"/urls/{url_id(p.url)}")


@action("file reputation", params=HashParams, read_only=True, target="hash")
async def file_reputation(ctx: Ctx, p: HashParams) -> ActionResult:
    """Get the VirusTotal report of a file by MD5, SHA-1 or SHA-256 (GET /files/{hash})."""
    return await lookup(ctx, "file", p.hash, f"/files/{p.hash}")


@action("ip reputation", params=IpParams, read_only=True, target="ip")
async def ip_reputation(ctx: Ctx, p: IpParams) -> ActionResult:
    """Get the VirusTotal report of an IP address (GET /ip_addresses/{ip})."""
    return await lookup(ctx, "ip", p.ip, f"/ip_addresses/{p.ip}")


@action("domain reputation", params=DomainParams, read_only=True, target="domain")
async def domain_reputation(ctx: Ctx, p: DomainParams) -> ActionResult:
    """Get the VirusTotal report of a domain (GET /domains/{domain})."""
    return await lookup(ctx, "domain", p.domain, f"/domains/{p.domain}")


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Check the API key with a cheap authenticated call (GET /files/upload_url)."""
    await ctx.client.upload_url()
    return ActionResult(message=f"Connected to VirusTotal at {ctx.config.base_url}; API key accepted")
