"""Cached answers before the quota: a read-only lookup on a rate-limited, caching asset is answered without a
task on the asset's queue when the answer is cached, identical lookups in flight share one call, and only
the misses reach the vendor (counted on the simulator and in the playbook histories)."""

from __future__ import annotations

import asyncio
import uuid

from temporalio.api.enums.v1 import EventType

from api.report import build_report, render_text
from core.models import Artifact, Container, Severity
from core.prometheus import REGISTRY
from tests.helpers.config import example_assets, write_assets
from tests.helpers.stack import run_stack


def cached_vt_assets(sim_url: str, name: str) -> list[dict[str, object]]:
    """The example assets with VirusTotal rate-limited (its own queue) and caching, under a name of its own."""
    assets = example_assets(sim_url)
    vt = next(a for a in assets if a["asset_name"] == "virustotal")
    vt["asset_name"] = name
    vt["configuration"].update(rate_limit=True, max_requests_per_minute=120, cache_ttl_s=600)
    return assets


def phish(url: str) -> Container:
    return Container(name="Reported phishing", label="phishing", severity=Severity.MEDIUM,
                     source_data_identifier=f"cache-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="url", cef={"requestURL": url})])


async def scheduled_lookups(client, workflow_id: str) -> int:
    """VirusTotal tasks this run put on a queue (ACTIVITY_TASK_SCHEDULED)."""
    n = 0
    async for ev in client.get_workflow_handle(workflow_id).fetch_history_events():
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            n += ev.activity_task_scheduled_event_attributes.activity_type.name.startswith("virustotal.")
    return n


def cache_count(asset: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("soar_action_cache_total", {"asset": asset, "outcome": outcome}) or 0.0


async def test_identical_lookups_share_one_call_and_cached_ones_skip_the_queue(dev_env, task_queue, tmp_path, sim):
    asset = f"vt_cache_{uuid.uuid4().hex[:8]}"
    path = write_assets(tmp_path / "assets.json", cached_vt_assets(sim.url, asset))
    url = f"https://cache-{uuid.uuid4().hex[:6]}.example.com/login"
    sim.latency(virustotal=300)  # the first call is still under way when the others ask
    async with run_stack(dev_env.client, task_queue, path) as stack:
        first = await asyncio.gather(*(stack.start(phish(url)) for _ in range(5)))
        views = [await stack.result(r.container_id) for r in first]
        assert sim.state()["calls"]["virustotal"] == 1
        runs = [f"playbook/phishing_triage_automation/{r.container_id}" for r in first]
        assert sum([await scheduled_lookups(dev_env.client, wid) for wid in runs]) == 1
        assert cache_count(asset, "miss") == 1 and cache_count(asset, "shared") == 4

        # Later alerts with the same URL: answered from the cache, no task on the asset's queue at all.
        again = await stack.start(phish(url))
        later = await stack.result(again.container_id)
        assert sim.state()["calls"]["virustotal"] == 1
        assert await scheduled_lookups(dev_env.client, f"playbook/phishing_triage_automation/{again.container_id}") == 0
        assert cache_count(asset, "hit") == 1

    outcomes = [a for v in [*views, later] for a in v.state.runs[0].outcome.actions if a.action == "url reputation"]
    assert all(a.status == "success" and a.summary["malicious"] == 0 for a in outcomes)
    assert sum(a.cached_at is not None for a in outcomes) == 5  # every answer but the one call's
    text = render_text(build_report(later))
    assert "URL Reputation (VirusTotal)" in text and "(cached just now)" in text
    assert all(v.state.auto_resolved for v in [*views, later])
