"""Universal Alert Enrichment: VirusTotal, MaxMind and Whois for every source IP, VirusTotal for every
destination domain; one enrichment artifact per indicator."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from workflows.playbook import Playbook, gather, playbook

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult, Artifact, Container


def pick(r: ActionResult, *keys: str) -> Any:
    """The first present summary key of a successful result."""
    for k in keys:
        if r.status == "success" and r.summary.get(k) not in (None, ""):
            return r.summary[k]
    return None


def enrichment(name: str, kind: str, cef: dict[str, Any]) -> Artifact:
    """An enrichment artifact with the values that were found."""
    return Artifact(name=f"Enrichment: {name}", label="enrichment", type=kind,
                    cef={k: v for k, v in cef.items() if v is not None})


@playbook(name="universal_alert_enrichment", title="Universal Alert Enrichment", version="1.4",
          baseline_minutes=15)
class UniversalAlertEnrichment(Playbook):
    """VirusTotal + MaxMind + Whois for source IPs; VirusTotal for destination domains."""

    async def steps(self, c: Container) -> None:
        """Look everything up in parallel and add enrichment artifacts."""
        ips = c.values("sourceAddress", exclude_label="enrichment")
        domains = c.values("destinationDnsDomain", exclude_label="enrichment")
        if not ips and not domains:
            self.comment("Nothing to enrich: no sourceAddress or destinationDnsDomain artifacts.")
            return
        per_ip, per_domain = await gather(
            gather(*(gather(self.act("virustotal", "ip reputation", ip=ip),
                            self.act("maxmind", "geolocate ip", ip=ip),
                            self.act("whois", "whois ip", ip=ip)) for ip in ips)),
            gather(*(self.act("virustotal", "domain reputation", domain=d) for d in domains)),
        )
        failed = 0
        for ip, (vt, geo, who) in zip(ips, per_ip, strict=True):
            failed += sum(r.status != "success" for r in (vt, geo, who))
            self.add_artifacts(enrichment(ip, "ip", {
                "sourceAddress": ip, "enrichment_source": "VirusTotal, MaxMind, Whois",
                "vt_malicious": pick(vt, "malicious"), "vt_suspicious": pick(vt, "suspicious"),
                "geo_city": pick(geo, "city"), "geo_country": pick(geo, "country_iso_code"),
                "geo_latitude": pick(geo, "latitude"), "geo_longitude": pick(geo, "longitude"),
                "whois_network": pick(who, "network_name", "name"), "whois_cidr": pick(who, "cidr"),
                "whois_country": pick(who, "country"), "whois_abuse_email": pick(who, "abuse_email"),
            }))
        for d, vt in zip(domains, per_domain, strict=True):
            failed += vt.status != "success"
            self.add_artifacts(enrichment(d, "domain", {
                "destinationDnsDomain": d, "enrichment_source": "VirusTotal",
                "vt_malicious": pick(vt, "malicious"), "vt_suspicious": pick(vt, "suspicious")}))
        note = f" ({failed} lookups failed; see the report)" if failed else ""
        self.comment(f"Enriched {len(ips)} IP(s) and {len(domains)} domain(s){note}.")
