"""Replay every saved history (tests/histories/) against the current workflow code: a playbook change that
would break runs waiting on prompts fails here. Guard such changes with `workflow.patched(...)`."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows import all_workflows

HERE = Path(__file__).parent.parent / "histories"
HISTORIES = sorted(HERE.glob("*.json"))
# The workflow id of each history that needs it (signed answers are bound to their run's id); older ones
# replay under their file name.
IDS = dict(line.split("\t", 1) for line in (HERE / "workflow_ids.tsv").read_text().splitlines() if "\t" in line) \
    if (HERE / "workflow_ids.tsv").exists() else {}


def test_corpus_is_not_empty():
    assert len(HISTORIES) >= 6
    kinds = {p.stem.split("__")[-1] for p in HISTORIES}
    assert {"ContainerWorkflow", "PhishingTriageAutomation", "ContainmentDecision",
            "UniversalAlertEnrichment"} <= kinds


@pytest.mark.parametrize("path", HISTORIES, ids=lambda p: p.stem)
async def test_replay(path: Path):
    hist = WorkflowHistory.from_json(IDS.get(path.stem, path.stem), path.read_text())
    replayer = Replayer(workflows=all_workflows(), data_converter=pydantic_data_converter)
    result = await replayer.replay_workflow(hist, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure}"
