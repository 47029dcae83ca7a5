"""Record the workflow histories that the replay test replays: `python -m tests.histories.record`.

Run it when a playbook changes on purpose (after guarding the change with `workflow.patched`) with a new
prefix (`python -m tests.histories.record v3`), and keep the old files: they stand for runs that were
waiting when the new code was deployed. `--notifications` records with prompt notifications on (to the
simulator's sinks), so the container histories hold `soar.notify` activities
(`python -m tests.histories.record notify --notifications`).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import uuid
from pathlib import Path

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.config.triggers import load_triggers, match_triggers
from core.models import Artifact, Container, Severity
from core.temporal import SEARCH_ATTRIBUTES, dev_server_path
from simulator.app import create_app
from simulator.credentials import DEMO_ENV, demo_notifications, notification_env
from tests.helpers.config import example_assets, write_assets
from tests.helpers.prompts import answer
from tests.helpers.servers import ServerThread
from tests.helpers.stack import run_stack
from workflows.registry import PLAYBOOKS

HERE = Path(__file__).parent
MAL_HASH = "deadbeef" + "2" * 56


IDS = HERE / "workflow_ids.tsv"


def remember_id(stem: str, workflow_id: str) -> None:
    """Record which workflow a saved history belongs to (a signed answer is bound to its run's id, and the
    history itself does not carry it; the replay test reads this file)."""
    ids = dict(line.split("\t", 1) for line in IDS.read_text().splitlines() if "\t" in line) if IDS.exists() else {}
    ids[stem] = workflow_id
    IDS.write_text("".join(f"{k}\t{v}\n" for k, v in sorted(ids.items())))


def c(label: str, *cefs: dict[str, str]) -> Container:
    return Container(name=f"history {label}", label=label, severity=Severity.HIGH,
                     source_data_identifier=f"hist-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name=f"a{i}", cef=x) for i, x in enumerate(cefs)])


async def main(prefix: str, notifications: bool = False) -> None:
    for k, v in DEMO_ENV.items():
        os.environ.setdefault(k, v)
    sim = ServerThread(create_app(smtp_port=0 if notifications else None)).start()
    tmp = Path(tempfile.mkdtemp())
    assets = write_assets(tmp / "assets.json", example_assets(sim.url))
    extra: dict[str, object] = {}
    if notifications:
        for k, v in notification_env(sim.url).items():
            os.environ[k] = v
        path = tmp / "notifications.json"
        path.write_text(json.dumps(demo_notifications(sim.url, "127.0.0.1", sim.app.state.smtp.port)))
        extra["notifications_file"] = path
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()), search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter, dev_server_log_level="error") as env:
        async with run_stack(env.client, "history-tq", assets, **extra) as stack:
            scenarios = {
                "phishing_malicious_url": c("phishing", {"requestURL": "http://malicious.example/login"}),
                "phishing_clean": c("phishing", {"requestURL": "https://intranet.example.com/"}),
                "enrichment": c("notable", {"sourceAddress": "81.2.69.160", "destinationDnsDomain": "evil.example"}),
                "phishing_hash_prompt": c("phishing", {"fileHash": MAL_HASH},
                                          {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe"}),
            }
            ids = {}
            triggers = load_triggers(stack.settings.triggers_file, PLAYBOOKS)
            for name, cont in scenarios.items():
                # as the API does: the predicted playbooks ride in the start-time search attributes
                predicted = [t.playbook_name for t in match_triggers(triggers, cont)]
                ids[name] = (await stack.start(cont, predicted=predicted)).container_id
            v = await stack.wait_for(ids["phishing_hash_prompt"], lambda v: v.pending_prompts, timeout=60)
            p = v.pending_prompts[0]
            await answer(env.client, p, "Isolate Host")
            for cid in ids.values():
                await stack.wait_for(cid, lambda v: all(r.status != "running" for r in v.state.runs), timeout=60)
            await asyncio.sleep(1)
            async for wf in env.client.list_workflows("WorkflowType != 'x'"):
                hist = await env.client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
                scen = next((n for n, cid in ids.items() if cid in wf.id), "other")
                fname = HERE / f"{prefix}{scen}__{wf.workflow_type}.json"
                fname.write_text(json.dumps(json.loads(hist.to_json()), indent=1))
                remember_id(fname.stem, wf.id)
                print("saved", fname.name)
    sim.stop()


if __name__ == "__main__":
    import sys

    args = [a for a in sys.argv[1:] if a != "--notifications"]
    asyncio.run(main(f"{args[0]}_" if args else "", notifications="--notifications" in sys.argv))
