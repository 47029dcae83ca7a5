"""`make bench` / `python -m bench.run [--n 300] [--quick] [--only 1,2]`: start the stack, run the scenarios,
print the table and write bench/results.json."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import Section, run_tag
from bench.report import render
from bench.stack import Stack
from core.settings import Settings
from core.temporal import connect

RESULTS = Path(__file__).resolve().parent / "results.json"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    ap.add_argument("--n", type=int, default=300, help="alerts in the throughput scenario (default 300)")
    ap.add_argument("--quick", action="store_true", help="small sizes (about 2 minutes) for iterating")
    ap.add_argument("--only", default="1,2,3,4,5,6,7", help="scenarios to run, e.g. 1,4")
    ap.add_argument("--concurrency", type=int, default=50, help="POSTs in flight in scenario 1")
    ap.add_argument("--alerts", type=int, default=50, help="alerts of each kind in scenario 2")
    ap.add_argument("--decisions", type=int, default=30, help="prompts answered in scenario 3")
    ap.add_argument("--waiting", type=int, default=2000, help="containers waiting on prompts in scenario 4")
    ap.add_argument("--respond-in", type=float, default=90.0, help="prompt deadline (s) in scenario 4")
    ap.add_argument("--lookups", type=int, default=40, help="rate-limited lookups in scenario 5")
    ap.add_argument("--fresh-prompts", type=int, default=60,
                    help="prompts opened among the scenario-1 style load in scenario 7 (its load: --n alerts)")
    ap.add_argument("--low", type=int, default=20, help="low-severity alerts queued before the high one (scenario 5)")
    ap.add_argument("--quota-rate", type=int, default=20,
                    help="requests/min of the quota asset in scenario 5 (the brief's VirusTotal: 4; 20 keeps "
                         "make bench short, the criterion stays one quota slot)")
    ap.add_argument("--ingest", type=int, default=1000, help="concurrent POSTs in scenario 6")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON results")
    ap.add_argument("--profile", action="store_true",
                    help="sample the worker with py-spy during scenario 1 (pip install py-spy)")
    ap.add_argument("--worker-variant", choices=["default", "passthrough", "platform", "unsandboxed"], default=None,
                    help="run bench/variant_worker.py instead of worker.py (investigation only)")
    ap.add_argument("--no-shape", action="store_true", help="skip the same-shape baseline in scenario 1")
    ap.add_argument("--no-server-config", action="store_true",
                    help="dev server without the priority/fairness dynamic config (investigation only)")
    ap.add_argument("--env", action="append", default=[], metavar="SOAR_X=VALUE",
                    help="a setting for the worker and the API of this run (repeatable; investigation)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (process logs, SQLite file)")
    ap.add_argument("--no-reminders", action="store_true",
                    help="prompts send no reminders (SOAR_PROMPT_REMINDERS=[]): only the deadline wakes a waiting run")
    a = ap.parse_args(argv)
    if a.quick:
        a.n, a.alerts, a.decisions, a.waiting = min(a.n, 60), min(a.alerts, 10), min(a.decisions, 10), \
            min(a.waiting, 200)
        a.respond_in, a.lookups, a.ingest = min(a.respond_in, 45.0), min(a.lookups, 10), min(a.ingest, 200)
        a.low, a.fresh_prompts = min(a.low, 8), min(a.fresh_prompts, 15)
    return a


async def scenarios(a: argparse.Namespace, stack: Stack) -> list[Section]:
    """Run the selected scenarios in an order that keeps each one's load off the others."""
    from bench.costs import costs
    from bench.freshness import freshness
    from bench.latency import decision_to_action, latency
    from bench.quota import quota
    from bench.throughput import ingestion, throughput
    from bench.waiting import waiting

    only = {s.strip() for s in a.only.split(",")}
    client = await connect(Settings(temporal_address=stack.address))
    tag = run_tag()
    out: list[Section] = []
    limits = httpx.Limits(max_connections=max(a.ingest, a.concurrency) + 10, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=120, limits=limits) as http:
        async def step(key: str, coro_fn: Any) -> Any:
            if key not in only:
                return None
            t = time.monotonic()
            print(f"[bench] scenario {key} ...", file=sys.stderr, flush=True)
            try:
                sec = await coro_fn()
            except Exception as e:  # noqa: BLE001 - one broken scenario must not hide the others
                import traceback

                traceback.print_exc()
                sec = Section(f"{key}. FAILED")
                sec.add(f"{type(e).__name__}: {str(e)[:200]}", None, "")
            sec.seconds = round(time.monotonic() - t, 1)
            print(f"[bench] scenario {key} done in {sec.seconds}s", file=sys.stderr, flush=True)
            out.append(sec)
            return sec

        await step("1", lambda: throughput(stack, client, http, a.n, a.concurrency, tag, shape=not a.no_shape))
        await step("7", lambda: freshness(stack, client, http, a.n, a.fresh_prompts, a.concurrency, tag))
        prompts = await step("2", lambda: latency(stack, client, http, a.alerts, tag))
        await step("3", lambda: decision_to_action(stack, client, http, a.decisions,
                                                   prompts.details.get("prompt_ids", []) if prompts else [], tag))
        await step("5", lambda: quota(stack, client, http, a.lookups, a.low, tag))
        await step("4", lambda: waiting(stack, client, http, a.waiting, a.respond_in, tag))
        await step("6", lambda: ingestion(stack, client, http, a.ingest, tag))
        await step("c", lambda: costs(stack, client, http, a.n, a.concurrency))
    return sorted(out, key=lambda s: s.name)


def main(argv: list[str] | None = None) -> None:
    """Entry point."""
    a = parse(argv)
    t0 = time.monotonic()
    stack = Stack(keep=a.keep, profile=a.profile, variant=a.worker_variant, server_config=not a.no_server_config,
                  quota_per_minute=a.quota_rate,
                  extra_env={**({"SOAR_PROMPT_REMINDERS": "[]"} if a.no_reminders else {}),
                             **dict(kv.split("=", 1) for kv in a.env)})
    print(f"[bench] starting the stack in {stack.dir} ...", file=sys.stderr, flush=True)
    try:
        stack.start()
        startup = round(time.monotonic() - t0, 1)
        sections = asyncio.run(scenarios(a, stack))
    finally:
        stack.stop()
    total = round(time.monotonic() - t0, 1)
    print(render(sections))
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "startup_s": startup, "total_s": total,
        "sections": [{"name": s.name, "seconds": s.seconds, "rows": [r.as_dict() for r in s.rows],
                      "details": s.details} for s in sections],
    }
    a.out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\nTotal {total}s (stack start {startup}s). Results: {a.out}")


if __name__ == "__main__":
    main()
