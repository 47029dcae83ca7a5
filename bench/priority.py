"""Scenario 5, severity part: the VirusTotal quota spent on what matters first. A backlog of low-severity
alerts waits on the asset limited to `Stack.quota_per_minute` (the brief's 4/min; `make bench` scales it up,
see `--quota-rate`), then one high-severity alert arrives: how long from its POST until its lookup reaches the
vendor, next to the low alerts' own wait, and whether every low alert still finishes.

The rule under test (`workflows.actions.SEVERITY_WEIGHTS`, Temporal task queue fairness): each severity band
is a fairness key with weight high 8, medium 3, low 1, so with every band busy low still gets 1 slot in 12 and
never starves; a band with nothing queued gives its slots to the others."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from temporalio.client import Client

from bench.common import AUTOMATION, Section, pct, result_once_started
from bench.stack import PRIORITY_LABEL, Stack

PLAYBOOK = "bench_priority_lookup"
ISSUE_RATE = 4  # requests per minute of the brief's VirusTotal public tier
ISSUE_TARGET_S = 15.0  # the issue's "within one quota slot" at 4/min


def _alert(tag: str, i: int, severity: str, ip: str) -> dict[str, Any]:
    return {"name": f"bench priority {severity} {i}", "label": PRIORITY_LABEL, "severity": severity,
            "source_data_identifier": f"bench-{tag}-prio-{severity}-{i}",
            "artifacts": [{"cef": {"sourceAddress": ip}}]}


async def _post(http: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, float]:
    """POST the alert; (container id, when the POST was sent)."""
    t = time.time()
    r = await http.post("/api/v1/containers", json=body, headers=AUTOMATION)
    r.raise_for_status()
    return str(r.json()["container_id"]), t


async def _vendor_times(sim: httpx.AsyncClient, stack: Stack, since: float) -> dict[str, tuple[float, int]]:
    """IP -> (time of its first VirusTotal call since `since`, HTTP status of its last call)."""
    out: dict[str, tuple[float, int]] = {}
    for c in (await sim.get(f"{stack.sim_url}/_sim/calls", params={"vendor": "virustotal"})).json():
        if c["t"] < since or "/ip_addresses/" not in c["path"]:
            continue
        ip = c["path"].rsplit("/", 1)[-1]
        first = out[ip][0] if ip in out else c["t"]
        out[ip] = (first, int(c["status"]))
    return out


async def _until(sim: httpx.AsyncClient, stack: Stack, since: float, ips: set[str], want: int,
                 within_s: float) -> dict[str, tuple[float, int]]:
    """Poll the simulator's call log until `want` of `ips` had a successful call (or `within_s` passes)."""
    deadline = time.monotonic() + within_s
    while True:
        seen = await _vendor_times(sim, stack, since)
        if sum(1 for ip in ips if seen.get(ip, (0, 0))[1] == 200) >= want or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.2)


async def priority(stack: Stack, client: Client, http: httpx.AsyncClient, sec: Section, n_low: int,
                   tag: str) -> dict[str, Any]:
    """Queue `n_low` low-severity lookups, then POST one high-severity alert; add the rows to `sec`."""
    rate = stack.quota_per_minute
    slot = 60.0 / rate
    low_ips = [f"198.51.100.{i + 1}" for i in range(n_low)]
    high_ip = "198.51.100.250"
    async with httpx.AsyncClient(timeout=30) as sim:
        (await sim.post(f"{stack.sim_url}/_sim/latency", json={"virustotal": 0})).raise_for_status()
        (await sim.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": rate})).raise_for_status()
        try:
            t0 = time.time() - 0.5
            lows = await asyncio.gather(*(_post(http, _alert(tag, i, "low", ip)) for i, ip in enumerate(low_ips)))
            # The backlog is real once the queue has served two of them (every other one waits its turn).
            await _until(sim, stack, t0, set(low_ips), 2, within_s=4 * slot + 30)
            high_cid, high_posted = await _post(http, _alert(tag, 0, "high", high_ip))
            seen = await _until(sim, stack, t0, {*low_ips, high_ip}, n_low + 1, within_s=(n_low + 2) * slot * 2 + 60)
        finally:
            (await sim.post(f"{stack.sim_url}/_sim/quota", json={"virustotal": 0})).raise_for_status()
    runs = [client.get_workflow_handle(f"playbook/{PLAYBOOK}/{cid}") for cid, _ in [*lows, (high_cid, 0.0)]]
    finished = 0
    for h in runs[:-1]:
        try:
            await result_once_started(h, 30)
            finished += 1
        except Exception:  # noqa: BLE001 - an unfinished or failed low run is what this row counts
            continue
    high_at = seen.get(high_ip, (None, 0))[0]
    high_wait = None if high_at is None else high_at - high_posted
    low_waits = [seen[ip][0] - posted for ip, (_, posted) in zip(low_ips, lows, strict=True) if ip in seen]
    queued_then = sum(1 for ip in low_ips if ip not in seen or seen[ip][0] > high_posted)
    ahead = sum(1 for ip in low_ips if ip in seen and high_at is not None and high_posted < seen[ip][0] < high_at)
    label = f"VirusTotal at {rate}/min" + ("" if rate == ISSUE_RATE else f" (scaled up from {ISSUE_RATE}/min)")
    sec.add(f"high-severity alert, POST -> its lookup at the vendor ({n_low} low queued, {label})", high_wait, "s",
            baseline=pct(low_waits, 50), baseline_label=f"p50 wait of the {n_low} low alerts (POST -> lookup)",
            ratio=high_wait / pct(low_waits, 50) if high_wait is not None and pct(low_waits, 50) else None,
            target=f"<= one quota slot ({slot:.0f} s" + (")" if rate == ISSUE_RATE else
                                                     f"; {ISSUE_TARGET_S:.0f} s at {ISSUE_RATE}/min)"),
            met=high_wait is not None and high_wait <= slot,
            note=f"{queued_then} low still queued at its POST, {ahead} served before it; a FIFO queue would "
                 f"make it wait ~{queued_then * slot:.0f} s; low max wait {max(low_waits, default=0):.0f} s")
    sec.add("low-severity alerts finished behind it (no starvation)", finished, "", baseline=n_low,
            baseline_label="low alerts queued", target=f"{n_low}/{n_low}", met=finished == n_low,
            note="rule: fair shares by severity, weights high 8 / medium 3 / low 1; with every band busy low "
                 f"gets 1 slot in 12 (>= {rate / 12:.2g}/min here), an idle band's slots go to the others")
    http_429 = sum(1 for ip in [*low_ips, high_ip] if seen.get(ip, (0, 200))[1] == 429)
    return {"quota_per_minute": rate, "slot_s": slot, "high_wait_s": None if high_wait is None else round(high_wait, 2),
            "low_wait_s": [round(w, 2) for w in low_waits], "low_queued_at_high_post": queued_then,
            "low_served_before_high": ahead, "low_finished": finished, "last_status_429": http_429}
