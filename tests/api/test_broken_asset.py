"""One broken asset does not stop the rest: the worker and the API start, /readyz says degraded naming it,
the asset list shows its reason, an action on it fails at once with that reason (in the report), and every
other asset works."""

from __future__ import annotations

import uuid

from api.report import build_report, render_text
from tests.helpers.api import auth, http, run_api
from tests.helpers.config import example_assets, write_assets
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually


async def test_a_broken_asset_is_unavailable_and_the_others_work(dev_env, task_queue, tmp_path, sim):
    assets = example_assets(sim.url, sim.ldap_port)
    vt = next(a for a in assets if a["asset_name"] == "virustotal")
    vt["configuration"]["api_key"] = "${SOAR_TEST_UNSET_VT_KEY}"
    path = write_assets(tmp_path / "assets.json", assets)
    async with run_stack(dev_env.client, task_queue, path) as stack:
        assert "virustotal" in stack.store.unavailable and "abuseipdb" in stack.store.assets
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                async def degraded_naming_the_asset():  # the worker's first poll may not have reached the server
                    r = (await api.get("/readyz")).json()
                    return r if "virustotal" in r.get("unavailable_assets", {}) else None
                ready = await assert_eventually(degraded_naming_the_asset, within=30)
                assert ready["status"] == "degraded"
                assert "SOAR_TEST_UNSET_VT_KEY is not set" in ready["unavailable_assets"]["virustotal"]
                listed = {a["asset_name"]: a for a in (await api.get("/api/v1/assets", headers=auth("tier1"))).json()}
                assert listed["virustotal"]["available"] is False and "Fix:" in listed["virustotal"]["reason"]
                assert listed["abuseipdb"]["available"] is True and listed["abuseipdb"]["configuration"]["api_key"] == \
                    "***"
                t = (await api.post("/api/v1/assets/virustotal/test", headers=auth("tier2"))).json()
                assert t["ok"] is False and t["error"] == "AssetUnavailable"
                assert (await api.post("/api/v1/assets/abuseipdb/test", headers=auth("tier2"))).json()["ok"] is True

                body = {"name": "phish", "label": "phishing", "source_data_identifier": f"broken-{uuid.uuid4().hex}",
                        "artifacts": [{"cef": {"requestURL": "https://intranet.example.com/x",
                                               "sourceAddress": "198.51.100.50"}}]}
                cid = (await api.post("/api/v1/containers", json=body, headers=auth("automation"))).json()[
                    "container_id"]

                async def done():
                    v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))).json()
                    return v if v["state"]["runs"] and v["state"]["runs"][0]["status"] != "running" else None
                v = await assert_eventually(done, within=60)
                acts = {(a["connector"], a["action"]): a for a in v["state"]["runs"][0]["outcome"]["actions"]}
                bad = acts[("virustotal", "url reputation")]
                assert bad["status"] == "failed" and bad["duration_s"] < 1
                assert bad["message"].startswith("asset 'virustotal' is unavailable:")
                assert acts[("abuseipdb", "ip reputation")]["status"] == "success"  # the others work
                assert v["state"]["container"]["status"] == "open"  # a failed lookup is never clean
                assert sim.state()["calls"].get("virustotal", 0) == 0
                from workflows.messages import ContainerView
                report = render_text(build_report(ContainerView.model_validate(v)))
                assert "asset 'virustotal' is unavailable" in report
