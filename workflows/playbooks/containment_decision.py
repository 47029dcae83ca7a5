"""Containment Decision: ask Tier 2 whether to isolate the host and/or disable the account.

The brief forbids autonomous containment: CrowdStrike quarantine and AD disable run only with the
approval an analyst's answer produces. On timeout the safe default is `Monitor Only`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.playbook import Playbook, gather, playbook

with workflow.unsafe.imports_passed_through():
    from core.approvals import AuthorizedAction
    from core.models import Container, Status, Target

ISOLATE, DISABLE, BOTH, MONITOR = "Isolate Host", "Disable Account", "Both", "Monitor Only"


@playbook(name="containment_decision", title="Containment Decision", version="1.2", baseline_minutes=25)
class ContainmentDecision(Playbook):
    """Prompts Tier 2 to isolate the host (CrowdStrike) and/or disable the account (AD)."""

    async def steps(self, c: Container) -> None:
        """Prompt, then act on the decision."""
        host = c.first("sourceHostName", "destinationHostName")
        ip = c.first("sourceAddress")
        user = c.first("sourceUserName", "destinationUserName")
        threat = self.inp.params.get("threat") or c.name
        if not host and not user:
            self.comment("Containment decision skipped: no host name or user name in the artifacts.")
            return
        isolate = [AuthorizedAction(action="quarantine device", target=host, connector="crowdstrike")] if host else []
        disable = [AuthorizedAction(action="disable user", target=user, connector="active_directory")] if user else []
        d = await self.prompt(
            role="soc_tier2",
            message=f"Threat '{threat}' on host {host or ip or 'unknown'} (user {user or 'unknown'}). Contain?",
            options=[ISOLATE, DISABLE, BOTH, MONITOR],
            on_timeout=MONITOR,
            respond_in=timedelta(minutes=15),
            authorizes={ISOLATE: isolate, DISABLE: disable, BOTH: isolate + disable, MONITOR: []},
            targets=[Target(kind=k, value=v, source=c.provenance(v)) for k, v in
                     (("host", host), ("ip", ip), ("user", user)) if v],
            next_steps={ISOLATE: f"CrowdStrike will isolate {host}", DISABLE: f"Active Directory will disable {user}",
                        BOTH: f"CrowdStrike will isolate {host} and AD will disable {user}",
                        MONITOR: "no containment; the container stays open for review"},
        )
        if d.timed_out:
            self.comment("Containment not performed; the container stays open for review.")
            self.set_status(Status.OPEN)
            self.set_disposition("Pending Review - No Analyst Response")
            return
        actions = []
        if d.option in (ISOLATE, BOTH):
            if host:
                actions.append(self.act("crowdstrike", "quarantine device", approval=d, hostname=host))
            else:
                self.comment("Isolation requested but no host name is known.")
        if d.option in (DISABLE, BOTH):
            if user:
                actions.append(self.act("active_directory", "disable user", approval=d, username=user))
            else:
                self.comment("Account disabling requested but no user name is known.")
        results = await gather(*actions)
        self.comment(f"Analyst approved: {d.option} (by {d.responder})")
        failed = [r for r in results if r.status != "success"]
        for r in failed:
            self.comment(f"Containment action failed: {r.message}")
        self.set_status(Status.OPEN)
        if d.option == MONITOR:
            self.set_disposition("Under Review - Monitor Only")
        elif failed:
            self.set_disposition("True Positive - Containment Incomplete")
        else:
            self.set_disposition("True Positive - Escalated to IR")
