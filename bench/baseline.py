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


# Per-operation costs (`python -m bench.run --only c`): the plain workflow with one thing added or changed, to
# price each Temporal operation a SOAR alert uses (docs/capacity.md).
@workflow.defn(name="BenchAlertUpsert")
class BenchAlertUpsert:
    """The plain workflow plus one search-attribute upsert (one visibility write)."""

    @workflow.run
    async def run(self, alert: str) -> list[str]:
        """Upsert, then the four lookups."""
        from temporalio.common import SearchAttributeKey

        workflow.upsert_search_attributes([SearchAttributeKey.for_keyword("SoarStatus").value_set("open")])
        return await BenchAlert().run(alert)


@workflow.defn(name="BenchAlertLocal")
class BenchAlertLocal:
    """The four lookups as local activities (no activity tasks on the server)."""

    @workflow.run
    async def run(self, alert: str) -> list[str]:
        """Run the four lookups in the workflow's own worker."""
        return list(await asyncio.gather(*(
            workflow.execute_local_activity(noop, f"{alert}/{i}", start_to_close_timeout=timedelta(seconds=30))
            for i in range(4))))


@workflow.defn(name="BenchParent")
class BenchParent:
    """A parent that only runs the plain workflow as its child (the two-workflow shape, nothing else)."""

    @workflow.run
    async def run(self, alert: str) -> str:
        """Run the child."""
        await workflow.execute_child_workflow(BenchAlert.run, alert, id=f"{workflow.info().workflow_id}/playbook")
        return alert


@workflow.defn(name="BenchParentLocal")
class BenchParentLocal:
    """A parent whose child runs the four lookups as local activities."""

    @workflow.run
    async def run(self, alert: str) -> str:
        """Run the child."""
        await workflow.execute_child_workflow(BenchAlertLocal.run, alert,
                                              id=f"{workflow.info().workflow_id}/playbook")
        return alert


COST_TYPES = ["BenchAlert", "BenchAlertUpsert", "BenchAlertLocal", "BenchParent", "BenchParentLocal"]
