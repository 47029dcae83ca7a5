"""Replay every saved history (tests/histories/) against the current workflow code: a playbook change that
would break runs waiting on prompts fails here. Guard such changes with `workflow.patched(...)`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows import all_workflows

HERE = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(p for p in HERE.glob("*.json") if p.name != "workflow_ids.json")
# The recorded runs' workflow ids: a signed approval is bound to its run, so a replay must run under the
# same id (histories recorded before approvals were signed replay under their file name).
IDS: dict[str, str] = json.loads((HERE / "workflow_ids.json").read_text())


def test_corpus_is_not_empty():
    assert len(HISTORIES) >= 6
    assert all(p.name in IDS for p in HISTORIES if p.name.startswith("phantom_")), "record with tests.histories.record"
    kinds = {p.stem.split("__")[-1] for p in HISTORIES}
    assert {"ContainerWorkflow", "PhishingTriageAutomation", "ContainmentDecision",
            "UniversalAlertEnrichment"} <= kinds


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path):
    hist = WorkflowHistory.from_json(IDS.get(path.name, path.stem), path.read_text())
    replayer = Replayer(workflows=all_workflows(), data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(hist, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
