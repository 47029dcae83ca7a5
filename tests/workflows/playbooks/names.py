"""Test playbooks: wrong names for the name checks (test_playbook_names.py), one action chosen by params."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.models import Container
    from workflows.playbook import Playbook, playbook


@playbook(name="misspelt_literals", title="Misspelt literals", version="1.0", baseline_minutes=1)
class MisspeltLiterals(Playbook):
    """Names the start-up check can see: a typo in an action, a parameter and a connector."""

    async def steps(self, c: Container) -> None:
        await self.act("virustotal", "url reputaton", url="http://x.example/")
        await self.act("virustotal", "url reputation", uri="http://x.example/")
        await self.act("virustotall", "url reputation", url="http://x.example/")
        await self.act("virustotal", "url reputation", url="http://x.example/")  # fine


@playbook(name="names_from_params", title="Names from params", version="1.0", baseline_minutes=1)
class NamesFromParams(Playbook):
    """One action whose names come from the run's params: only the run itself can refuse a wrong one."""

    async def steps(self, c: Container) -> None:
        p = self.inp.params
        await self.act(p["asset"], p["action"], **{p["param"]: p.get("value", "http://x.example/")})
