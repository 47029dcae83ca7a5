"""Suspicious Login: the README's playbook example (tests/workflows/test_readme_playbook.py runs it)."""

from __future__ import annotations

from temporalio import workflow

from workflows.playbook import Playbook, gather, playbook

with workflow.unsafe.imports_passed_through():
    from core.approvals import AuthorizedAction
    from core.models import Container, Status, Target


@playbook(name="suspicious_login", title="Suspicious Login", version="1.0", baseline_minutes=20)
class SuspiciousLogin(Playbook):
    """Reputation of a login's source IP; disables the account only if an analyst says so."""

    async def steps(self, c: Container) -> None:
        ip, user = c.first("sourceAddress"), c.first("sourceUserName", "destinationUserName")
        if not ip:
            self.comment("No source address to check.")
            return
        vt, abuse = await gather(self.act("virustotal", "ip reputation", ip=ip),
                                 self.act("abuseipdb", "ip reputation", ip=ip))
        self.comment(f"VirusTotal: {vt.message}; AbuseIPDB: {abuse.message}")
        if vt.status != "success" or abuse.status != "success":
            self.set_status(Status.OPEN)  # a failed lookup is never "clean": an analyst looks
            return
        if vt.summary.get("malicious", 0) <= 3 or not user:
            self.resolve("False Positive - Benign Login", "Source address is clean.")
            return
        disable = [AuthorizedAction(action="disable user", target=user, connector="active_directory")]
        d = await self.prompt(
            role="soc_tier2", message=f"Login of {user} from {ip} ({vt.message}). Disable the account?",
            options=["Disable Account", "Ignore"], on_timeout="Ignore",
            authorizes={"Disable Account": disable},  # what the signed approval allows, exactly
            targets=[Target(kind="user", value=user, source=c.provenance(user)),
                     Target(kind="ip", value=ip, source=c.provenance(ip))])
        if d.option == "Disable Account":
            r = await self.act("active_directory", "disable user", username=user, approval=d)
            self.comment(f"Disable {user}: {r.message}")
            self.set_disposition("True Positive - Account Disabled" if r.status == "success"
                                 else "True Positive - Containment Incomplete")
        else:
            self.set_disposition("Under Review - Not Contained")
        self.set_status(Status.OPEN)
