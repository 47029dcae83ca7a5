"""The Temporal Web UI as the execution history: headless Chromium shows the container workflow in the list
and its summary on its page. Screenshots land in test-output/."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.models import Artifact, Container, Severity
from core.settings import ROOT
from core.temporal import SEARCH_ATTRIBUTES, dev_server_path
from tests.helpers.servers import free_port
from tests.helpers.stack import run_stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = ROOT / "test-output"
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (.ci/run installs it)")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def ui_env():
    port = free_port()
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()), search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter, dev_server_log_level="error", ui=True, ui_port=port,
    ) as env:
        yield env, port


async def test_ui_shows_container_workflow_and_summary(ui_env, task_queue, assets_file, sim):
    from playwright.async_api import async_playwright

    env, port = ui_env
    OUT.mkdir(exist_ok=True)
    async with run_stack(env.client, task_queue, assets_file) as stack:
        c = Container(name="Reported phishing UI check", label="phishing", severity=Severity.MEDIUM,
                      source_data_identifier=f"ui-{uuid.uuid4().hex}",
                      artifacts=[Artifact(cef={"requestURL": "http://malicious.example/login"})])
        r = await stack.start(c)
        await stack.wait_for(r.container_id, lambda v: v.state.runs and v.state.runs[0].status != "running")
    wid = f"container/{r.container_id}"
    run_id = (await env.client.get_workflow_handle(wid).describe()).run_id
    base = f"http://127.0.0.1:{port}"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        page = await browser.new_page(viewport={"width": 1600, "height": 1000})
        await page.goto(f"{base}/namespaces/default/workflows", wait_until="domcontentloaded")
        await page.get_by_text(wid).first.wait_for(timeout=30_000)
        await page.screenshot(path=str(OUT / "ui-workflow-list.png"), full_page=True)
        await page.goto(f"{base}/namespaces/default/workflows/{quote(wid, safe='')}/{run_id}/history",
                        wait_until="domcontentloaded")
        await page.get_by_text(f"container/{r.container_id}").first.wait_for(timeout=30_000)
        tab = page.get_by_role("link", name="User Metadata")
        if await tab.count() == 0:
            tab = page.get_by_role("tab", name="User Metadata")
        await tab.first.click(timeout=30_000)
        want = f"Reported phishing UI check · {r.container_id} · medium"
        texts: list[str] = []
        for _ in range(60):  # the summary is rendered as markdown inside sandboxed frames
            texts = []
            for frame in page.frames:
                try:
                    texts.append(await frame.inner_text("body", timeout=1000))
                except Exception:
                    pass
            if any(want in t for t in texts):
                break
            await page.wait_for_timeout(500)
        await page.screenshot(path=str(OUT / "ui-container-page.png"), full_page=True)
        await browser.close()
    assert any(want in t for t in texts), "the workflow page does not show the container's summary"
