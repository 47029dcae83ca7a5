"""The analyst's console in headless Chromium (Debian's, driven by Playwright) against the real stack: the dev
server, the real worker, the simulator and the API over HTTP. Screenshots of every page land in
test-output/console/."""

from __future__ import annotations

import re
import shutil
import time
import uuid
from pathlib import Path

import httpx
import pytest

from core.models import Artifact, Container, Severity
from core.settings import ROOT
from tests.helpers.api import TOKENS, run_api
from tests.helpers.stack import run_stack

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUT = ROOT / "test-output" / "console"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed (.ci/run installs it)")]


def edr(host: str, user: str) -> Container:
    return Container(name=f"EDR detection: credential dumping on {host}", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"console-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="endpoint", cef={"sourceHostName": host, "sourceUserName": user})])


async def sign_in(page, base: str, who: str, *, keyboard: bool = False) -> None:
    await page.goto(f"{base}/console/", wait_until="domcontentloaded")
    assert "/console/sign-in" in page.url  # no session: the sign-in form, coming back afterwards
    token = page.locator("input[type=password][name=token]")
    await token.fill(TOKENS[who])
    if keyboard:
        await token.press("Enter")
    else:
        await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{base}/console/")


async def shot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


async def test_answer_in_the_inbox_and_watch_the_live_report(dev_env, task_queue, assets_file, sim):
    from playwright.async_api import async_playwright

    async with run_stack(dev_env.client, task_queue, assets_file) as stack, async_playwright() as pw:
        with run_api(stack.settings, dev_env.client) as base:
            r = await stack.start(edr("WORKSTATION-042", "jdoe"))
            other = await stack.start(edr("LAPTOP-7", "mroe"))
            for cid in (r.container_id, other.container_id):
                await stack.wait_for(cid, lambda v: v.pending_prompts, timeout=60)
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)

            # Tier 2 (bob), in Berlin, with JavaScript: sign in by keyboard, see the prompt, answer it.
            ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
            page = await ctx.new_page()
            await sign_in(page, base, "tier2", keyboard=True)
            # This container's card (the session's server may hold other tests' prompts on the same host).
            card = page.locator(f'article.prompt[id^="prompt-{r.container_id}."]')
            await card.wait_for()
            assert await card.get_by_role("button", name="Isolate Host").count() == 1
            text = await card.inner_text()
            assert "soc_tier2" in text and "automation_user" in text and "left" in text
            assert "host" in text and "WORKSTATION-042" in text and "artifact" in text  # target and where it came from
            when = card.locator("time").first
            assert (await when.get_attribute("title")).endswith(" UTC") and re.search(r"CES?T", await when.inner_text())
            cookie = next(c for c in await ctx.cookies() if c["name"] == "soar_session")
            assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
            await shot(page, "01-inbox-tier2")
            await page.keyboard.press("Tab")  # keyboard: a skip link first, then the page in reading order
            assert await page.evaluate("document.activeElement.textContent") == "Skip to the content"
            for _ in range(40):
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement.textContent") == "Isolate Host":
                    break
            assert await page.evaluate("document.activeElement.textContent === 'Isolate Host' && "
                                       "document.activeElement.closest('article') === "
                                       "document.querySelector('article.prompt')")  # the soonest deadline's

            sim.latency(crowdstrike=1500)  # the quarantine takes a few seconds: long enough to be seen running
            sim.fault(vendor="crowdstrike", status=503, count=1)
            await card.get_by_label("Comment").fill("Confirmed with the user's manager")
            await card.get_by_role("button", name="Isolate Host").click()
            await page.get_by_role("heading", name="Confirm: Isolate Host").wait_for()
            assert "quarantine device" in await page.inner_text("main")
            assert await page.get_by_label("Comment").input_value() == "Confirmed with the user's manager"
            await shot(page, "02-confirm")
            await page.get_by_role("button", name="Confirm Isolate Host").click()
            await page.wait_for_url(re.compile(rf"/console/containers/{r.container_id}/report$"))
            flash = await page.locator(".flash").first.inner_text()
            assert 'Your answer "Isolate Host" is recorded: CrowdStrike will isolate WORKSTATION-042' in flash

            saw_running = False
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # the page updates itself (console.js); no reload here
                report = await page.locator("#live-report").inner_text()
                saw_running = saw_running or bool(re.search(r"(Running|Retrying).*(so far)", report))
                if "WORKSTATION-042 isolated" in report:
                    break
                if saw_running:
                    await shot(page, "03-report-running")
                await page.wait_for_timeout(250)
            assert "Quarantine Device" in report and "WORKSTATION-042 isolated" in report, report
            assert saw_running, "the live report never showed the quarantine action running"
            await shot(page, "04-report-finished")

            # refusals come back as sentences, with their status (the same code path as the API)
            csrf = await page.locator("input[name=csrf]").first.get_attribute("value")
            answer_url = f"{base}/console/prompts/{r.container_id}.containment_decision.1/answer"
            again = await page.request.post(answer_url, form={"csrf": csrf, "option": "Both", "confirmed": "yes"},
                                            max_redirects=0)
            assert again.status == 409 and "no longer waiting" in await again.text()
            assert "is already" in await again.text() or "already closed" in await again.text()
            pending = f"{base}/console/prompts/{other.container_id}.containment_decision.1/answer"
            bad = await page.request.post(pending, form={"csrf": csrf, "option": "Wipe Disk"}, max_redirects=0)
            assert bad.status == 422 and "is not offered; choose one of: Isolate Host" in await bad.text()
            forged = await page.request.post(pending, form={"csrf": "not-the-token", "option": "Monitor Only"},
                                             max_redirects=0)
            assert forged.status == 403 and "Reload the page" in await forged.text()

            await page.get_by_role("link", name=f"← {r.container_id}").click()
            main = await page.inner_text("main")
            assert "bob answered \"Isolate Host\"" in main and "Confirmed with the user's manager" in main
            assert "True Positive - Escalated to IR" in main and "sourceHostName" in main
            await shot(page, "05-container")
            await page.get_by_role("link", name="Containers", exact=True).click()
            await page.get_by_label("Name contains the words").fill("credential dumping")
            await page.get_by_label("Awaiting a prompt").check()
            await page.get_by_role("button", name="Filter").click()
            listed = await page.locator("table.list tbody").inner_text()
            assert other.container_id in listed and r.container_id not in listed
            await shot(page, "06-containers")
            await page.get_by_role("link", name="Metrics").click()
            await page.locator("svg.chart").first.wait_for(timeout=30_000)  # a first read may say "reading runs"
            assert await page.locator("svg.chart").count() == 5
            await shot(page, "07-metrics")
            await page.set_viewport_size({"width": 390, "height": 844})
            await page.goto(f"{base}/console/", wait_until="domcontentloaded")
            await shot(page, "08-inbox-phone")
            await ctx.close()

            # Tier 1 (alice), without JavaScript: reads the other prompt, cannot answer it.
            ctx = await browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
            page = await ctx.new_page()
            await sign_in(page, base, "tier1")
            ro = page.locator(f'article.prompt[id^="prompt-{other.container_id}."]')
            await ro.wait_for()
            assert "Needs soc_tier2" in await ro.inner_text() and await ro.get_by_role("button").count() == 0
            assert "Waiting for others" in await page.inner_text("main")
            await shot(page, "09-inbox-tier1-readonly")
            await ctx.close()

            # The manager (carol), without JavaScript, answers it: the plain-HTML path end to end.
            ctx = await browser.new_context(java_script_enabled=False)
            page = await ctx.new_page()
            await sign_in(page, base, "manager")
            mine = page.locator(f'article.prompt[id^="prompt-{other.container_id}."]')
            await mine.get_by_role("button", name="Monitor Only").click()  # denies: no confirmation needed
            await page.wait_for_url(re.compile(rf"/console/containers/{other.container_id}/report$"))
            assert 'Your answer "Monitor Only" is recorded' in await page.locator(".flash").first.inner_text()
            await ctx.close()
            await browser.close()


async def test_forged_and_expired_sessions_are_refused(dev_env, task_queue, assets_file, sim):
    from playwright.async_api import async_playwright

    async with run_stack(dev_env.client, task_queue, assets_file) as stack, async_playwright() as pw:
        short = stack.settings.model_copy(update={"console_session_s": 3.0})
        with run_api(short, dev_env.client) as base:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await sign_in(page, base, "tier1")
            real = next(c for c in await ctx.cookies() if c["name"] == "soar_session")
            version, payload, mac = real["value"].split(".")

            # forged: alice's signed session with the user changed to carol (the manager)
            import base64
            import json
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            data["u"] = "carol"
            forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
            for value in (f"{version}.{forged}.{mac}", f"{version}.{payload}.{'A' * len(mac)}", "not-a-session"):
                await ctx.clear_cookies()
                await ctx.add_cookies([{**real, "value": value}])
                await page.goto(f"{base}/console/", wait_until="domcontentloaded")
                assert "/console/sign-in" in page.url and "why=invalid" in page.url
                assert "Your session was not valid" in await page.inner_text("main")
            await shot(page, "10-forged-session")
            async with httpx.AsyncClient(base_url=base) as http:  # nor is a form post taken with it
                r = await http.post("/console/containers/SOAR-AAAAAAAAAAAA/comment", data={"text": "x", "csrf": "x"},
                                    headers={"Cookie": f"soar_session={version}.{forged}.{mac}"})
                assert r.status_code == 401
                r = await http.get("/console/", headers={"Cookie": f"soar_session={real['value']}"})
                assert r.status_code == 200 and "Inbox" in r.text  # the genuine one still works ...

            await ctx.clear_cookies()
            await ctx.add_cookies([{**real, "expires": -1}])  # a browser that keeps sending it past its max-age
            await page.wait_for_timeout(3500)  # ... until it expires
            await page.goto(f"{base}/console/", wait_until="domcontentloaded")
            assert "why=expired" in page.url and "Your session expired" in await page.inner_text("main")
            assert not [c for c in await ctx.cookies() if c["name"] == "soar_session"]  # and it was dropped
            await shot(page, "11-expired-session")
            await browser.close()
