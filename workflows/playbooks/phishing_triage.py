"""Phishing Triage Automation: reputation of every URL, hash and IP in parallel, then block, ticket,
escalate or auto-close. A failed lookup is never treated as clean."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field

from temporalio import workflow

from workflows.playbook import Playbook, gather, playbook
from workflows.playbooks.containment_decision import ContainmentDecision

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult, Container, Severity, Status

URL_BLOCK_THRESHOLD = 5      # malicious engines above which a URL is blocked and escalated
HASH_CONTAIN_THRESHOLD = 10  # positives above which the containment decision runs
IP_BLOCK_THRESHOLD = 3       # malicious engines above which an IP is blocked


def found(r: ActionResult) -> bool:
    """The vendor knew the indicator (a "no data" answer is not a clean verdict)."""
    return r.status == "success" and r.summary.get("found", True) is not False


def count(r: ActionResult, *keys: str) -> int:
    """The first of the summary counts `keys` of a successful lookup (0 for a failed one)."""
    if r.status != "success":
        return 0
    return next((int(r.summary[k]) for k in keys if r.summary.get(k) is not None), 0)


@dataclass
class Verdict:
    """What the lookups decided: still clean, escalated, the response actions to run, a hash to contain."""

    clean: bool = True
    escalate: bool = False
    responses: list[Awaitable[ActionResult]] = field(default_factory=list)
    malicious_hash: str | None = None


@playbook(name="phishing_triage_automation", title="Phishing Triage Automation", version="2.3",
          baseline_minutes=35)
class PhishingTriageAutomation(Playbook):
    """URL/hash/IP reputation, firewall blocks, ServiceNow ticket, containment decision, auto-close."""

    async def steps(self, c: Container) -> None:
        """Look up everything in parallel, then act on the verdicts."""
        urls, hashes, ips = c.indicators("url"), c.indicators("hash"), c.indicators("ip")
        if not (urls or hashes or ips):
            self.comment("No URL, file hash or IP artifacts to triage; left for an analyst.")
            return
        url_r, hash_r, ip_r, abuse_r = await gather(
            gather(*(self.act("virustotal", "url reputation", url=u) for u in urls)),
            gather(*(self.act("virustotal", "file reputation", hash=h) for h in hashes)),
            gather(*(self.act("virustotal", "ip reputation", ip=i) for i in ips)),
            gather(*(self.act("abuseipdb", "ip reputation", ip=i) for i in ips)),
        )
        v = Verdict()
        for r in (*url_r, *hash_r, *ip_r, *abuse_r):
            self._note_failure(v, r)
        for url, r in zip(urls, url_r, strict=True):
            self._judge_url(v, c, url, r)
        for ip, r in zip(ips, ip_r, strict=True):
            self._judge_ip(v, ip, r)
        for ip, r in zip(ips, abuse_r, strict=True):
            self._judge_abuse(v, ip, r)
        for h, r in zip(hashes, hash_r, strict=True):
            self._judge_hash(v, h, r)
        for r in await gather(*v.responses):
            if r.status != "success":
                self.comment(f"Response action failed: {r.message}")
        if v.malicious_hash is not None:
            await self.run_playbook(ContainmentDecision, threat=f"Malicious attachment {v.malicious_hash}")
        if v.clean:
            self.resolve("Benign - Auto-closed", comment="Every lookup came back clean. Auto-closed.")
        elif not v.escalate and v.malicious_hash is None:
            self.set_status(Status.OPEN)

    def _note_failure(self, v: Verdict, r: ActionResult) -> None:
        if r.status != "success":
            v.clean = False
            self.comment(f"Lookup failed after retries: {r.message}. Not treated as clean; left open for an analyst.")
        elif not found(r):
            v.clean = False

    def _judge_url(self, v: Verdict, c: Container, url: str, r: ActionResult) -> None:
        if r.status != "success":
            return
        m, t = count(r, "malicious"), count(r, "total_engines")
        if not found(r):
            self.comment(f"No VirusTotal data for {url}; requires analyst review.")
        elif m > URL_BLOCK_THRESHOLD:
            v.clean, v.escalate = False, True
            v.responses.append(self.act("panos", "block url", url=url))
            v.responses.append(self.act(
                "servicenow", "create ticket", short_description="Phishing - Malicious URL detected",
                description=f"Container {c.id}: {c.name}\nURL {url} flagged by {m}/{t} engines.",
                urgency="2", impact="2"))
            self.comment(f"URL flagged by {m}/{t} engines. Blocked on firewall. Escalating to Tier 2.")
            self.set_severity(Severity.HIGH)
            self.set_status(Status.OPEN)
            self.set_disposition("True Positive - Escalated to Tier 2")
        elif m > 0:
            v.clean = False
            self.comment(f"URL flagged by {m}/{t} engines. Requires analyst review.")
            self.promote("Phishing Investigation")
        else:
            self.comment(f"URL clean: 0/{t} engines flagged.")

    def _judge_ip(self, v: Verdict, ip: str, r: ActionResult) -> None:
        m = count(r, "malicious")
        if m > IP_BLOCK_THRESHOLD:
            v.clean = False
            v.responses.append(self.act("panos", "block ip", ip=ip))
            self.comment(f"IP {ip} flagged by {m} engines; blocking it on the firewall.")
        elif m > 0:
            v.clean = False

    def _judge_abuse(self, v: Verdict, ip: str, r: ActionResult) -> None:
        score = count(r, "abuse_confidence_score")
        if score > 0:
            v.clean = False
            self.comment(f"AbuseIPDB confidence for {ip}: {score}%.")

    def _judge_hash(self, v: Verdict, h: str, r: ActionResult) -> None:
        p = count(r, "positives", "malicious")
        if p > HASH_CONTAIN_THRESHOLD:
            v.clean, v.malicious_hash = False, v.malicious_hash or h
            self.comment(f"File hash {h} flagged by {p} engines.")
            self.set_severity(Severity.HIGH)
        elif p > 0:
            v.clean = False
