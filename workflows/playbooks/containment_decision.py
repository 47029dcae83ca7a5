"""Containment Decision: ask Tier 2 whether to isolate the host and/or disable the account.

The brief forbids autonomous containment: CrowdStrike quarantine and AD disable run only with the
approval an analyst's answer produces. On timeout the safe default is `Monitor Only`.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

from workflows.playbook import Playbook, gather

with workflow.unsafe.imports_passed_through():
    from core.models import Container, PlaybookInput, PlaybookOutcome, Status

ISOLATE, DISABLE, BOTH, MONITOR = "Isolate Host", "Disable Account", "Both", "Monitor Only"


def first(container: Container, *keys: str) -> str | None:
    """The first value of any of the CEF `keys` across the container's artifacts."""
    for key in keys:
        for a in container.artifacts:
            v = a.cef.get(key)
            if isinstance(v, str) and v:
                return v
    return None


@workflow.defn(name="ContainmentDecision")
class ContainmentDecision(Playbook):
    """Prompt soc_tier2 and carry out the containment they choose."""

    NAME = "containment_decision"
    TITLE = "Containment Decision"
    VERSION = "1.2"
    BASELINE_MINUTES = 25.0
    DESCRIPTION = "Prompts Tier 2 to isolate the host (CrowdStrike) and/or disable the account (AD)."

    @workflow.run
    async def run(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run the playbook."""
        return await self.execute(inp)

    async def steps(self, c: Container) -> None:
        """Prompt, then act on the decision."""
        host = first(c, "sourceHostName", "destinationHostName")
        ip = first(c, "sourceAddress")
        user = first(c, "sourceUserName", "destinationUserName")
        threat = self.inp.params.get("threat") or c.name
        if not host and not user:
            self.stage(comment="Containment decision skipped: no host name or user name in the artifacts.")
            return
        d = await self.prompt(
            role="soc_tier2",
            message=f"Threat '{threat}' on host {host or ip or 'unknown'} (user {user or 'unknown'}). Contain?",
            options=[ISOLATE, DISABLE, BOTH, MONITOR],
            on_timeout=MONITOR,
            respond_in=timedelta(minutes=15),
            next_steps={ISOLATE: f"CrowdStrike will isolate {host}", DISABLE: f"Active Directory will disable {user}",
                        BOTH: f"CrowdStrike will isolate {host} and AD will disable {user}",
                        MONITOR: "no containment; the container stays open for review"},
        )
        if d.timed_out:
            self.stage(comment="Containment not performed; the container stays open for review.",
                       status=Status.OPEN, disposition="Pending Review - No Analyst Response")
            return
        actions = []
        if d.option in (ISOLATE, BOTH):
            if host:
                actions.append(self.act("crowdstrike", "quarantine device", target=host, approval=d.approval,
                                        hostname=host))
            else:
                self.stage(comment="Isolation requested but no host name is known.")
        if d.option in (DISABLE, BOTH):
            if user:
                actions.append(self.act("active_directory", "disable user", target=user, approval=d.approval,
                                        username=user))
            else:
                self.stage(comment="Account disabling requested but no user name is known.")
        results = await gather(*actions)
        self.stage(comment=f"Analyst approved: {d.option} (by {d.responder})")
        failed = [r for r in results if r.status != "success"]
        for r in failed:
            self.stage(comment=f"Containment action failed: {r.message}")
        if d.option == MONITOR:
            self.stage(status=Status.OPEN, disposition="Under Review - Monitor Only")
        elif failed:
            self.stage(status=Status.OPEN, disposition="True Positive - Containment Incomplete")
        else:
            self.stage(status=Status.OPEN, disposition="True Positive - Escalated to IR")
