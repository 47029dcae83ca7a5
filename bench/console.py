"""`python -m bench.console [--containers 1000] [--runs 300] [--prompts 50]`: how long each console page takes to
serve with that many containers on the dev server (real processes: dev server, simulator, worker, API).

The containers are started as the API starts them (`workflows.starter`): `--runs` of them run the enrichment
playbook against the simulator (they feed the metrics page), `--prompts` wait on a containment prompt (the
inbox), the rest carry artifacts without automation. Each page is then fetched `--repeat` times by a signed-in
analyst; the table gives the first (cold) fetch and the median, p95 and worst of the rest, and the figures go
to bench/console_results.json. Figures, not assertions: the house rule is that speed is measured in
benchmarks, not asserted in timed tests (this machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.stack import PLAYBOOK_QUEUE, Stack
from core.approvals import init_keys
from core.config.users import write_demo_users
from core.models import Artifact, Container, Severity
from core.settings import Settings
from core.temporal import connect
from core.visibility import playbook_runs
from workflows.starter import start_container

RESULTS = Path(__file__).resolve().parent / "console_results.json"
BUDGET_MS = 300.0


class ConsoleStack(Stack):
    """The benchmark stack with the demo users (dev mode) and an approval key (sessions derive from it)."""

    def env(self) -> dict[str, str]:
        """The stack's environment plus the console's users and keys."""
        env = super().env()
        keys = self.dir / "data" / "keys"
        env.update({"SOAR_USERS_FILE": str(self.dir / "users.json"), "SOAR_DEV_MODE": "1",
                    "SOAR_APPROVAL_PRIVATE_KEY_FILE": str(keys / "approval-signing.key"),
                    "SOAR_APPROVAL_PUBLIC_KEYS_FILE": str(keys / "approval-public-keys.json")})
        return env

    def start(self) -> ConsoleStack:
        """Write users and keys, then start everything."""
        write_demo_users(self.dir / "users.json")
        keys = self.dir / "data" / "keys"
        init_keys(keys / "approval-signing.key", keys / "approval-public-keys.json", "k1")
        super().start()
        return self


def container(i: int, kind: str) -> tuple[Container, list[str] | None]:
    """The i-th container: `plain` (no automation), `runs` (enrichment) or `prompt` (containment)."""
    sid = f"bench-console-{uuid.uuid4().hex[:8]}-{i}"
    if kind == "prompt":
        return Container(name=f"EDR detection {i} on WORKSTATION-{i:04d}", label="edr", severity=Severity.HIGH,
                         source_data_identifier=sid, artifacts=[Artifact(cef={
                             "sourceHostName": f"WORKSTATION-{i:04d}", "sourceUserName": f"user{i}"})]), None
    c = Container(name=f"Notable event {i}: suspicious login from 203.0.113.{i % 250}", label="notable",
                  severity=[Severity.LOW, Severity.MEDIUM, Severity.HIGH][i % 3], source_data_identifier=sid,
                  artifacts=[Artifact(cef={"sourceAddress": f"203.0.113.{i % 250}", "sourceUserName": f"user{i}"})])
    return c, (None if kind == "runs" else [])


async def fill(stack: ConsoleStack, n: int, runs: int, prompts: int) -> dict[str, Any]:
    """Start the containers (50 at a time) and wait for the enrichment runs to finish."""
    client = await connect(Settings(temporal_address=stack.address))
    kinds = ["prompt"] * prompts + ["runs"] * runs + ["plain"] * (n - prompts - runs)
    sem = asyncio.Semaphore(50)
    ids: dict[str, list[str]] = {"prompt": [], "runs": [], "plain": []}
    t0 = time.monotonic()

    async def one(i: int, kind: str) -> None:
        c, playbooks = container(i, kind)
        async with sem:
            r = await start_container(client, c, task_queue=PLAYBOOK_QUEUE, playbooks=playbooks)
        ids[kind].append(r.container_id)

    await asyncio.gather(*(one(i, k) for i, k in enumerate(kinds)))
    started = time.monotonic() - t0
    async def count(query: str) -> int:
        return (await client.count_workflows(query)).count

    for _ in range(1800):  # the runs finish and the prompts open (visibility), within half an hour
        if await count(str(playbook_runs(running=True))) <= prompts and \
                await count("SoarKind = 'playbook' AND SoarAwaitingPrompt = true") >= prompts:
            break
        await asyncio.sleep(1)
    return {"ids": ids, "start_s": round(started, 1), "settled_s": round(time.monotonic() - t0, 1)}


def sign_in(http: httpx.Client) -> None:
    """Sign in as the tier-2 demo analyst (the form, as a browser posts it)."""
    form = http.get("/console/sign-in")
    nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert nonce, form.text[:200]
    r = http.post("/console/sign-in", data={"token": "demo-tier2-token", "csrf": nonce.group(1), "tz": "UTC"})
    assert r.status_code == 303, r.text[:200]


def measure(http: httpx.Client, path: str, repeat: int, headers: dict[str, str] | None = None,
            ready: str | None = None) -> dict[str, Any]:
    """Fetch `path` 1 + `repeat` times; milliseconds of the first and of the rest. With `ready`, the first
    fetch is repeated until the page holds it (the metrics page answers "reading the runs" at first), and its
    figure is the time until then; `waits` counts the answers that were not ready."""
    waits: list[float] = []
    t0 = time.perf_counter()
    while True:
        t = time.perf_counter()
        r = http.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        if ready is None or ready in r.text:
            break
        waits.append((time.perf_counter() - t) * 1000)
        time.sleep(0.25)
    first = (time.perf_counter() - t0) * 1000
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = http.get(path, headers=headers)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
    rest = sorted(times)
    return {"path": path, "bytes": len(r.content), "cold_ms": round(first, 1), "not_ready_answers": len(waits),
            "slowest_not_ready_ms": round(max(waits, default=0.0), 1),
            "median_ms": round(statistics.median(rest), 1),
            "p95_ms": round(rest[max(0, int(len(rest) * 0.95) - 1)], 1), "max_ms": round(rest[-1], 1)}


def pages(ids: dict[str, list[str]]) -> list[tuple[str, str, dict[str, str] | None]]:
    """(label, path, headers) of every page measured (`cold` of the metrics page: until its charts show)."""
    waiting, ran = ids["prompt"][0], ids["runs"][0]
    json_report = {"Authorization": "Bearer demo-tier2-token", "Accept": "application/json"}
    return [
        ("inbox", "/console/", None),
        ("containers, first page", "/console/containers", None),
        ("containers, filtered", "/console/containers?severity=high&status=open&awaiting=1", None),
        ("containers, name search", "/console/containers?q=suspicious+login", None),
        ("container page (prompt)", f"/console/containers/{waiting}", None),
        ("container page (finished run)", f"/console/containers/{ran}", None),
        ("live report (waiting run)", f"/console/containers/{waiting}/report", None),
        ("live report (finished run)", f"/console/containers/{ran}/report", None),
        ("prompt page", f"/console/prompts/{waiting}.containment_decision.1", None),
        ("metrics, 30 days", "/console/metrics?days=30", None),
        ("API report JSON (waiting run)", f"/api/v1/containers/{waiting}/report", json_report),
    ]


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the table."""
    ap = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    ap.add_argument("--containers", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=300, help="containers that run the enrichment playbook")
    ap.add_argument("--prompts", type=int, default=50, help="containers waiting on a prompt")
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args(argv)
    stack = ConsoleStack().start()
    try:
        filled = asyncio.run(fill(stack, a.containers, a.runs, a.prompts))
        with httpx.Client(base_url=stack.api_url, timeout=60) as http:
            sign_in(http)
            rows = [{"page": label, **measure(http, path, a.repeat, headers,
                                              'class="chart"' if "metrics" in path else None)}
                    for label, path, headers in pages(filled["ids"])]
    finally:
        stack.stop()
    print(f"\nConsole pages with {a.containers} containers ({a.runs} with runs, {a.prompts} waiting on a prompt); "
          f"started in {filled['start_s']}s, settled in {filled['settled_s']}s\n")
    print(f"{'page':34} {'cold':>8} {'median':>8} {'p95':>8} {'max':>8}   (ms; budget {BUDGET_MS:.0f})")
    for r in rows:
        waited = f"   (first figures after {r['not_ready_answers']} \"reading\" answers)" if r["not_ready_answers"] \
            else ""
        print(f"{r['page']:34} {r['cold_ms']:8.1f} {r['median_ms']:8.1f} {r['p95_ms']:8.1f} {r['max_ms']:8.1f}"
              + waited)
    a.out.write_text(json.dumps({"containers": a.containers, "runs": a.runs, "prompts": a.prompts,
                                 "repeat": a.repeat, "budget_ms": BUDGET_MS, "fill": {k: v for k, v in filled.items()
                                                                                     if k != "ids"},
                                 "pages": rows, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                indent=2) + "\n")
    print(f"\nwritten to {a.out}")


if __name__ == "__main__":
    main()
