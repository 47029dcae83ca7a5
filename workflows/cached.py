"""Cached answers before the quota: the workflow side of `core.cache`.

A read-only lookup on a rate-limited asset that caches (`AssetRoute.cache_ttl_s`) first asks the worker's
cache through a local activity (`soar.cached_result`, on the playbook worker, in the process whose asset
workers fill that cache). A fresh answer is used at once: no task on the asset's queue, no quota. When an
identical lookup is already under way, this run waits for its answer, which the worker signals
(`soar.cache_answer`); only when the key is nobody's does this run claim it and dispatch the one call. The
claimant settles its claim (`soar.cache_settle`) when its answer was fetched by another worker process, or
failed, so its waiters never wait for an answer that will not come to them.

Everything here is an optimisation: a failed local activity or a lapsed wait falls back to dispatching the
lookup, which the activity still answers from the cache when it can.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import FailureError

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult
    from workflows.messages import CacheAnswer, CacheDelivery, CacheLookup, CacheSettle

if TYPE_CHECKING:
    from workflows.actions import ResolvedAction

SIGNAL = "soar.cache_answer"
LOCAL_TIMEOUT = timedelta(seconds=10)
LOCAL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3)


@dataclass
class _Answers:
    """The answers signalled to this run, by lookup token (one per run, made on first use)."""

    by_token: dict[str, CacheDelivery] = field(default_factory=dict)

    def deliver(self, d: CacheDelivery) -> None:
        self.by_token[d.token] = d


def _answers() -> _Answers:
    inst = workflow.instance()
    box: _Answers | None = getattr(inst, "_soar_cached_answers", None)
    if box is None:
        box = _Answers()
        inst._soar_cached_answers = box
        workflow.set_signal_handler(SIGNAL, box.deliver)
    return box


@dataclass(frozen=True)
class Before:
    """What the cache said before dispatch: the answer, or (for a claim) the process that holds it."""

    result: ActionResult | None = None
    claimed_in: str | None = None


def applies(ra: ResolvedAction) -> bool:
    """Whether `ra` asks the cache before its dispatch (the worker re-checks read-only and high impact)."""
    return (ra.spec is not None and ra.spec.read_only and not ra.high_impact and ra.route.rate_limited
            and ra.route.cache_ttl_s > 0 and ra.spec.name != "test connectivity")


async def before_dispatch(ra: ResolvedAction, token: str) -> Before:
    """Ask the cache; wait for an identical lookup under way. Call only when `applies(ra)`."""
    assert ra.spec is not None
    budget = ra.spec.budget
    info = workflow.info()
    box = _answers()  # the handler exists before any answer can be signalled
    q = CacheLookup(asset=ra.route.asset, action=ra.spec.name, params=ra.params, workflow_id=info.workflow_id,
                    run_id=info.run_id, token=token, claim_s=budget.total_seconds())
    try:
        ans: CacheAnswer = await workflow.execute_local_activity(
            "soar.cached_result", q, result_type=CacheAnswer, start_to_close_timeout=LOCAL_TIMEOUT,
            retry_policy=LOCAL_RETRY, summary=f"cache: {ra.spec.name}")
    except FailureError:
        return Before()
    if ans.outcome == "hit":
        return Before(result=ans.result)
    if ans.outcome == "miss":
        return Before(claimed_in=ans.process)
    if ans.outcome == "wait":
        try:
            await workflow.wait_condition(lambda: token in box.by_token, timeout=budget,
                                          timeout_summary=f"identical {ra.spec.name} under way")
        except TimeoutError:
            return Before()
        return Before(result=box.by_token.pop(token).result)
    return Before()


async def after_dispatch(ra: ResolvedAction, before: Before, result: ActionResult | None) -> None:
    """End this run's claim where it is held, unless the answer was fetched (and cached) there."""
    if before.claimed_in is None or ra.spec is None:
        return
    ok = result is not None and result.status == "success"
    if ok and result is not None and result.cache is not None and result.cache.process == before.claimed_in:
        return
    try:
        await workflow.execute_local_activity(
            "soar.cache_settle", CacheSettle(asset=ra.route.asset, action=ra.spec.name, params=ra.params,
                                             result=result if ok else None),
            start_to_close_timeout=LOCAL_TIMEOUT, retry_policy=LOCAL_RETRY, summary=f"cache settle: {ra.spec.name}")
    except FailureError:
        return  # the claim lapses by itself
