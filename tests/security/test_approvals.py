"""Approvals no one can forge, replay or stretch, against the real dev server, the real worker and the
simulator: each forgery is refused (and, where it reaches a run, audited), and the honest path isolates."""

from __future__ import annotations

import base64
import json
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from temporalio import workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from core.approvals import AuthorizedAction, SignedApproval, Signer, claims_for
from core.models import ActionInput, Artifact, Container, Prompt, PromptResponse, Severity
from tests.activities.conftest import sign_approval
from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually

HOST_A, HOST_B = "WORKSTATION-AAA1", "WORKSTATION-BBB2"


class ProbeInput(BaseModel):
    queue: str
    hostname: str
    container_id: str
    approval: SignedApproval | None = None


@workflow.defn(name="ApprovalForgeryProbe")
class ForgeryProbe:
    """Workflow code calling a high-impact action with whatever approval it built (a playbook gone rogue)."""

    @workflow.run
    async def run(self, inp: ProbeInput) -> str:
        try:
            await workflow.execute_activity(
                "crowdstrike.quarantine_device",
                ActionInput(asset="crowdstrike", params={"hostname": inp.hostname}, approval=inp.approval,
                            container_id=inp.container_id),
                task_queue=inp.queue, start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_attempts=1))
        except ActivityError as e:
            cause = e.cause
            return f"{cause.type}: {cause.message}" if isinstance(cause, ApplicationError) else str(cause)
        return "ran"


def contained(sim) -> list[str]:
    return sim.state()["effects"].get("crowdstrike", {}).get("contained", [])


async def test_forged_approvals_never_isolate_and_the_honest_one_does(dev_env, task_queue, assets_file, sim):
    cid = "SOAR-PROBE" + uuid.uuid4().hex[:6].upper()
    real = sign_approval("quarantine device", HOST_B, "crowdstrike", cid)
    claims = json.loads(real.claims)
    attacker = Signer("k1", Ed25519PrivateKey.generate())
    forged_roles = real.model_copy(update={"claims": json.dumps({**claims, "roles": ["admin"]}, sort_keys=True)})
    monitor_only = claims_for(prompt_id=f"{cid}.x.1", workflow_id="w", container_id=cid, option="Monitor Only",
                              actions=[], responder="bob", roles=["soc_tier2"], now=datetime.now(UTC),
                              valid_for=timedelta(hours=1))
    cases = {
        "no approval": (None, "ApprovalRequired"),
        "built by the playbook": (SignedApproval(claims=real.claims, kid="k1",
                                                 signature=base64.b64encode(os.urandom(64)).decode()),
                                  "signature does not verify"),
        "signed by another key": (attacker.sign(claims_for(**{**_fields(claims), "now": datetime.now(UTC)})),
                                  "signature does not verify"),
        "changed roles": (forged_roles, "signature does not verify"),
        "expired": (sign_approval("quarantine device", HOST_B, "crowdstrike", cid, valid_for=timedelta(seconds=-1)),
                    "expired"),
        "for host A, used on host B": (sign_approval("quarantine device", HOST_A, "crowdstrike", cid),
                                       f"does not authorise 'quarantine device' on '{HOST_B}'"),
        "for another container": (sign_approval("quarantine device", HOST_B, "crowdstrike", "SOAR-OTHERONE1"),
                                  "approval is for container SOAR-OTHERONE1"),
        "Monitor Only": (_sign(monitor_only), "it authorises: nothing"),
    }
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        probe_queue = f"{task_queue}-probe"
        async with Worker(dev_env.client, task_queue=probe_queue, workflows=[ForgeryProbe],
                          workflow_runner=UnsandboxedWorkflowRunner()):
            async def probe(approval: SignedApproval | None) -> str:
                return await dev_env.client.execute_workflow(
                    ForgeryProbe.run, ProbeInput(queue=stack.settings.playbook_task_queue, hostname=HOST_B,
                                                 container_id=cid, approval=approval),
                    id=f"probe-{uuid.uuid4().hex}", task_queue=probe_queue)
            for name, (approval, why) in cases.items():
                out = await probe(approval)
                assert why in out, f"{name}: {out}"
                assert out.split(":")[0] in ("ApprovalInvalid", "ApprovalRequired"), f"{name}: {out}"
            assert contained(sim) == [] and sim.state()["calls"].get("crowdstrike", 0) == 0
            assert await probe(real) == "ran"  # the honest approval isolates
            assert contained(sim) == [HOST_B]


def _fields(claims: dict) -> dict:
    keys = ("prompt_id", "workflow_id", "container_id", "option", "responder", "roles")
    return {**{k: claims[k] for k in keys}, "actions": [AuthorizedAction(**a) for a in claims["actions"]],
            "valid_for": timedelta(hours=1)}


def _sign(claims) -> SignedApproval:
    from core.approvals import load_signer
    from core.settings import get_settings

    s = get_settings()
    return load_signer(s.signing_key_path, s.approval_key_id).sign(claims)


def edr(host: str, user: str) -> Container:
    return Container(name="EDR: credential dumping", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"edr-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="host", cef={"sourceHostName": host, "sourceUserName": user})])


async def accepted_answer(client, wid: str) -> PromptResponse:
    """The accepted answer as it stands in the run's history (what an attacker reading history would capture)."""
    hist = await client.get_workflow_handle(wid).fetch_history()
    for e in hist.events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            payload = e.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads[0]
            return pydantic_data_converter.payload_converter.from_payload(payload, PromptResponse)
    raise AssertionError("no accepted update in the history")


async def test_a_captured_answer_replayed_on_another_prompt_is_refused_and_audited(dev_env, task_queue,
                                                                                  assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                a = await stack.start(edr(HOST_A, "jdoe"), predicted=["containment_decision"])
                b = await stack.start(edr(HOST_B, "asmith"), predicted=["containment_decision"])
                pa = (await stack.wait_for(a.container_id, lambda v: v.pending_prompts, 60)).pending_prompts[0]
                pb = (await stack.wait_for(b.container_id, lambda v: v.pending_prompts, 60)).pending_prompts[0]
                ok = await api.post(f"/api/v1/prompts/{pa.id}/response", json={"option": "Isolate Host"},
                                    headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
                await stack.wait_for(a.container_id, lambda v: v.state.runs[0].status != "running", 60)
                assert contained(sim) == [HOST_A]

                captured = await accepted_answer(dev_env.client, pa.workflow_id)
                assert captured.approval is not None
                replayed = captured.model_copy(update={"prompt_id": pb.id})
                hb = dev_env.client.get_workflow_handle(pb.workflow_id)
                with pytest.raises(WorkflowUpdateFailedError) as e:
                    await hb.execute_update("respond", replayed)
                assert e.value.cause.type == "ApprovalInvalid" and f"prompt {pa.id}" in e.value.cause.message
                # tampered claims (another responder, more roles): the signature fails; nothing reaches history
                tampered = captured.approval.model_copy(update={"claims": captured.approval.claims.replace(
                    '"responder":"bob"', '"responder":"carol"')})
                with pytest.raises(WorkflowUpdateFailedError) as e:
                    await hb.execute_update("respond", PromptResponse(prompt_id=pb.id, option="Isolate Host",
                                                                      approval=tampered))
                assert "signature does not verify" in e.value.cause.message
                # through the API: a tier-1 analyst is refused, and that is audited too
                r = await api.post(f"/api/v1/prompts/{pb.id}/response", json={"option": "Isolate Host"},
                                   headers=auth("tier1"))
                assert r.status_code == 403

                async def audited():
                    v = await stack.view(b.container_id)
                    kinds = [(x.kind.value, x.outcome) for x in v.state.audit]
                    return kinds if len(kinds) >= 2 else None
                kinds = await assert_eventually(audited, within=30)
                assert ("approval_invalid", "refused") in kinds and ("answer_refused", "refused") in kinds
                assert contained(sim) == [HOST_A]  # B was never isolated
                v = await stack.view(b.container_id)
                assert v.pending_prompts and v.pending_prompts[0].id == pb.id  # still waiting for a real answer
                pending: Prompt = v.pending_prompts[0]
                assert [t.value for t in pending.targets] == [HOST_B, "asmith"]
                assert pending.targets[0].source.startswith('artifact 1 "host"')
