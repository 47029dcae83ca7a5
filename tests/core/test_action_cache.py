"""Read-only actions: per-asset result cache and single-flight for identical lookups in flight."""

from __future__ import annotations

import asyncio

import pytest

from activities import discover_connectors
from core.errors import ApprovalInvalid, ApprovalRequired
from core.models import ActionInput
from core.runtime import AssetStore, cache_key
from tests.helpers.config import example_assets, write_assets


def caching_store(tmp_path, sim_url: str, **vt_config: object) -> AssetStore:
    assets = example_assets(sim_url)
    vt = next(a for a in assets if a["asset_name"] == "virustotal")
    vt["configuration"].update(cache_ttl_s=300, **vt_config)
    return AssetStore.load(write_assets(tmp_path / "a.json", assets), discover_connectors())


async def test_forty_lookups_of_ten_indicators_cost_ten_calls(tmp_path, sim):
    assets = example_assets(sim.url)
    vt = next(a for a in assets if a["asset_name"] == "virustotal")
    vt["configuration"]["cache_ttl_s"] = 300
    store = AssetStore.load(write_assets(tmp_path / "a.json", assets), discover_connectors())
    c = store.connectors["virustotal"]
    spec = c.find("url reputation")
    urls = [f"https://site{i % 10}.example.com/" for i in range(40)]
    results = await asyncio.gather(*(store.run(spec, ActionInput(asset="virustotal", params={"url": u}))
                                     for u in urls))
    assert all(r.status == "success" for r in results)
    assert sim.state()["calls"]["virustotal"] == 10
    again = await store.run(spec, ActionInput(asset="virustotal", params={"url": urls[0]}))
    assert again.model_dump(exclude={"cache"}) == results[0].model_dump(exclude={"cache"})
    assert again.cache is not None and again.cache.hit and sim.state()["calls"]["virustotal"] == 10
    await store.aclose()


async def test_without_ttl_every_lookup_reaches_the_vendor(tmp_path, sim):
    store = AssetStore.load(write_assets(tmp_path / "a.json", example_assets(sim.url)), discover_connectors())
    c = store.connectors["virustotal"]
    spec = c.find("url reputation")
    await asyncio.gather(*(store.run(spec, ActionInput(asset="virustotal", params={"url": "https://a.example/"}))
                           for _ in range(5)))
    assert sim.state()["calls"]["virustotal"] == 5
    await store.aclose()


async def test_a_read_only_action_the_asset_marks_high_impact_is_never_answered_from_the_cache(tmp_path, sim):
    store = caching_store(tmp_path, sim.url, high_impact_actions=["url reputation"])
    spec = store.connectors["virustotal"].find("url reputation")
    for _ in range(2):
        with pytest.raises((ApprovalRequired, ApprovalInvalid)):  # refused: no approval, never a cached answer
            await store.run(spec, ActionInput(asset="virustotal", params={"url": "https://a.example/"}))
    assert store.cached_spec("virustotal", "url reputation") is None
    assert sim.state()["calls"].get("virustotal", 0) == 0
    await store.aclose()


async def test_a_claim_before_dispatch_makes_later_lookups_wait_for_its_call(tmp_path, sim):
    store = caching_store(tmp_path, sim.url)
    told: list[tuple[str, object]] = []

    async def notify(wid: str, run_id: str, token: str, result: object) -> None:
        told.append((token, result))

    store.cache.notify = notify
    asset, spec = store.cached_spec("virustotal", "url reputation") or (None, None)
    assert spec is not None
    params = {"url": "https://claimed.example/"}
    key = cache_key(asset, spec, params)
    assert store.cache.lookup(key, ("wf-1", "r", "t1"), claim_s=60) == ("miss", None)  # claimed: it dispatches
    assert store.cache.lookup(key, ("wf-2", "r", "t2"), claim_s=60) == ("wait", None)  # told when it arrives
    result = await store.run(spec, ActionInput(asset="virustotal", params=params))  # the claimant's activity
    await asyncio.sleep(0)
    assert [t for t, _ in told] == ["t2"] and told[0][1].cache.hit and not result.cache.hit
    outcome, hit = store.cache.lookup(key, ("wf-3", "r", "t3"), claim_s=60)
    assert outcome == "hit" and hit.summary == result.summary
    assert sim.state()["calls"]["virustotal"] == 1
    await store.aclose()


async def test_a_claim_that_fails_tells_its_waiters_to_dispatch_and_is_not_cached(tmp_path, sim):
    store = caching_store(tmp_path, sim.url)
    told: list[tuple[str, object]] = []

    async def notify(wid: str, run_id: str, token: str, result: object) -> None:
        told.append((token, result))

    store.cache.notify = notify
    asset, spec = store.cached_spec("virustotal", "url reputation") or (None, None)
    key = cache_key(asset, spec, {"url": "https://failing.example/"})
    assert store.cache.lookup(key, ("wf-1", "r", "t1"), claim_s=60)[0] == "miss"
    assert store.cache.lookup(key, ("wf-2", "r", "t2"), claim_s=60)[0] == "wait"
    store.cache.settle(key, 300, None)  # the claimant's lookup failed after its retries
    await asyncio.sleep(0)
    assert told == [("t2", None)]
    assert store.cache.lookup(key, ("wf-3", "r", "t3"), claim_s=60)[0] == "miss"  # a new claim, nothing cached
    await store.aclose()
