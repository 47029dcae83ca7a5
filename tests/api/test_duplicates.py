"""The same alert again over HTTP, against the real stack: new content is merged and triaged, an identical
copy changes nothing, a closed container with new content is reopened with its history, an analyst can
reopen one, and automation never closes what an earlier run left open for an analyst."""

from __future__ import annotations

import uuid
from typing import Any

from tests.helpers.api import auth, http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually


def alert(sdi: str, *urls: str) -> dict[str, Any]:
    return {"name": "Reported phishing", "label": "phishing", "source_data_identifier": sdi,
            "artifacts": [{"name": "url", "cef": {"requestURL": u}} for u in urls]}


def lookups(sim: Any) -> dict[str, int]:
    return sim.state()["effects"].get("virustotal", {}).get("lookups", {})


def looked_up(sim: Any, url: str) -> int:
    return sum(n for k, n in lookups(sim).items() if url in k)


async def settled(api: Any, cid: str, runs: int) -> dict[str, Any]:
    """The container once `runs` playbook runs exist and none is running."""
    async def check() -> dict[str, Any] | None:
        v = (await api.get(f"/api/v1/containers/{cid}", headers=auth("tier1"))).json()
        rs = v["state"]["runs"]
        return v if len(rs) == runs and all(r["status"] != "running" for r in rs) else None
    return await assert_eventually(check, within=60)


def comments(v: dict[str, Any]) -> list[str]:
    return [c["text"] for c in v["state"]["comments"]]


async def test_new_content_is_merged_triaged_and_reopens_a_closed_container(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                sdi = f"dup-{uuid.uuid4().hex}"
                first, second = "https://intranet.example.com/first", "https://intranet.example.com/second"
                r = (await api.post("/api/v1/containers", json=alert(sdi, first), headers=auth("automation"))).json()
                cid = r["container_id"]
                assert r["duplicate"] is False and r["artifacts_added"] == 1 and isinstance(r["id"], int)
                v = await settled(api, cid, 1)
                assert v["state"]["container"]["status"] == "closed"  # clean: auto-closed

                # The same alert, identical: nothing new, nothing runs, it stays closed.
                same = (await api.post("/api/v1/containers", json=alert(sdi, first), headers=auth("automation")))
                assert same.status_code == 202
                assert (same.json()["duplicate"], same.json()["artifacts_added"], same.json()["reopened"]) == (
                    True, 0, False)
                assert looked_up(sim, "/first") == 1

                # The same alert with a new URL: the container reopens, keeps its history, looks the URL up.
                more = await api.post("/api/v1/containers", json=alert(sdi, first, second),
                                      headers=auth("automation"))
                m = more.json()
                assert more.status_code == 202 and m["duplicate"] and m["reopened"] and m["artifacts_added"] == 1
                assert m["playbooks"] == ["phishing_triage_automation"] and m["id"] == r["id"]
                v = await settled(api, cid, 2)
                assert looked_up(sim, "/second") == 1 and looked_up(sim, "/first") == 1  # only the new one
                texts = comments(v)
                assert "URL clean: 0/90 engines flagged." in texts  # the first run's comments are kept
                assert any(t.startswith("Reopened: the same alert arrived again with 1 new artifact") for t in texts)
                assert [a["cef"]["requestURL"] for a in v["state"]["container"]["artifacts"]] == [first, second]
                assert v["state"]["runs"][1]["workflow_id"].endswith(f"{cid}/alert-2")
                assert v["state"]["alerts"] == 2 and v["state"]["reopened"] == 1
                runs = [w async for w in dev_env.client.list_workflows(f"WorkflowId = 'container/{cid}'")]
                assert len(runs) == 2  # a new run of the same workflow id

                # Open now? Then a third alert merges into the running container without a new run of it.
                suspicious = "http://suspicious.example/third"
                third = (await api.post("/api/v1/containers", json=alert(sdi, suspicious), headers=auth("automation")))
                if not third.json()["reopened"]:
                    assert third.json()["artifacts_added"] == 1
                v = await settled(api, cid, 3)
                assert looked_up(sim, "/third") == 1
                assert v["state"]["container"]["status"] == "open"  # suspicious: left for an analyst


async def test_analyst_reopens_a_closed_container(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                sdi = f"reopen-{uuid.uuid4().hex}"
                r = (await api.post("/api/v1/containers", json=alert(sdi, "https://intranet.example.com/x"),
                                    headers=auth("automation"))).json()
                cid = r["container_id"]
                v = await settled(api, cid, 1)
                assert v["state"]["container"]["status"] == "closed"
                p = await api.patch(f"/api/v1/containers/{cid}", headers=auth("tier2"),
                                    json={"status": "open", "comment": "user reports more mails like it"})
                assert p.status_code == 200, p.text
                v = p.json()
                assert v["state"]["container"]["status"] == "open" and v["state"]["container"]["closed"] is None
                assert "Reopened: user reports more mails like it" in comments(v)
                assert "Every lookup came back clean. Auto-closed." in comments(v)
                c = await api.post(f"/api/v1/containers/{cid}/comments", json={"text": "looking at it"},
                                   headers=auth("tier2"))
                assert c.status_code == 200 and "looking at it" in comments(c.json())


async def test_automation_does_not_close_what_an_earlier_run_left_open(dev_env, task_queue, assets_file, sim):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            async with http(base) as api:
                sdi = f"keep-{uuid.uuid4().hex}"
                r = (await api.post("/api/v1/containers", json=alert(sdi, "http://suspicious.example/a"),
                                    headers=auth("automation"))).json()
                cid = r["container_id"]
                await settled(api, cid, 1)
                await api.post("/api/v1/containers", json=alert(sdi, "https://intranet.example.com/clean"),
                               headers=auth("automation"))
                v = await settled(api, cid, 2)
                assert v["state"]["container"]["status"] == "open" and not v["state"]["auto_resolved"]
                assert any("stays open because phishing_triage_automation left it for an analyst" in t
                           for t in comments(v))
