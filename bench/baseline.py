"""The throughput baseline: a plain workflow running 4 no-op activities in parallel (the shape of a
phishing alert's 4 lookups) on its own task queue, in its own worker process, with the same worker knobs
as the SOAR worker. What Temporal itself does on this machine; the ceiling SOAR is compared with."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow

WORKFLOW_TYPE = "BenchAlert"


@activity.defn(name="bench.noop")
async def noop(indicator: str) -> str:
    """Does nothing (the vendor call costs 0 ms, as the simulator does at latency 0)."""
    return indicator


@workflow.defn(name=WORKFLOW_TYPE)
class BenchAlert:
    """Four no-op activities in parallel, then complete."""

    @workflow.run
    async def run(self, alert: str) -> list[str]:
        """Run the four lookups."""
        return list(await asyncio.gather(*(
            workflow.execute_activity(noop, f"{alert}/{i}", start_to_close_timeout=timedelta(seconds=30))
            for i in range(4))))


# The same Temporal shape as a SOAR alert, with none of SOAR's code: a parent ("container") that runs a
# local activity, carries search attributes, upserts them twice and runs a child ("playbook") with the
# 4 no-op activities. SOAR / shape = the cost of our code; shape / plain = the cost of the shape.
SHAPE_TYPE = "BenchShapeContainer"


@activity.defn(name="bench.match")
async def match(alert: str) -> list[str]:
    """Stands in for trigger matching (a local activity)."""
    return ["bench_playbook"]


@workflow.defn(name="BenchShapePlaybook")
class BenchShapePlaybook:
    """The child: four no-op activities in parallel."""

    @workflow.run
    async def run(self, alert: str) -> list[str]:
        """Run the lookups."""
        return list(await asyncio.gather(*(
            workflow.execute_activity(noop, f"{alert}/{i}", start_to_close_timeout=timedelta(seconds=30))
            for i in range(4))))


@workflow.defn(name=SHAPE_TYPE)
class BenchShapeContainer:
    """The parent: local activity, search attribute upserts, one child, then complete."""

    @workflow.run
    async def run(self, alert: str) -> str:
        """Match, run the child, close."""
        from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

        status = SearchAttributeKey.for_keyword("SoarStatus")
        playbooks = await workflow.execute_local_activity(match, alert, start_to_close_timeout=timedelta(seconds=10))
        workflow.upsert_search_attributes([status.value_set("open"),
                                           SearchAttributeKey.for_keyword_list("SoarPlaybook").value_set(playbooks)])
        await workflow.execute_child_workflow(
            BenchShapePlaybook.run, alert, id=f"{workflow.info().workflow_id}/playbook",
            search_attributes=TypedSearchAttributes([
                SearchAttributePair(SearchAttributeKey.for_keyword("SoarKind"), "playbook")]))
        workflow.upsert_search_attributes([status.value_set("closed")])
        return alert
