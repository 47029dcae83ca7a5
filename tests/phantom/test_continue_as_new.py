"""A Phantom playbook's prompt waiting while its container continues-as-new (workflows/container_runs.py):
the brief's phishing playbook asks before quarantining, the container moves on twice, the answer quarantines
and the run's outcome lands in the container's latest run."""

from __future__ import annotations

from core.models import RunStatus
from tests.helpers.prompts import answer
from tests.helpers.stack import changes_until_continued, run_stack, runs_of
from tests.phantom.conftest import container, done, texts

PHISHING = "brief_phishing_triage_automation"
MAL_HASH = "deadbeef" + "4" * 56


async def test_a_phantom_prompt_survives_two_continue_as_new(small_history_env, task_queue, phantom_assets_file,
                                                             sim):
    env = small_history_env
    async with run_stack(env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("phishing", {"fileHash": MAL_HASH},
                                        {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe"}),
                              playbooks=[PHISHING])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60, what="the prompt")
        p = v.pending_prompts[0]
        h = stack.handle(r.container_id)
        await changes_until_continued(env.client, h, 2)
        assert len(await runs_of(env.client, h.id)) == 3
        v = await stack.view(r.container_id)
        assert [q.id for q in v.pending_prompts] == [p.id]
        assert [run.status for run in v.state.runs] == [RunStatus.RUNNING]
        await answer(env.client, p, "Approve")
        v = await stack.wait_for(r.container_id, done, timeout=60, what="the run's end")
        assert v.state.runs[0].status == RunStatus.SUCCESS
        kinds = [(a.kind, a.action, a.status) for a in sorted(v.state.runs[0].outcome.actions, key=lambda a: a.index)]
        assert kinds == [("action", "file reputation", "success"), ("prompt", "prompt", "success"),
                         ("action", "quarantine device", "success")]
        assert "WORKSTATION-042" in sim.state()["effects"]["crowdstrike"]["contained"]
        assert v.pending_prompts == [] and any("note 0" == t for t in texts(v))
