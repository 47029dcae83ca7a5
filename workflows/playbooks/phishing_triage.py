"""Phishing Triage Automation: reputation of every URL, hash and IP in parallel, then block, ticket,
escalate or auto-close. A failed lookup is never treated as clean."""

from __future__ import annotations

from temporalio import workflow

from workflows.playbook import Playbook, gather

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult, Container, PlaybookInput, PlaybookOutcome, Severity, Status

URL_BLOCK_THRESHOLD = 5      # malicious engines above which a URL is blocked and escalated
HASH_CONTAIN_THRESHOLD = 10  # positives above which the containment decision runs
IP_BLOCK_THRESHOLD = 3       # malicious engines above which an IP is blocked


def unique(container: Container, kind: str) -> list[str]:
    """Distinct indicator values of a kind (`url`, `hash`, `ip`) across artifacts, in order."""
    seen: dict[str, None] = {}
    for a in container.artifacts:
        for v in a.indicators().get(kind, []):
            seen.setdefault(v, None)
    return list(seen)


def found(r: ActionResult) -> bool:
    """The vendor knew the indicator (a "no data" answer is not a clean verdict)."""
    return r.status == "success" and r.summary.get("found", True) is not False


@workflow.defn(name="PhishingTriageAutomation")
class PhishingTriageAutomation(Playbook):
    """Triage a reported phishing email."""

    NAME = "phishing_triage_automation"
    TITLE = "Phishing Triage Automation"
    VERSION = "2.3"
    BASELINE_MINUTES = 35.0
    DESCRIPTION = "URL/hash/IP reputation, firewall blocks, ServiceNow ticket, containment decision, auto-close."

    @workflow.run
    async def run(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run the playbook."""
        return await self.execute(inp)

    async def steps(self, c: Container) -> None:
        """Look up everything in parallel, then act on the verdicts."""
        urls, hashes, ips = unique(c, "url"), unique(c, "hash"), unique(c, "ip")
        if not (urls or hashes or ips):
            self.stage(comment="No URL, file hash or IP artifacts to triage; left for an analyst.")
            return
        lookups = (
            [self.act("virustotal", "url reputation", target=u, url=u) for u in urls]
            + [self.act("virustotal", "file reputation", target=h, hash=h) for h in hashes]
            + [self.act("virustotal", "ip reputation", target=i, ip=i) for i in ips]
            + [self.act("abuseipdb", "ip reputation", target=i, ip=i) for i in ips]
        )
        results = await gather(*lookups)
        url_r = results[: len(urls)]
        hash_r = results[len(urls): len(urls) + len(hashes)]
        ip_r = results[len(urls) + len(hashes): len(urls) + len(hashes) + len(ips)]
        abuse_r = results[len(urls) + len(hashes) + len(ips):]

        clean = True
        for r in results:
            if r.status != "success":
                clean = False
                self.stage(comment=f"Lookup failed after retries: {r.message}. Not treated as clean; "
                                   "left open for an analyst.")
            elif not found(r):
                clean = False
        follow_ups = []
        escalate = False
        for url, r in zip(urls, url_r, strict=True):
            if r.status != "success":
                continue
            m, t = int(r.summary.get("malicious", 0)), int(r.summary.get("total_engines", 0))
            if not found(r):
                self.stage(comment=f"No VirusTotal data for {url}; requires analyst review.")
            elif m > URL_BLOCK_THRESHOLD:
                clean, escalate = False, True
                follow_ups.append(self.act("panos", "block url", target=url, url=url))
                follow_ups.append(self.act(
                    "servicenow", "create ticket", target=url,
                    short_description="Phishing - Malicious URL detected",
                    description=f"Container {c.id}: {c.name}\nURL {url} flagged by {m}/{t} engines.",
                    urgency="2", impact="2"))
                self.stage(comment=f"URL flagged by {m}/{t} engines. Blocked on firewall. Escalating to Tier 2.",
                           severity=Severity.HIGH, status=Status.OPEN,
                           disposition="True Positive - Escalated to Tier 2")
            elif m > 0:
                clean = False
                self.stage(comment=f"URL flagged by {m}/{t} engines. Requires analyst review.",
                           promote="Phishing Investigation")
            else:
                self.stage(comment=f"URL clean: 0/{t} engines flagged.")
        for ip, r in zip(ips, ip_r, strict=True):
            m = int(r.summary.get("malicious", 0)) if r.status == "success" else 0
            if m > IP_BLOCK_THRESHOLD:
                clean = False
                follow_ups.append(self.act("panos", "block ip", target=ip, ip=ip))
                self.stage(comment=f"IP {ip} flagged by {m} engines. Blocked on firewall.")
            elif m > 0:
                clean = False
        for ip, r in zip(ips, abuse_r, strict=True):
            score = int(r.summary.get("abuse_confidence_score", 0)) if r.status == "success" else 0
            if score > 0:
                clean = False
                self.stage(comment=f"AbuseIPDB confidence for {ip}: {score}%.")
        malicious_hash = None
        for h, r in zip(hashes, hash_r, strict=True):
            p = int(r.summary.get("positives", r.summary.get("malicious", 0))) if r.status == "success" else 0
            if p > HASH_CONTAIN_THRESHOLD:
                clean, malicious_hash = False, malicious_hash or h
                self.stage(comment=f"File hash {h} flagged by {p} engines.", severity=Severity.HIGH)
            elif p > 0:
                clean = False
        for r in await gather(*follow_ups):
            if r.status != "success":
                self.stage(comment=f"Response action failed: {r.message}")
        if malicious_hash is not None:
            await self.run_playbook("ContainmentDecision", "containment_decision",
                                    {"threat": f"Malicious attachment {malicious_hash}"})
        if clean:
            self.stage(comment="Every lookup came back clean. Auto-closed.", status=Status.CLOSED,
                       disposition="Benign - Auto-closed", auto_resolved=True)
        elif not escalate and malicious_hash is None:
            self.stage(status=Status.OPEN)
