"""Visibility queries from the search-attribute keys: exact text, and no value can break out of a quote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.models import Severity
from core.temporal import SA_AWAITING_PROMPT, SA_LABEL, SA_SEVERITY, SA_STATUS
from core.visibility import (
    EXECUTION_STATUS,
    WORKFLOW_TYPE,
    Filter,
    UnsafeFilterValue,
    literal,
    pending_prompts,
    playbook_runs,
    rfc3339,
)

T0 = datetime(2024, 8, 21, 9, 30, tzinfo=UTC)


def test_literals():
    assert literal(True) == "true" and literal(False) == "false"
    assert literal(42) == "42"
    assert literal("phishing") == "'phishing'"
    assert literal(Severity.HIGH) == "'high'"
    assert literal(T0) == "'2024-08-21T09:30:00.000000Z'"
    assert rfc3339(datetime(2024, 8, 21, 11, 30, tzinfo=timezone(timedelta(hours=2)))) == "2024-08-21T09:30:00.000000Z"
    assert rfc3339(datetime(2024, 8, 21, 9, 30)) == "2024-08-21T09:30:00.000000Z"  # naive = UTC


@pytest.mark.parametrize("value", ["x' OR SoarKind='container", "a\\", "", "x" * 257, "new\nline", "é"])
def test_unsafe_values_are_refused(value):
    with pytest.raises(UnsafeFilterValue):
        literal(value)
    with pytest.raises(UnsafeFilterValue):
        Filter().where(SA_LABEL, value)


def test_filters_compose_without_changing_the_base():
    base = Filter().where(WORKFLOW_TYPE, "ContainerWorkflow")
    q = base.where_set(SA_LABEL, "phishing").where_set(SA_SEVERITY, None).where(SA_STATUS, "closed", "!=")
    assert str(base) == "WorkflowType = 'ContainerWorkflow'"
    assert str(q) == "WorkflowType = 'ContainerWorkflow' AND SoarLabel = 'phishing' AND SoarStatus != 'closed'"
    assert q.group_by(EXECUTION_STATUS) == f"{q} GROUP BY ExecutionStatus"


def test_playbook_runs_and_pending_prompts():
    assert str(playbook_runs()) == "SoarKind = 'playbook'"
    assert str(playbook_runs(since=T0, until=T0 + timedelta(days=1), playbook="containment_decision",
                             container="SOAR-AAAAAAAAAAAA", running=False)) == (
        "SoarKind = 'playbook' AND StartTime >= '2024-08-21T09:30:00.000000Z' AND "
        "StartTime < '2024-08-22T09:30:00.000000Z' AND SoarPlaybook = 'containment_decision' AND "
        "SoarContainerId = 'SOAR-AAAAAAAAAAAA' AND ExecutionStatus != 'Running'")
    assert str(pending_prompts()) == (
        f"SoarKind = 'playbook' AND ExecutionStatus = 'Running' AND {SA_AWAITING_PROMPT.name} = true")
