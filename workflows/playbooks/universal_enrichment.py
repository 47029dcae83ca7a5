"""Universal Alert Enrichment: VirusTotal, MaxMind and Whois for every source IP, VirusTotal for every
destination domain; one enrichment artifact per indicator."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.playbook import Playbook, gather

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult, Artifact, Container, PlaybookInput, PlaybookOutcome


def cef_values(container: Container, key: str) -> list[str]:
    """Distinct values of a CEF key across artifacts."""
    seen: dict[str, None] = {}
    for a in container.artifacts:
        if a.label == "enrichment":
            continue
        v = a.cef.get(key)
        if isinstance(v, str) and v:
            seen.setdefault(v, None)
    return list(seen)


def pick(r: ActionResult, *keys: str) -> Any:
    """The first present summary key."""
    for k in keys:
        if r.status == "success" and r.summary.get(k) not in (None, ""):
            return r.summary[k]
    return None


@workflow.defn(name="UniversalAlertEnrichment")
class UniversalAlertEnrichment(Playbook):
    """Enrich every new event."""

    NAME = "universal_alert_enrichment"
    TITLE = "Universal Alert Enrichment"
    VERSION = "1.4"
    BASELINE_MINUTES = 15.0
    DESCRIPTION = "VirusTotal + MaxMind + Whois for source IPs; VirusTotal for destination domains."

    @workflow.run
    async def run(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run the playbook."""
        return await self.execute(inp)

    async def steps(self, c: Container) -> None:
        """Look everything up in parallel and add enrichment artifacts."""
        ips, domains = cef_values(c, "sourceAddress"), cef_values(c, "destinationDnsDomain")
        if not ips and not domains:
            self.stage(comment="Nothing to enrich: no sourceAddress or destinationDnsDomain artifacts.")
            return
        calls = []
        for ip in ips:
            calls += [self.act("virustotal", "ip reputation", target=ip, ip=ip),
                      self.act("maxmind", "geolocate ip", target=ip, ip=ip),
                      self.act("whois", "whois ip", target=ip, ip=ip)]
        calls += [self.act("virustotal", "domain reputation", target=d, domain=d) for d in domains]
        results = await gather(*calls)
        artifacts, failed = [], 0
        for n, ip in enumerate(ips):
            vt, geo, who = results[3 * n: 3 * n + 3]
            failed += sum(r.status != "success" for r in (vt, geo, who))
            cef = {
                "sourceAddress": ip, "enrichment_source": "VirusTotal, MaxMind, Whois",
                "vt_malicious": pick(vt, "malicious"), "vt_suspicious": pick(vt, "suspicious"),
                "geo_city": pick(geo, "city"), "geo_country": pick(geo, "country_iso_code"),
                "geo_latitude": pick(geo, "latitude"), "geo_longitude": pick(geo, "longitude"),
                "whois_network": pick(who, "network_name", "name"), "whois_cidr": pick(who, "cidr"),
                "whois_country": pick(who, "country"), "whois_abuse_email": pick(who, "abuse_email"),
            }
            artifacts.append(Artifact(name=f"Enrichment: {ip}", label="enrichment", type="ip",
                                      cef={k: v for k, v in cef.items() if v is not None}))
        for n, d in enumerate(domains):
            vt = results[3 * len(ips) + n]
            failed += vt.status != "success"
            cef = {"destinationDnsDomain": d, "enrichment_source": "VirusTotal",
                   "vt_malicious": pick(vt, "malicious"), "vt_suspicious": pick(vt, "suspicious")}
            artifacts.append(Artifact(name=f"Enrichment: {d}", label="enrichment", type="domain",
                                      cef={k: v for k, v in cef.items() if v is not None}))
        note = f" ({failed} lookups failed; see the report)" if failed else ""
        self.stage(artifacts=artifacts,
                   comment=f"Enriched {len(ips)} IP(s) and {len(domains)} domain(s){note}.")
