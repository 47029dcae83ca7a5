"""200 analyst changes on one container, over HTTP, while its containment prompt waits: every change lands,
no workflow task fails, history grows by the change and a small acknowledgement (not the whole view each
time), the state stays within its budget (old comments shortened, with a marker), and the prompt is still
answered and carried out."""

from __future__ import annotations

import uuid

from temporalio.api.enums.v1 import EventType

from core.models import Artifact, Container, Severity
from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from workflows.budget import COMMENTS_CHARS, TRIM_MARK

CHANGES = 200


async def test_two_hundred_changes_keep_the_container_healthy(dev_env, task_queue, assets_file, sim):
    host = f"WORKSTATION-{uuid.uuid4().hex[:6].upper()}"
    c = Container(name="EDR: credential dumping", label="edr", severity=Severity.HIGH,
                  source_data_identifier=f"many-{uuid.uuid4().hex}",
                  artifacts=[Artifact(cef={"sourceHostName": host, "sourceUserName": "jdoe"})])
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        r = await stack.start(c)
        cid = r.container_id
        v = await stack.wait_for(cid, lambda v: v.pending_prompts, what="the containment prompt")
        [prompt] = v.pending_prompts
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                for i in range(CHANGES):
                    if i % 3 == 0:
                        body = {"severity": ["low", "medium", "high"][i // 3 % 3], "owner": f"analyst{i}"}
                        resp = await api.patch(f"/api/v1/containers/{cid}", json=body, headers=auth("tier2"))
                    else:
                        text = f"note {i}: " + "x" * 5000
                        resp = await api.post(f"/api/v1/containers/{cid}/comments", json={"text": text},
                                              headers=auth("tier2"))
                    assert resp.status_code == 200, (i, resp.text)
                last = resp.json()
                ok = await api.post(f"/api/v1/prompts/{prompt.id}/response", json={"option": "Isolate Host"},
                                    headers=auth("tier2"))
                assert ok.status_code == 200, ok.text
        v = await stack.wait_for(cid, lambda v: not v.pending_prompts and all(x.status != "running"
                                                                               for x in v.state.runs), timeout=60)
        history = await stack.handle(cid).fetch_history()
    notes = [x.text for x in v.state.comments if x.text.startswith("note ")]
    assert len(notes) == CHANGES - len(range(0, CHANGES, 3))
    assert notes[-1].startswith(f"note {CHANGES - 1}: ") and not notes[-1].endswith(TRIM_MARK)
    assert notes[0].endswith(TRIM_MARK), "the oldest comments are shortened, with a marker"
    assert sum(len(x.text) for x in v.state.comments) <= COMMENTS_CHARS + 25_000
    assert v.state.container.owner == f"analyst{(CHANGES - 1) // 3 * 3}"
    assert last["state"]["comments"][-1]["text"].startswith(f"note {CHANGES - 1}: ")
    assert host in sim.state()["effects"]["crowdstrike"]["contained"]

    events = list(history.events)
    assert not [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED]
    completed = [e for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED]
    assert len(completed) >= CHANGES
    assert max(e.ByteSize() for e in completed) < 2048, "an update writes an acknowledgement, not the view"
    assert sum(e.ByteSize() for e in events) < 3 * 1024 * 1024
    assert len(v.model_dump_json()) < 1024 * 1024
