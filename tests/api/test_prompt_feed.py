"""The fresh prompt list (api/prompt_feed.py): a run that opens a prompt tells the API which run to read
(activities/prompt_feed.py, a local activity in the same workflow task), and the API reads the prompt from
Temporal (the run's memo in its mutable state), not from the hint; visibility is not involved."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from temporalio.api.enums.v1 import EventType

from api.app import create_app
from api.prompt_feed import PromptFeed
from core.models import Artifact, Container, Severity
from tests.helpers.api import auth, http
from tests.helpers.servers import ServerThread, free_port
from tests.helpers.stack import Stack, run_stack
from tests.helpers.wait import assert_eventually


def edr(host: str) -> Container:
    return Container(name="EDR detection", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"feed-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="host", cef={"sourceHostName": host, "sourceUserName": "jdoe"})])


@asynccontextmanager
async def fed_stack(dev_env, task_queue, assets_file) -> AsyncIterator[tuple[Stack, PromptFeed, httpx.AsyncClient]]:
    """The stack, whose worker hints the API it runs beside: (stack, the API's prompt feed, an HTTP client)."""
    port = free_port()
    async with run_stack(dev_env.client, task_queue, assets_file, api_url=f"http://127.0.0.1:{port}") as stack:
        app = create_app(stack.settings, client=dev_env.client)
        srv = ServerThread(app, port=port).start()
        try:
            async with http(srv.url) as api:
                yield stack, app.state.board, api
        finally:
            srv.stop()


async def test_the_worker_tells_the_api_and_the_api_reads_the_prompt_from_temporal(dev_env, task_queue,
                                                                                  assets_file, sim):
    async with fed_stack(dev_env, task_queue, assets_file) as (stack, feed, api):
        r = await stack.start(edr("WORKSTATION-301"))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]

        async def fed() -> bool:
            return p.id in {q.id for q in feed.view().opened}
        await assert_eventually(fed, 10, "the prompt on the API's fresh list")
        assert feed.read >= 1
        rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
        row = next(row for row in rows if row["id"] == p.id)
        assert row["role"] == "soc_tier2" and row["can_respond"] is True and row["options"] == p.options

        # the local activity: one marker in the run's history
        hist = await dev_env.client.get_workflow_handle(p.workflow_id).fetch_history()
        markers = [e for e in hist.events if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED]
        assert len(markers) == 1

        answer = await api.post(f"/api/v1/prompts/{p.id}/response", headers=auth("tier2"),
                                json={"option": "Monitor Only"})
        assert answer.status_code == 200, answer.text
        assert p.id in feed.view().closed and not await fed()
        rows = (await api.get("/api/v1/prompts", headers=auth("tier2"))).json()["data"]
        assert p.id not in {row["id"] for row in rows}


async def test_a_hint_lists_only_what_temporal_holds(dev_env, task_queue, assets_file, sim):
    """Forged or stale hints list nothing: not a playbook run, no such run, a run without prompts."""
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        app = create_app(stack.settings, client=dev_env.client)
        srv = ServerThread(app).start()
        try:
            async with http(srv.url) as api:
                r = await stack.start(Container(name="Notable", label="notable", severity=Severity.LOW,
                                                source_data_identifier=f"feed-{uuid.uuid4().hex}",
                                                artifacts=[Artifact(name="ip", cef={"sourceAddress": "81.2.69.160"})]))
                done = await stack.wait_for(r.container_id, lambda v: v.state.runs and all(
                    run.status != "running" for run in v.state.runs), timeout=60)
                no_prompts = done.state.runs[0].workflow_id
                body = {"workflow_ids": [f"container/{r.container_id}", "playbook/containment_decision/SOAR-NOPE0000",
                                         no_prompts, "../../etc/passwd"]}
                resp = await api.post("/internal/v1/prompt-feed", json=body)
                assert resp.status_code == 202 and resp.json() == {"taken": 2}  # the two playbook ids
                feed: PromptFeed = app.state.board

                async def settled() -> bool:
                    return not feed._reading
                await assert_eventually(settled, 10, "the hints read")
                assert feed.view().opened == [] and feed.read == 0

                for bad in ({"workflow_ids": ["playbook/x"] * 101}, {"workflow_ids": "playbook/x"},
                            {"workflow_ids": [], "prompt": {"id": "forged"}}, [1, 2]):
                    resp = await api.post("/internal/v1/prompt-feed", json=bad)
                    assert resp.status_code == 422, (bad, resp.text)
        finally:
            srv.stop()


async def test_an_unreachable_api_costs_the_run_nothing(dev_env, task_queue, assets_file, sim):
    """Nothing listens at `api_url`: the hint is dropped, the prompt opens and is answered as always."""
    port = free_port()
    async with run_stack(dev_env.client, task_queue, assets_file, api_url=f"http://127.0.0.1:{port}") as stack:
        r = await stack.start(edr("WORKSTATION-302"))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
        p = v.pending_prompts[0]
        ack = await stack.answer(p.workflow_id, p.id, "Monitor Only")
        assert ack.decided
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running")
        assert v.state.runs[0].status == "success"


async def test_paging_lists_each_prompt_once_while_fresh_prompts_age_out(dev_env, task_queue, assets_file, sim):
    """The first page leads with the fresh prompts; later pages leave out what it showed, also once those
    prompts left the fresh list while the analyst paged (`bench.run --only 4` listed 1,007 of 1,000 before)."""
    async with fed_stack(dev_env, task_queue, assets_file) as (stack, feed, api):
        ids, wids = set(), set()
        for n in range(3):
            r = await stack.start(edr(f"WORKSTATION-31{n}"))
            v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts)
            ids.add(v.pending_prompts[0].id)
            wids.add(v.pending_prompts[0].workflow_id)

        async def fed_and_indexed() -> bool:
            on_feed = ids <= {p.id for p in feed.view().opened}
            q = "SoarKind='playbook' AND SoarAwaitingPrompt=true AND ExecutionStatus='Running'"
            listed = {w.id async for w in dev_env.client.list_workflows(q)}
            return on_feed and wids <= listed
        await assert_eventually(fed_and_indexed, 20, "the three prompts on the feed and in visibility")

        async def page_through(after_first_page: Callable[[], Awaitable[None]] | None = None) -> list[str]:
            listed: list[str] = []
            params: dict[str, str | int] = {"page_size": 1}
            while True:
                body = (await api.get("/api/v1/prompts", params=params, headers=auth("tier2"))).json()
                if not listed and after_first_page is not None:
                    await after_first_page()
                listed += [row["id"] for row in body["data"]]
                if not body.get("next_page_token"):
                    return [i for i in listed if i in ids]  # the dev server holds other tests' prompts
                params["page_token"] = body["next_page_token"]

        first = await page_through()
        assert sorted(first) == sorted(ids), first  # listed once each, by the feed on page 1

        created = [p.created for p in feed.view().opened if p.id in ids]
        assert len(created) == 3
        feed.fresh_s = (datetime.now(UTC) - min(created)).total_seconds() + 2  # all fresh for 2 s more

        async def age_out() -> None:  # the first page's fresh prompts leave the list while the analyst pages
            await asyncio.sleep((max(created) - min(created)).total_seconds() + 2.5)
        slow = await page_through(age_out)
        assert sorted(slow) == sorted(ids), slow
        assert not ids & {p.id for p in feed.view().opened}
        assert sorted(await page_through()) == sorted(ids)  # visibility alone, one per page
        bad = await api.get("/api/v1/prompts", params={"page_token": "eyJ4IjogMX0="}, headers=auth("tier2"))
        assert bad.status_code == 422 and "page_token" in bad.json()["detail"]
