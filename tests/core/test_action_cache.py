"""Read-only actions: per-asset result cache and single-flight for identical lookups in flight."""

from __future__ import annotations

import asyncio

from activities import discover_connectors
from core.models import ActionInput
from core.runtime import AssetStore
from tests.helpers.config import example_assets, write_assets


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
    assert again == results[0] and sim.state()["calls"]["virustotal"] == 10
    await store.aclose()


async def test_without_ttl_every_lookup_reaches_the_vendor(tmp_path, sim):
    store = AssetStore.load(write_assets(tmp_path / "a.json", example_assets(sim.url)), discover_connectors())
    c = store.connectors["virustotal"]
    spec = c.find("url reputation")
    await asyncio.gather(*(store.run(spec, ActionInput(asset="virustotal", params={"url": "https://a.example/"}))
                           for _ in range(5)))
    assert sim.state()["calls"]["virustotal"] == 5
    await store.aclose()
