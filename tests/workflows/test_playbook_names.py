"""A wrong name in a playbook is a bug, not a failed lookup: the start-up check names the file and line, a
name only known at run time fails the run with the fix, and a side-effecting action must say so."""

from __future__ import annotations

import inspect
import uuid
from pathlib import Path

import pytest
from temporalio.worker import Worker

from activities import discover_connectors
from core.errors import ConfigError
from core.models import Artifact, Container, PlaybookInput, PlaybookOutcome, RunStatus
from core.runtime import AssetStore
from tests.workflows.playbooks.names import MisspeltLiterals, NamesFromParams
from workflows import all_workflows
from workflows.checks import check_playbooks


def _line_of(cls: type, text: str) -> int:
    lines, start = inspect.getsourcelines(cls)
    return start + next(i for i, line in enumerate(lines) if text in line)


def test_start_up_check_names_file_line_and_fix(assets_file: Path):
    store = AssetStore.load(assets_file, discover_connectors())
    with pytest.raises(ConfigError) as e:
        check_playbooks([MisspeltLiterals], store.assets, discover_connectors())
    msg = str(e.value)
    src = inspect.getsourcefile(MisspeltLiterals)
    assert f"{src}:{_line_of(MisspeltLiterals, 'url reputaton')}: VirusTotal has no action 'url reputaton'" in msg
    assert "use one of: domain reputation, file reputation, ip reputation, test connectivity, url reputation" in msg
    assert f"{src}:{_line_of(MisspeltLiterals, 'uri=')}: VirusTotal 'url reputation' has no parameter 'uri'" in msg
    assert f"{src}:{_line_of(MisspeltLiterals, 'virustotall')}: act('virustotall', ...) names no asset" in msg
    assert msg.count(src or "") == 3, "the correct call is not reported"


def test_the_shipped_playbooks_pass_the_check(assets_file: Path):
    store = AssetStore.load(assets_file, discover_connectors())
    check_playbooks(all_workflows(), store.assets, discover_connectors())


def test_the_worker_refuses_to_start_on_a_misspelt_playbook(assets_file: Path, monkeypatch: pytest.MonkeyPatch):
    """worker.load_store runs the check over all_workflows(): add the bad playbook to what it loads."""
    import worker
    from core.settings import Settings

    monkeypatch.setattr("workflows.all_workflows", lambda: [*all_workflows(), MisspeltLiterals])
    with pytest.raises(ConfigError, match="url reputaton"):
        worker.load_store(Settings(assets_file=assets_file))


@pytest.mark.parametrize(("asset", "action", "param", "kind", "names"), [
    ("virustotal", "url reputaton", "url", "has no action 'url reputaton'", "url reputation"),
    ("virustotal", "url reputation", "uri", "'url reputation' has no parameter 'uri'", "Fix: use url"),
    ("virustotall", "url reputation", "url", "no asset or connector named 'virustotall'", "virustotal"),
])
async def test_a_name_known_only_at_run_time_fails_the_run(dev_env, assets_file, task_queue, asset, action, param,
                                                           kind, names):
    store = AssetStore.load(assets_file, discover_connectors())
    c = Container(id="SOAR-NAMES", name="names", artifacts=[Artifact(cef={"requestURL": "http://x.example/"})])
    inp = PlaybookInput(container=c, container_workflow_id="container/SOAR-NAMES", routes=store.routes(),
                        params={"asset": asset, "action": action, "param": param})
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[NamesFromParams]):
        out = await dev_env.client.execute_workflow(
            "NamesFromParams", inp, id=f"names-{uuid.uuid4().hex[:8]}", task_queue=task_queue,
            result_type=PlaybookOutcome)
    assert out.status == RunStatus.FAILED
    assert kind in (out.error or "") and names in (out.error or "")
    assert out.actions == [], "nothing ran"
    assert out.final and any("Playbook Names from params failed" in x for x in out.final.comments)


def test_a_side_effecting_action_without_read_only_does_not_import(tmp_path: Path):
    src = tmp_path / "careless_actions.py"
    src.write_text('from pydantic import BaseModel\n'
                   'from core.connector import action\n\n\n'
                   'class P(BaseModel):\n    ip: str\n\n\n'
                   '@action("block ip", params=P)\n'
                   'async def block_ip(ctx, p):\n    """Block it."""\n')
    import importlib.util

    spec = importlib.util.spec_from_file_location("careless_actions", src)
    assert spec and spec.loader
    with pytest.raises(TypeError, match="read_only"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
