"""The quota spent on what matters first: with a backlog of low-severity lookups on a rate-limited asset, a
high-severity alert's lookup is served next (fair share by severity), and the low ones still all finish.
Asserted on the order in which the simulator answered the calls, not on timings."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from core.models import Artifact, Container, Severity
from tests.helpers.config import example_assets, write_assets
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually


def alert(ip: str, severity: Severity) -> Container:
    return Container(name=f"phishing from {ip}", label="phishing", severity=severity,
                     source_data_identifier=f"prio-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="sender", cef={"sourceAddress": ip})])


def vt_ip_calls(sim_url: str) -> list[str]:
    """The IPs VirusTotal was asked about, in the order it answered."""
    log = httpx.get(f"{sim_url}/_sim/calls", params={"vendor": "virustotal"}).json()
    return [c["path"].rsplit("/", 1)[-1] for c in log if "/ip_addresses/" in c["path"]]


async def test_a_high_severity_lookup_overtakes_a_low_backlog_and_the_low_ones_finish(dev_env, task_queue,
                                                                                      tmp_path, sim):
    assets = example_assets(sim.url)
    vt = next(a for a in assets if a["asset_name"] == "virustotal")
    vt["asset_name"] = f"vt_prio_{uuid.uuid4().hex[:8]}"
    vt["configuration"].update(rate_limit=True, max_requests_per_minute=60)
    path = write_assets(tmp_path / "assets.json", assets)
    tag = uuid.uuid4().int % 200
    lows = [f"198.51.{tag}.{i + 1}" for i in range(10)]
    high = f"198.51.{tag}.200"
    async with run_stack(dev_env.client, task_queue, path) as stack:
        started = [await stack.start(alert(ip, Severity.LOW)) for ip in lows]
        await assert_eventually(lambda: _served(sim.url, lows, 2), 60, "the low backlog is being served")
        served_before = len([ip for ip in vt_ip_calls(sim.url) if ip in lows])
        urgent = await stack.start(alert(high, Severity.HIGH))
        done = await asyncio.gather(*(stack.result(r.container_id) for r in [*started, urgent]))
    order = vt_ip_calls(sim.url)
    assert sorted(order) == sorted([*lows, high])  # every low one finished too: nothing starved
    # Served at the next free slot or the one after (one slot may already be on its way when it arrives).
    assert order.index(high) <= served_before + 1, order
    assert len(lows) - order.index(high) >= 5, f"the high lookup waited for most of the backlog: {order}"
    assert all(v.state.runs[0].status == "success" for v in done)


async def _served(sim_url: str, ips: list[str], n: int) -> bool:
    return len([ip for ip in vt_ip_calls(sim_url) if ip in ips]) >= n
