"""Record the workflow histories that the replay test replays: `python -m tests.histories.record`.

Run it when a playbook changes on purpose (after guarding the change with `workflow.patched`) with a new
prefix (`python -m tests.histories.record v3`), and keep the old files: they stand for runs that were
waiting when the new code was deployed. `python -m tests.histories.record phantom --phantom` records only
the brief's Phantom playbooks (examples/phantom), including a run waiting on its prompt; their sources are
the examples, which the replay test's registry loads (tests/conftest.py). `--notifications` records with
prompt notifications on (to the simulator's sinks), so the container histories hold `soar.notify` activities
(`python -m tests.histories.record notify --notifications`). `--handover` records a container that
continues-as-new twice while its containment run waits on the prompt, then the answer in its third run
(`python -m tests.histories.record handover --handover`): every run of the container and the playbook.
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

from core.approvals import init_keys
from core.config.triggers import load_triggers, match_triggers
from core.models import Artifact, Container, Severity
from core.settings import ROOT, get_settings
from core.temporal import SEARCH_ATTRIBUTES, dev_server_dynamic_config_args, dev_server_path
from simulator.app import create_app
from simulator.credentials import DEMO_ENV, demo_notifications, notification_env
from tests.helpers.config import example_assets, write_assets
from tests.helpers.prompts import answer
from tests.helpers.servers import ServerThread
from tests.helpers.stack import run_stack
from workflows.registry import PLAYBOOKS

HERE = Path(__file__).parent
IDS = HERE / "workflow_ids.json"  # file name -> the recorded run's workflow id (approvals are bound to it)


def write_history(fname: Path, workflow_id: str, history_json: str) -> None:
    """Save one history and remember its workflow id for the replay test."""
    fname.write_text(json.dumps(json.loads(history_json), indent=1))
    ids = json.loads(IDS.read_text()) if IDS.exists() else {}
    ids[fname.name] = workflow_id
    IDS.write_text(json.dumps(dict(sorted(ids.items())), indent=1) + "\n")
    print("saved", fname.name)


MAL_HASH = "deadbeef" + "2" * 56


async def dev_server(*dynamic_config: str) -> WorkflowEnvironment:
    """A dev server with our search attributes and dynamic config, plus `KEY=VALUE` dynamic config values."""
    extra = [a for kv in dynamic_config for a in ("--dynamic-config-value", kv)]
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()), search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter, dev_server_log_level="error",
        dev_server_extra_args=[*dev_server_dynamic_config_args(), *extra])


def c(label: str, *cefs: dict[str, str]) -> Container:
    return Container(name=f"history {label}", label=label, severity=Severity.HIGH,
                     source_data_identifier=f"hist-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name=f"a{i}", cef=x) for i, x in enumerate(cefs)])


async def main(prefix: str, phantom_only: bool = False, notifications: bool = False) -> None:
    for k, v in DEMO_ENV.items():
        os.environ.setdefault(k, v)
    if phantom_only:
        await phantom(prefix)
        return
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
    async with await dev_server() as env:
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
                write_history(HERE / f"{prefix}{scen}__{wf.workflow_type}.json", wf.id, hist.to_json())
    sim.stop()


async def phantom(prefix: str) -> None:
    """The brief's Phantom playbooks: malicious URL, a hash whose quarantine waits for approval, enrichment, and
    the containment prompt (saved once while it waits, and again when answered)."""
    from tests.phantom.conftest import phantom_assets

    os.environ["SOAR_PHANTOM_PLAYBOOKS_DIR"] = str(ROOT / "examples" / "phantom")
    get_settings.cache_clear()
    s = get_settings()
    init_keys(s.signing_key_path, s.trusted_keys_path, s.approval_key_id)  # the API's key pair (answers are signed)
    sim = ServerThread(create_app(ldap_port=0)).start()
    tmp = Path(tempfile.mkdtemp())
    assets = write_assets(tmp / "assets.json", phantom_assets(sim.url, sim.app.state.ldap.port))
    async with await dev_server() as env:
        async with run_stack(env.client, "history-phantom-tq", assets) as stack:
            scenarios = {
                "phishing_malicious_url": ("brief_phishing_triage_automation",
                                           c("phishing", {"requestURL": "http://malicious.example/login"})),
                "phishing_hash_gate": ("brief_phishing_triage_automation",
                                       c("phishing", {"fileHash": MAL_HASH}, {"sourceHostName": "WORKSTATION-042"})),
                "enrichment": ("brief_universal_alert_enrichment",
                               c("notable", {"sourceAddress": "81.2.69.160"}, {"destinationDnsDomain": "evil.example"})),
                "containment": ("brief_containment_decision",
                                c("edr", {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe",
                                          "sourceAddress": "10.1.2.3"}, {"fileHash": MAL_HASH})),
            }
            ids = {n: (await stack.start(cont, playbooks=[pb])).container_id for n, (pb, cont) in scenarios.items()}

            async def save(scen: str, wf_id: str, wf_type: str, run_id: str | None = None) -> None:
                hist = await env.client.get_workflow_handle(wf_id, run_id=run_id).fetch_history()
                write_history(HERE / f"{prefix}{scen}__{wf_type}.json", wf_id, hist.to_json())

            for scen, option in (("phishing_hash_gate", "Approve"), ("containment", "Both")):
                v = await stack.wait_for(ids[scen], lambda v: v.pending_prompts, timeout=60)
                p = v.pending_prompts[0]
                await asyncio.sleep(0.5)
                await save(f"{scen}_waiting", p.workflow_id, "PhantomPlaybook")
                await answer(env.client, p, option)
            for cid in ids.values():
                await stack.wait_for(cid, lambda v: all(r.status != "running" for r in v.state.runs), timeout=60)
            await asyncio.sleep(1)
            async for wf in env.client.list_workflows("WorkflowType != 'x'"):
                scen = next((n for n, cid in ids.items() if cid in wf.id), "other")
                await save(scen, wf.id, wf.workflow_type, wf.run_id)
    sim.stop()


async def handover(prefix: str) -> None:
    """A prompt waiting across two continue-as-new of its container (workflows/container_runs.py)."""
    from workflows.messages import AnalystChange, ChangeAck

    sim = ServerThread(create_app(ldap_port=0)).start()
    tmp = Path(tempfile.mkdtemp())
    assets = write_assets(tmp / "assets.json", example_assets(sim.url, sim.app.state.ldap.port))
    async with await dev_server("limit.historyCount.suggestContinueAsNew=60") as env:
        async with run_stack(env.client, "history-tq", assets) as stack:
            cid = (await stack.start(c("edr", {"sourceHostName": "WORKSTATION-042", "sourceUserName": "jdoe"}))
                   ).container_id
            v = await stack.wait_for(cid, lambda v: v.pending_prompts, timeout=60)
            h = stack.handle(cid)
            for i in range(200):
                await h.execute_update("change", AnalystChange(user="alice", comment=f"note {i}"),
                                       result_type=ChangeAck)
                if len([w async for w in env.client.list_workflows(f"WorkflowId = '{h.id}'")]) > 2:
                    break
            await answer(env.client, v.pending_prompts[0], "Isolate Host")
            await stack.wait_for(cid, lambda v: all(r.status != "running" for r in v.state.runs), timeout=60)
            await h.execute_update("change", AnalystChange(user="alice", status="closed"), result_type=ChangeAck)
            await stack.result(cid)
            runs = sorted([w async for w in env.client.list_workflows("WorkflowType != 'x'")],
                          key=lambda w: w.start_time)
            n = 0
            for wf in runs:
                if cid not in wf.id:
                    continue
                hist = await env.client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
                part = ""
                if wf.workflow_type == "ContainerWorkflow":
                    n += 1
                    part = f"_run{n}"
                write_history(HERE / f"{prefix}prompt_across{part}__{wf.workflow_type}.json", wf.id, hist.to_json())
    sim.stop()


if __name__ == "__main__":
    import sys

    if "--handover" in sys.argv:
        asyncio.run(handover(f"{sys.argv[1]}_" if len(sys.argv) > 2 else ""))
        sys.exit(0)

    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    asyncio.run(main(f"{args[0]}_" if args else "", phantom_only="--phantom" in sys.argv,
                     notifications="--notifications" in sys.argv))
