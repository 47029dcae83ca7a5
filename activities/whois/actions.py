"""Whois RDAP actions: whois ip and test connectivity."""

from __future__ import annotations

from activities.whois import rdap
from activities.whois.client import RdapClient
from activities.whois.config import WhoisConfig
from core.connector import ActionContext, action
from core.models import ActionResult
from core.params import IpParams, NoParams

Ctx = ActionContext[WhoisConfig, RdapClient]


@action("whois ip", params=IpParams, read_only=True, target="ip")
async def whois_ip(ctx: Ctx, p: IpParams) -> ActionResult:
    """Registration data of the network holding an IP: name, CIDR, country, abuse contact (RDAP)."""
    answer = await ctx.client.ip(p.ip)
    if answer.body is None:
        summary = {"found": False, "reason": answer.reason, "rdap_url": answer.url,
                   "redirected": bool(answer.redirects)}
        return ActionResult(message=f"No RDAP registration for {p.ip} ({answer.reason})", summary=summary)
    summary = rdap.summarize(answer.body, answer.url, answer.redirects)
    return ActionResult(message=rdap.message(summary), summary=summary,
                        data=[{"ip": p.ip, "rdap_url": answer.url, "redirects": answer.redirects,
                               **answer.body}])


@action("test connectivity", params=NoParams, read_only=True)
async def test_connectivity(ctx: Ctx, p: NoParams) -> ActionResult:
    """Ask the RDAP server for its help document (RFC 9082 /help): no lookup is spent."""
    answer = await ctx.client.help()
    body = answer.body or {}
    conformance = [str(c) for c in body.get("rdapConformance") or []]
    return ActionResult(message=f"Connected to RDAP at {ctx.config.base_url} "
                                f"(conformance: {', '.join(conformance)})",
                        summary={"rdap_url": answer.url, "rdap_conformance": conformance})
