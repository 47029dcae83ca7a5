"""The assets as a worker sees them, for the API: the catalogue (with unavailable assets and their reasons)
and `test connectivity` on one asset.

The API holds no vendor secret: it asks a worker, through this short workflow on the playbook queue, which
runs a local activity for the catalogue and the asset's own `test connectivity` activity on the asset's
queue (one attempt, secrets scrubbed from any error like every action's).
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.models import ActionInput, ActionResult
    from core.temporal import INTERNAL_RETRY
    from workflows.messages import MatchResult

TEST_TIMEOUT = timedelta(seconds=45)


class AssetInfo(BaseModel):
    """One configured asset (secrets redacted) and whether it can be used."""

    asset_name: str
    app: str
    connector: str | None
    product_vendor: str = ""
    product_name: str = ""
    configuration: dict[str, object] = Field(default_factory=dict, description="Secrets redacted")
    task_queue: str = ""
    rate_limited: bool = False
    actions: list[str] = Field(default_factory=list)
    available: bool = True
    reason: str | None = Field(default=None, description="Why it is unavailable (the configuration error)")


class AssetsRequest(BaseModel):
    """The catalogue, and optionally a connectivity test of one asset, or the asset routes."""

    test: str | None = None
    routes: bool = Field(default=False, description="Also the routes and prompt policy new containers start with")


class AssetsReply(BaseModel):
    """The catalogue and the test's result (`error` is the error type when it failed)."""

    assets: list[AssetInfo]
    tested: str | None = None
    result: ActionResult | None = None
    error: str | None = None
    routes: MatchResult | None = Field(default=None, description="When asked: routes and prompt policy")


@workflow.defn(name="SoarAssets")
class AssetsWorkflow:
    """List the assets; test one."""

    @workflow.run
    async def run(self, req: AssetsRequest) -> AssetsReply:
        """The worker's catalogue, and the connectivity test when asked."""
        assets: list[AssetInfo] = await workflow.execute_local_activity(
            "soar.asset_catalog", result_type=list[AssetInfo], start_to_close_timeout=timedelta(seconds=10),
            retry_policy=INTERNAL_RETRY)
        reply = AssetsReply(assets=assets, tested=req.test)
        if req.routes:
            reply.routes = await workflow.execute_local_activity(
                "soar.routes", result_type=MatchResult, start_to_close_timeout=timedelta(seconds=10),
                retry_policy=INTERNAL_RETRY)
        if req.test is None:
            return reply
        info = next((a for a in assets if a.asset_name == req.test), None)
        if info is None or not info.available or info.connector is None:
            reply.error = "AssetUnavailable" if info else "ConfigError"
            why = info.reason if info else f"no asset {req.test!r}"
            reply.result = ActionResult(status="failed", message=why or "unavailable")
            return reply
        try:
            reply.result = await workflow.execute_activity(
                f"{info.connector}.test_connectivity", ActionInput(asset=info.asset_name), task_queue=info.task_queue,
                start_to_close_timeout=TEST_TIMEOUT, retry_policy=RetryPolicy(maximum_attempts=1),
                summary=f"test connectivity: {info.asset_name}", result_type=ActionResult)
        except ActivityError as e:
            cause = e.cause
            reply.error = cause.type if isinstance(cause, ApplicationError) else "UnexpectedError"
            reply.result = ActionResult(status="failed", message=str(getattr(cause, "message", None) or cause or e))
        return reply
