"""The engine's own rules, with small playbooks written for the test: workflow time and random in user code,
sandboxed I/O, unsupported functions, prompt2 with list and free-text questions, run data and `completed`
joins, child playbooks (Phantom and native), and loading errors."""

from __future__ import annotations

import textwrap
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from core.errors import ConfigError
from tests.helpers.prompts import answer
from tests.helpers.stack import run_stack
from tests.phantom.conftest import container, done, texts
from workflows.phantom.loader import load_directory
from workflows.registry import NATIVE


def write(d: Path, name: str, body: str) -> Path:
    path = d / f"{name}.py"
    path.write_text("import phantom.rules as phantom\n" + textwrap.dedent(body))
    return path


CLOCK = """
    import json, re, random, uuid, time
    from datetime import datetime, timedelta
    from random import randint

    def on_start(container):
        phantom.comment(container, "now=" + datetime.now().isoformat())
        phantom.comment(container, "time=" + str(int(time.time())))
        phantom.comment(container, "random=%r %r %s" % (random.random(), randint(1, 10 ** 9), uuid.uuid4()))
        phantom.prompt(container=container, user="soc_tier2", message="ok?", options=["Yes", "No"],
                       respond_in_mins=5, callback=answered, name="ask")

    def answered(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "later=" + datetime.utcnow().isoformat())
"""


async def test_clock_and_random_follow_the_workflow(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    write(phantom_dir, "clock_probe", CLOCK)
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceAddress": "10.0.0.1"}), playbooks=["clock_probe"])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        await answer(dev_env.client, p, "Yes")
        v = await stack.wait_for(r.container_id, done)
        hist = await dev_env.client.get_workflow_handle(p.workflow_id).fetch_history()
    c = {t.split("=", 1)[0]: t.split("=", 1)[1] for t in texts(v) if "=" in t}
    # on_start and the prompt opened in the same workflow task: datetime.now() is that task's workflow time
    assert c["now"] == p.created.replace(tzinfo=None).isoformat()
    assert int(c["time"]) == int(p.created.timestamp())
    assert datetime.fromisoformat(c["later"]) > datetime.fromisoformat(c["now"])
    # replaying the run gives the same values: the replay test's corpus is built the same way
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.worker import Replayer

    from workflows import all_workflows

    result = await Replayer(workflows=all_workflows(), data_converter=pydantic_data_converter).replay_workflow(
        hist, raise_on_replay_failure=False)
    assert result.replay_failure is None


@pytest.mark.parametrize(("body", "expected"), [
    ("""
     def on_start(container):
         phantom.custom_function(custom_function="community/passthrough", parameters=[])
     """, "phantom.custom_function() is not supported by this platform (bad_probe.py line 4, in on_start)"),
    ("""
     def on_start(container):
         phantom.requests.get("https://127.0.0.1/rest/container")
     """, "phantom.requests.get is not supported by this platform (bad_probe.py line 4, in on_start)"),
    ("""
     def on_start(container):
         phantom.act("ip reputation", parameters=[{"ip": "10.0.0.1"}], assets=["virustotal_prod"], tags=["x"])
     """, "phantom.act(tags=...) is not supported by this platform (bad_probe.py line 4, in on_start)"),
    ("""
     def on_start(container):
         open("/etc/hostname").read()
     """, "RestrictedWorkflowAccessError"),
    ("""
     from workflows.phantom import base
     def on_start(container):
         pass
     """, "ImportError: a Phantom playbook cannot import 'workflows.phantom' (the platform's own modules)"),
    ("""
     import os
     def on_start(container):
         phantom.comment(container, os.environ.get("HOME", ""))
     """, "RestrictedWorkflowAccessError"),
    ("""
     def on_start(container):
         phantom.act("url reputation", parameters=[{"url": "http://x.example/"}], assets=["no_such_asset"])
     """, "UnknownAsset: no asset or connector named 'no_such_asset'"),
    ("""
     def on_start(container):
         phantom.act("url reputation", parameters=[{"url": "http://x.example/"}], assets=["virustotal_prod"],
                     callback=cb)

     def cb(action=None, success=None, container=None, results=None, handle=None, **kwargs):
         results[0]["nope"]["x"]
     """, "KeyError: 'nope' (bad_probe.py line 8, in cb)"),
])
async def test_errors_fail_the_run_with_the_playbook_line(dev_env, task_queue, phantom_assets_file, phantom_dir, sim,
                                                          body, expected):
    write(phantom_dir, "bad_probe", body)
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceAddress": "10.0.0.1"}), playbooks=["bad_probe"])
        v = await stack.wait_for(r.container_id, done)
    run = v.state.runs[0]
    assert run.status == "failed" and expected in (run.outcome.error or ""), run.outcome.error
    assert any(t.startswith("Playbook Bad Probe failed: ") and expected in t for t in texts(v))


JOINS = """
    import json

    def on_start(container):
        phantom.save_run_data(key="seen", value=json.dumps([]))
        for n, ip in enumerate(["10.0.0.1", "198.51.100.7"]):
            phantom.act("ip reputation", parameters=[{"ip": ip, "context": {"artifact_id": n}}],
                        assets=["virustotal_prod"], name="vt_%d" % n, callback=join)
        phantom.playbook("local/child_probe", container=container, name="child", callback=join,
                         inputs={"ip": ["198.51.100.7"]})

    def join(action=None, success=None, container=None, results=None, handle=None, filtered_artifacts=None,
             filtered_results=None, custom_function=None, **kwargs):
        seen = json.loads(phantom.get_run_data(key="seen")) + [action["name"]]
        phantom.save_run_data(key="seen", value=json.dumps(seen))
        if phantom.get_run_data(key="join_called"):
            return
        if phantom.completed(action_names=["vt_0", "vt_1"], playbook_names=["child"]):
            phantom.save_run_data(key="join_called", value="yes")
            ask(container=container)

    def ask(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        verdict = phantom.collect2(container=container, datapath=["child:playbook_output:verdict"])
        phantom.prompt2(container=container, user="soc_tier2", message="Child says {0}. Block {1}?",
                        parameters=["child:playbook_output:verdict", "vt_1:action_result.parameter.ip"],
                        respond_in_mins=10, name="review", callback=decide,
                        response_types=[{"prompt": "Block it?", "options": {"type": "list", "choices": ["Yes", "No"]}},
                                        {"prompt": "Why?", "options": {"type": "message"}}])

    def decide(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        rows = phantom.collect2(container=container, action_results=results,
                                datapath=["review:action_result.summary.responses", "review:action_result.data.*.user"])
        phantom.comment(container, "answers=%s by %s; seen=%s; missing=%r" % (
            rows[0][0], rows[0][1], phantom.get_run_data(key="seen"), phantom.get_run_data(key="never")))
        if phantom.decision(container=container, conditions=[["review:action_result.summary.responses.0", "==", "Yes"]]):
            phantom.act("block ip", parameters=[{"ip": "198.51.100.7"}], assets=["palo_alto_prod"], name="block")
"""

CHILD = """
    def on_start(container):
        ips = phantom.collect2(container=container, datapath=["playbook_input:ip"])
        phantom.act("ip reputation", parameters=[{"ip": row[0]} for row in ips], assets=["virustotal_prod"],
                    name="child_vt", callback=done)

    def done(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "child saw %d engines" % results[0]["summary"]["malicious"])

    def on_finish(container, summary):
        phantom.save_playbook_output_data(output={"verdict": "malicious"})
"""


async def test_joins_children_and_prompt2(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    write(phantom_dir, "join_probe", JOINS)
    write(phantom_dir, "child_probe", CHILD)
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceHostName": "WS-1"}), playbooks=["join_probe"])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        q1 = v.pending_prompts[0]
        assert q1.message.startswith("Child says malicious. Block 198.51.100.7?") and "Question 1 of 2: Block it?" in q1.message
        assert q1.options == ["Yes", "No"]
        await answer(dev_env.client, q1, "Yes")
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts and v.pending_prompts[0].id != q1.id)
        q2 = v.pending_prompts[0]
        assert q2.options == ["Submit"] and "Question 2 of 2: Why?" in q2.message
        await answer(dev_env.client, q2, "Submit", comment="known C2")
        v = await stack.wait_for(r.container_id, done)
    comments = texts(v)
    assert "child saw 8 engines" in comments  # the simulator's verdict on 198.51.100.7
    [line] = [t for t in comments if t.startswith("answers=")]
    assert line.startswith("answers=['Yes', 'known C2'] by bob; seen=")
    assert line.endswith("missing=''")
    assert sorted(eval(line.split("seen=")[1].split("; missing")[0])) == ["child", "vt_0", "vt_1"]
    assert "198.51.100.7" in str(sim.state()["effects"]["panos"]["blocked_ips"])
    actions = [(a.kind, a.action) for a in sorted(v.state.runs[0].outcome.actions, key=lambda a: a.index)]
    assert ("action", "ip reputation") in actions and actions.count(("prompt", "prompt")) == 2
    assert actions[-1] == ("action", "block ip")
    assert [a.asset for a in v.state.runs[0].outcome.actions if a.action == "ip reputation"].count("virustotal_prod") == 3


NATIVE_CHILD = """
    def on_start(container):
        phantom.playbook("universal_alert_enrichment", container=container, name="native", callback=after)

    def after(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "native child %s: %s" % (results[0]["status"], success))
"""


async def test_native_child_playbook(dev_env, task_queue, phantom_assets_file, phantom_dir, sim):
    write(phantom_dir, "native_probe", NATIVE_CHILD)
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceAddress": "81.2.69.160"}), playbooks=["native_probe"])
        v = await stack.wait_for(r.container_id, done)
    assert "native child success: True" in texts(v)
    assert any(a.label == "enrichment" for a in v.state.container.artifacts)
    assert {a.action for a in v.state.runs[0].outcome.actions} == {"ip reputation", "geolocate ip", "whois ip"}


@pytest.mark.parametrize(("files", "message"), [
    ({"broken": "def on_start(container):\n    phantom.act(\n"}, "broken.py, line 2: does not compile"),
    ({"no_start": "def start(container):\n    pass\n"}, "no_start.py: defines no on_start(container) function"),
    ({"phishing_triage_automation": "def on_start(container):\n    pass\n"},
     "is the name of a native playbook. Fix: rename the file"),
    ({"My-Playbook": "def on_start(c):\n    pass\n", "my_playbook": "def on_start(c):\n    pass\n"},
     "its name 'my_playbook' is also the name of My-Playbook.py. Fix: rename one of the files"),
])
def test_loading_errors_name_the_file_line_and_fix(tmp_path: Path, files: dict[str, str], message: str):
    for stem, text in files.items():
        (tmp_path / f"{stem}.py").write_text(text)
    with pytest.raises(ConfigError) as e:
        load_directory(tmp_path, None, NATIVE)
    assert message in str(e.value) and "Fix:" in str(e.value)


def test_names_versions_and_metadata(tmp_path: Path):
    (tmp_path / "VirusTotal_v3_Lookup.py").write_text('"""Look things up."""\ndef on_start(container):\n    pass\n')
    (tmp_path / "VirusTotal_v3_Lookup.json").write_text(
        '{"coa": {"input_spec": [{"name": "ip", "contains": ["ip"]}], "data": {"description": "From JSON"}}}')
    (tmp_path / "README.md").write_text("not a playbook")
    [src] = load_directory(tmp_path, tmp_path / "store", NATIVE).values()
    assert (src.name, src.title, src.description) == ("virustotal_v3_lookup", "VirusTotal V3 Lookup", "From JSON")
    assert [(i.name, i.contains) for i in src.inputs] == [("ip", ("ip",))]
    assert (tmp_path / "store" / f"{src.sha256}.py").read_text() == (tmp_path / "VirusTotal_v3_Lookup.py").read_text()
    assert len(src.version) == 12 and uuid.UUID(int=int(src.sha256[:32], 16))


WAITS = """
    def on_start(container):
        phantom.prompt(container=container, user="soc_tier2", message="go?", options=["Go"], callback=cb, name="ask")

    def cb(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "%s answered %s" % (VERSION, results.get("response")))
"""


async def test_a_waiting_run_keeps_its_version_after_the_file_changes(dev_env, task_queue, phantom_assets_file,
                                                                      phantom_dir, sim, tmp_path, monkeypatch):
    from workflows.phantom import loader

    monkeypatch.setenv("SOAR_DATA_DIR", str(tmp_path / "data"))
    write(phantom_dir, "versioned", WAITS.replace("VERSION", '"v1"'))
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        old = await stack.start(container("events", {"sourceAddress": "10.0.0.1"}), playbooks=["versioned"])
        v = await stack.wait_for(old.container_id, lambda v: v.pending_prompts)
        waiting = v.pending_prompts[0]
    write(phantom_dir, "versioned", WAITS.replace("VERSION", '"v2"'))
    loader._VERSIONS.clear()  # a new worker process: only the store on disk remembers v1
    async with run_stack(dev_env.client, task_queue, phantom_assets_file) as stack:
        assert list((tmp_path / "data" / "phantom").glob("*.py"))
        new = await stack.start(container("events", {"sourceAddress": "10.0.0.2"}), playbooks=["versioned"])
        await answer(dev_env.client, waiting, "Go")
        v_old = await stack.wait_for(old.container_id, done)
        v = await stack.wait_for(new.container_id, lambda v: v.pending_prompts)
        await answer(dev_env.client, v.pending_prompts[0], "Go")
        v_new = await stack.wait_for(new.container_id, done)
    assert "v1 answered Go" in texts(v_old) and "v2 answered Go" in texts(v_new)
    assert v_old.state.runs[0].outcome.version != v_new.state.runs[0].outcome.version


async def test_a_missing_version_fails_the_run_with_the_fix(dev_env, task_queue, phantom_assets_file, sim):
    from core.models import PlaybookInput

    async with run_stack(dev_env.client, task_queue, phantom_assets_file):
        out = await dev_env.client.execute_workflow(
            "PhantomPlaybook", PlaybookInput(container=container("events"), container_workflow_id="container/none",
                                             playbook="gone", playbook_sha256="0" * 64),
            id=f"playbook/gone/{uuid.uuid4().hex}", task_queue=task_queue, result_type=__import__(
                "core.models", fromlist=["PlaybookOutcome"]).PlaybookOutcome)
    assert out.status == "failed"
    assert out.error.startswith("Phantom playbook 'gone' version 0000000000") and "Fix: restore" in out.error


OFF_TARGET = """
    def on_start(container):
        phantom.prompt(container=container, user="soc_tier2", message="contain?", options=["Yes", "No"],
                       callback=go, name="ask")

    def go(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.act("quarantine device", parameters=[{"hostname": "WORKSTATION-042"}], assets=["crowdstrike_prod"],
                    name="shown")
        phantom.act("quarantine device", parameters=[{"hostname": "WORKSTATION-777"}], assets=["crowdstrike_prod"],
                    name="not_shown", callback=after)

    def after(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "not_shown success=%s: %s" % (success, results[0]["action_results"][0]["message"]))
"""


async def test_an_answer_approves_only_what_the_prompt_showed(ts_env, task_queue, phantom_assets_file, phantom_dir,
                                                              sim):
    """In the answered chain, a quarantine of the host the prompt showed runs; one of another host asks first,
    and nobody answering that (15 minutes, default Deny) leaves it undone."""
    from datetime import timedelta

    write(phantom_dir, "off_target", OFF_TARGET)
    async with run_stack(ts_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("edr", {"sourceHostName": "WORKSTATION-042"}), playbooks=["off_target"])
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        await answer(ts_env.client, v.pending_prompts[0], "Yes")
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts and v.pending_prompts[0].options ==
                                 ["Approve", "Deny"], timeout=60)
        gate = v.pending_prompts[0]
        assert [(t.kind, t.value) for t in gate.targets] == [("host", "WORKSTATION-777")]
        await ts_env.sleep(timedelta(minutes=15, seconds=5))
        v = await stack.wait_for(r.container_id, done, timeout=60)
    assert sim.state()["effects"]["crowdstrike"]["contained"] == ["WORKSTATION-042"]
    comments = texts(v)
    assert "not_shown success=False: quarantine device not approved: no answer from soc_tier2 in time " \
           "(default Deny)" in comments
    assert "No response from soc_tier2 within 15m 0s; took the default: Deny." in comments


OPS = """
    from datetime import datetime, timedelta

    def on_start(container):
        arts = phantom.get_artifacts(container_id=container["id"])
        ok, msg, full = phantom.get_artifacts(container_id=container["id"], full_data=True)
        phantom.comment(container, "types=%s ids=%s same=%s" % ([a["cef"].get("type") for a in arts],
                                                                [a["id"] for a in full], arts == full))
        phantom.set_label(container, "investigation")
        phantom.set_severity(container, "High")
        phantom.pin(container=container, message="Top IP", data="198.51.100.7", pin_style="red")
        phantom.add_note(container=container, title="Summary", content="**bad**", note_format="markdown")
        ok, msg, new_id = phantom.add_artifact(container=container, cef_data={"destinationAddress": "198.51.100.7"},
                                               label="enrichment", name="added", severity="Low")
        phantom.comment(container, "added id=%d label=%s" % (new_id, phantom.get_container(container["id"])["label"]))
        phantom.act("block ip", parameters=[{"ip": "198.51.100.7"}], assets=["palo_alto_prod"], name="later",
                    start_time=datetime.now() + timedelta(minutes=5), reviewer="soc_manager", callback=blocked)

    def blocked(action=None, success=None, container=None, results=None, handle=None, **kwargs):
        phantom.comment(container, "blocked=%s at %s" % (success, datetime.now().isoformat()))
        phantom.discontinue()
        phantom.comment(container, "the block itself runs to its end")

    def on_finish(container, summary):
        phantom.comment(container, "on_finish ran")
"""


async def test_container_ops_reviewer_start_time_and_discontinue(ts_env, task_queue, phantom_assets_file, phantom_dir,
                                                                  sim):
    from datetime import timedelta

    write(phantom_dir, "ops_probe", OPS)
    async with run_stack(ts_env.client, task_queue, phantom_assets_file) as stack:
        r = await stack.start(container("events", {"sourceAddress": "10.0.0.1"}, {"requestURL": "http://x.example/"},
                                        {"sourceAddress": "10.0.0.2", "sourceUserName": "jdoe"}),
                              playbooks=["ops_probe"])
        v = await stack.wait_for(r.container_id, lambda v: v.state.container.label == "investigation", timeout=60)
        assert not v.pending_prompts  # the act waits for its start_time before asking its reviewer
        await ts_env.sleep(timedelta(minutes=5, seconds=5))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        gate = v.pending_prompts[0]
        # the reviewer is asked once start_time has passed
        assert gate.role == "soc_manager" and gate.created - v.state.runs[0].started >= timedelta(minutes=5)
        assert v.state.container.label == "investigation"
        await answer(ts_env.client, gate, "Approve", responder="carol", roles=("soc_manager",))
        v = await stack.wait_for(r.container_id, done, timeout=60)
    comments = texts(v)
    assert "types=['ip', 'url', None] ids=[1, 2, 3] same=True" in comments
    assert "Pinned: Top IP (198.51.100.7)" in comments and "Note: Summary\n\n**bad**" in comments
    assert "added id=4 label=investigation" in comments
    assert any(c.startswith("blocked=True at ") for c in comments)
    assert any(c.startswith("Playbook Ops Probe discontinued itself (ops_probe.py line ") for c in comments)
    assert "the block itself runs to its end" in comments and "on_finish ran" not in comments
    assert v.state.container.severity == "high"
    added = v.state.container.artifacts[-1]
    assert (added.name, added.label, added.severity, added.added_by) == ("added", "enrichment", "low", "ops_probe")
    assert "198.51.100.7" in str(sim.state()["effects"]["panos"]["blocked_ips"])
