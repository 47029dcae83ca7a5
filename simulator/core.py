"""Simulator plumbing shared by the vendor modules: side-effect state, call counters, fault injection
and per-vendor latency. Vendor modules only add routes; they never special-case the connectors.

Fault injection (`POST /_sim/faults`):
    {"vendor": "virustotal", "status": 429, "count": 3, "retry_after": 2}
    {"vendor": "crowdstrike", "status": 503, "duration_s": 120}
    {"vendor": "servicenow", "status": 200, "count": 1, "body": "<html>oops</html>", "content_type": "text/html"}
    {"vendor": "abuseipdb", "latency_ms": 2000, "count": 1}
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, Field

ErrorFormatter = Callable[[int, str, dict[str, str]], Response]


class Fault(BaseModel):
    """One injected fault for a vendor."""

    vendor: str
    status: int | None = Field(default=None, ge=100, le=599)
    count: int | None = Field(default=None, ge=1, description="Next N calls; None with duration_s = time-boxed")
    duration_s: float | None = Field(default=None, gt=0)
    retry_after: float | None = Field(default=None, ge=0, description="Seconds; rendered in the vendor's header")
    latency_ms: float = Field(default=0, ge=0, le=120_000)
    body: str | None = None
    content_type: str | None = None
    message: str = "injected fault"
    expires_at: float | None = None


class SimState:
    """Everything the simulator remembers: side effects, calls, faults, latencies."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget everything (tests call `POST /_sim/reset`)."""
        self.effects: dict[str, dict[str, Any]] = defaultdict(dict)
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.faults: list[Fault] = []
        self.latency_ms: dict[str, float] = {}
        self.call_log: list[dict[str, Any]] = []
        self.quota_per_minute: dict[str, int] = {}
        self.job_seconds: dict[str, float] = {}  # vendor -> how long its asynchronous jobs (PAN-OS commits) run
        self._windows: dict[str, deque[float]] = defaultdict(deque)

    def over_quota(self, vendor: str) -> float | None:
        """Seconds until a slot frees when `vendor`'s per-minute quota (sliding window) is used up."""
        limit = self.quota_per_minute.get(vendor)
        if not limit:
            return None
        now = time.monotonic()
        w = self._windows[vendor]
        while w and now - w[0] >= 60.0:
            w.popleft()
        if len(w) >= limit:
            return 60.0 - (now - w[0])
        w.append(now)
        return None

    def effect(self, vendor: str, kind: str, default: Any) -> Any:
        """The side-effect store `kind` of `vendor` (e.g. `("crowdstrike", "contained")`)."""
        return self.effects[vendor].setdefault(kind, default)

    def add_fault(self, fault: Fault) -> None:
        """Queue a fault; a time-boxed one gets its expiry now."""
        if fault.duration_s is not None:
            fault.expires_at = time.monotonic() + fault.duration_s
        self.faults.append(fault)

    def take_fault(self, vendor: str) -> Fault | None:
        """The fault that applies to this call of `vendor`, consuming one use of a counted fault."""
        now = time.monotonic()
        for f in list(self.faults):
            if f.vendor != vendor:
                continue
            if f.expires_at is not None and now >= f.expires_at:
                self.faults.remove(f)
                continue
            if f.count is not None:
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
            return f
        return None

    def record(self, vendor: str, status: int, path: str) -> None:
        """Count a call and the status it got."""
        self.statuses[f"{vendor}:{status}"] += 1
        if len(self.call_log) < 100_000:
            self.call_log.append({"vendor": vendor, "status": status, "path": path, "t": time.time()})

    def snapshot(self) -> dict[str, Any]:
        """JSON view for `GET /_sim/state`."""
        def plain(v: Any) -> Any:
            if isinstance(v, set):
                return sorted(v)
            if isinstance(v, dict):
                return {str(k): plain(x) for k, x in v.items()}
            if isinstance(v, list):
                return [plain(x) for x in v]
            return v

        return {
            "effects": plain(dict(self.effects)),
            "calls": dict(self.calls),
            "statuses": dict(self.statuses),
            "faults": [f.model_dump() for f in self.faults],
            "latency_ms": self.latency_ms,
            "job_seconds": self.job_seconds,
            "quota_per_minute": self.quota_per_minute,
        }


class FaultResponse(Exception):  # noqa: N818 - control flow, carries the response
    """Raised by `gate` to answer with an injected fault; turned into the response by the app."""

    def __init__(self, response: Response) -> None:
        self.response = response


def sim_state(request: Request) -> SimState:
    """The simulator state of the running app."""
    return request.app.state.sim  # type: ignore[no-any-return]


async def admit(st: SimState, vendor: str) -> tuple[Fault | None, float | None]:
    """Count a call of `vendor` and apply its latency (configured plus the fault's).

    Returns:
        The injected fault that answers this call (None: answer normally) and, when there is none, the
        seconds until a slot of the vendor's quota frees (None: within quota). Used by HTTP and LDAP alike.
    """
    st.calls[vendor] += 1
    fault = st.take_fault(vendor)
    latency = st.latency_ms.get(vendor, 0.0) + (fault.latency_ms if fault else 0.0)
    if latency:
        await asyncio.sleep(latency / 1000.0)
    if fault is None or fault.status is None:
        return None, st.over_quota(vendor)
    return fault, None


async def gate(request: Request, vendor: str, error: ErrorFormatter) -> None:
    """Call at the start of every vendor handler: counts the call, applies latency and faults.

    Raises:
        FaultResponse: when an injected fault answers this call.
    """
    fault, wait = await admit(sim_state(request), vendor)
    if fault is None or fault.status is None:
        if wait is not None:
            raise FaultResponse(error(429, "quota exceeded", {"Retry-After": str(max(1, int(wait + 0.999)))}))
        return
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(int(round(fault.retry_after)))
    if fault.body is not None:
        resp = Response(content=fault.body, status_code=fault.status,
                        media_type=fault.content_type or "application/json", headers=headers)
    else:
        resp = error(fault.status, fault.message, headers)
    raise FaultResponse(resp)
