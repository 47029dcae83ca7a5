"""The result cache of read-only actions, per worker process: answers kept for the asset's `cache_ttl_s`,
identical calls in flight shared (single-flight), and claims made before dispatch.

Two doors lead in:

- `fetch(key, ttl, call)`, from the action's activity: a fresh answer is returned as it is; otherwise one call
  runs and every identical request meanwhile waits for it.
- `lookup(key, waiter)`, from the `soar.cached_result` local activity that a workflow runs *before* it
  dispatches a lookup to a rate-limited asset queue: a fresh answer comes back at once (no quota spent, no
  queue); an identical call already claimed or running adds the caller as a waiter, who is sent the answer
  (`notify`, a signal) when it arrives; otherwise the caller claims the key and dispatches the one call.

A claim lapses after `claim_s` (the claimant's activity may run in another worker process, or not at all);
the claimant settles it (`settle`) when its answer came from elsewhere or did not come, so waiters never
wait longer than the claimant. Failed answers are never cached.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from core.models import ActionResult
from core.models.actions import CacheInfo

log = logging.getLogger("soar.cache")

Key = tuple[str, str, str]  # (asset, action, canonical JSON of the parameters)
Outcome = Literal["hit", "shared", "miss"]
Notify = Callable[[str, str, str, ActionResult | None], Awaitable[None]]  # workflow id, run id, token, answer
Count = Callable[[str, Outcome], None]  # asset, outcome


@dataclass
class _Flight:
    """One call for a key: claimed by a workflow about to dispatch it, or running in this process."""

    future: asyncio.Future[ActionResult]
    running: bool
    expires: float
    waiters: list[tuple[str, str, str]] = field(default_factory=list)


def _nothing(asset: str, outcome: Outcome) -> None:
    return None


class ResultCache:
    """Answers by key with an expiry, plus the calls in flight (see the module docstring).

    Args:
        max_entries: past this many answers the cache starts again empty (alert storms bring many one-offs).
        count: called once per answer given (`hit`, `shared`) or vendor call made (`miss`), for metrics.
    """

    def __init__(self, max_entries: int = 50_000, count: Count = _nothing,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.process = uuid.uuid4().hex[:12]  # tells the claimant whether its answer was cached here
        self.notify: Notify | None = None
        self._max, self._count, self._clock = max_entries, count, clock
        self._answers: dict[Key, tuple[float, ActionResult]] = {}
        self._flights: dict[Key, _Flight] = {}

    # ---- answers ---------------------------------------------------------------------------------------
    def get(self, key: Key) -> ActionResult | None:
        """A fresh answer (marked as served from the cache), or None."""
        hit = self._answers.get(key)
        if hit is None or hit[0] <= self._clock():
            return None
        return _as_hit(hit[1], self.process)

    def _store(self, key: Key, ttl: float, result: ActionResult) -> ActionResult:
        """Keep a successful answer (stamped with when and where it was fetched); returns it stamped."""
        stamped = result.model_copy(update={"cache": CacheInfo(stored_at=datetime.now(UTC), process=self.process)})
        if result.status == "success":
            if len(self._answers) >= self._max:
                self._answers.clear()
            self._answers[key] = (self._clock() + ttl, stamped)
        return stamped

    # ---- the activity's door ---------------------------------------------------------------------------
    async def fetch(self, key: Key, ttl: float, call: Callable[[], Awaitable[ActionResult]]) -> ActionResult:
        """The fresh answer, the answer of the identical call in flight, or the answer of `call()`.

        Raises:
            whatever `call()` raises (the waiters of a call nobody claimed see it too; a claimed key stays
            claimed, so the activity's retry takes it over again).
        """
        hit = self.get(key)
        if hit is not None:
            self._count(key[0], "hit")
            return hit
        flight = self._flights.get(key)
        if flight is not None and flight.running:
            try:
                shared = await asyncio.shield(flight.future)
            except asyncio.CancelledError:
                if not flight.future.cancelled():
                    raise  # this activity itself was cancelled
                return await self.fetch(key, ttl, call)  # the claim was given up: call now
            self._count(key[0], "shared")
            return _as_hit(shared, self.process)
        claimed = flight is not None
        if flight is None:
            flight = self._flights[key] = _Flight(asyncio.get_running_loop().create_future(), True, float("inf"))
        flight.running = True
        self._count(key[0], "miss")
        try:
            result = await call()
        except BaseException as e:
            if claimed:
                flight.running = False  # the claimant's retry takes it over again (or its settle ends it)
            else:
                self._flights.pop(key, None)
                flight.future.set_exception(e)
                flight.future.exception()  # retrieved: the waiters re-raise it themselves
                self._tell(key, flight, None)
            raise
        stamped = self._store(key, ttl, result)
        self._resolve(key, stamped)
        return stamped

    # ---- the workflow's door (before dispatch) -----------------------------------------------------------
    def lookup(self, key: Key, waiter: tuple[str, str, str],
               claim_s: float) -> tuple[Literal["hit", "wait", "miss"], ActionResult | None]:
        """`("hit", answer)`; `("wait", None)`: the caller is sent the answer of the identical call under way;
        `("miss", None)`: the caller claimed the key and dispatches the call itself."""
        hit = self.get(key)
        if hit is not None:
            self._count(key[0], "hit")
            return "hit", hit
        now = self._clock()
        flight = self._flights.get(key)
        live = flight is not None and (flight.running or flight.expires > now)
        if live and self.notify is not None:
            assert flight is not None
            flight.waiters.append(waiter)
            return "wait", None
        if live:  # nobody could tell the caller: it dispatches, and its activity shares the call
            return "miss", None
        if flight is None:
            self._flights[key] = _Flight(asyncio.get_running_loop().create_future(), False, now + claim_s)
        else:  # a lapsed claim: this caller takes it over (its waiters keep waiting, now for this call)
            flight.expires = now + claim_s
        return "miss", None

    def settle(self, key: Key, ttl: float, result: ActionResult | None) -> None:
        """The claimant's answer, fetched in another process (kept here too), or None when it failed: either
        way the claim ends and its waiters are told."""
        if result is not None and result.status == "success":
            self._resolve(key, self._store(key, ttl, result))
        else:
            self._resolve(key, None)

    def _resolve(self, key: Key, result: ActionResult | None) -> None:
        flight = self._flights.pop(key, None)
        if flight is None:
            return
        if not flight.future.done():
            if result is not None:
                flight.future.set_result(result)
            else:
                flight.future.cancel()
        self._tell(key, flight, result)

    def _tell(self, key: Key, flight: _Flight, result: ActionResult | None) -> None:
        """Send each waiter the answer (None: there is none; it dispatches the lookup itself)."""
        answer = _as_hit(result, self.process) if result is not None else None
        for wid, run_id, token in flight.waiters:
            if answer is not None:
                self._count(key[0], "shared")
            self._send(wid, run_id, token, answer)
        flight.waiters.clear()

    def _send(self, wid: str, run_id: str, token: str, result: ActionResult | None) -> None:
        notify = self.notify
        if notify is None:
            return

        async def send() -> None:
            try:
                await notify(wid, run_id, token, result)
            except Exception as e:  # the waiter times out and dispatches the lookup itself
                log.warning("could not hand a cached answer to %s: %s", wid, type(e).__name__)

        _TASKS.add(t := asyncio.get_running_loop().create_task(send()))
        t.add_done_callback(_TASKS.discard)


def _as_hit(r: ActionResult, process: str) -> ActionResult:
    """`r` marked as an answer the caller did not fetch itself."""
    info = r.cache or CacheInfo(stored_at=datetime.now(UTC), process=process)
    return r.model_copy(update={"cache": info.model_copy(update={"hit": True})})


_TASKS: set[asyncio.Task[None]] = set()  # keeps the notification tasks referenced until they finish
