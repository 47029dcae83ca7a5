"""Prompt notifications against the simulator's sinks (real HTTP, real SMTP with STARTTLS), the real worker on
the dev server, and the real API for Slack's button callbacks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from core.models import Artifact, Container, Severity
from simulator.credentials import WEBHOOK_SECRET, demo_notifications, notification_env
from tests.helpers.api import http, run_api
from tests.helpers.stack import run_stack
from tests.helpers.wait import assert_eventually

PUBLIC = "https://soar.corp.example"


def edr(host: str = "WORKSTATION-042", user: str = "jdoe") -> Container:
    return Container(name=f"EDR detection on {host}", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"notify-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="endpoint", cef={"sourceHostName": host, "sourceUserName": user})])


@pytest.fixture
def notifications_file(tmp_path: Path, sim, monkeypatch) -> Path:
    """The demo notifications file against this simulator (e-mail trusts the sink's certificate)."""
    info = httpx.get(f"{sim.url}/_sim/smtp").json()
    ca = tmp_path / "smtp-ca.pem"
    ca.write_text(info["certificate"])
    for k, v in notification_env(sim.url).items():
        monkeypatch.setenv(k, v)
    doc = demo_notifications(sim.url, "127.0.0.1", sim.smtp_port, ca_file=str(ca))
    path = tmp_path / "notifications.json"
    path.write_text(json.dumps(doc))
    return path


def sinks(sim) -> dict:
    st = sim.state()["effects"]
    return {"slack": st.get("sinks", {}).get("slack", []), "teams": st.get("sinks", {}).get("teams", []),
            "webhook": st.get("sinks", {}).get("webhook", []), "smtp": st.get("smtp", {}).get("messages", [])}


def decoded_history(doc: object) -> str:
    """The history as text with every payload decoded (payload data is base64 in the JSON form)."""
    out: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "data" and isinstance(v, str):
                    out.append(base64.b64decode(v).decode("utf-8", "replace"))
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(doc)
    return json.dumps(doc) + "\n".join(out)


def receiver_verifies(row: dict, secret: str) -> bool:
    """What a webhook receiver does (docs/console.md): HMAC-SHA256 over `<timestamp>.<body>`, fresh timestamp."""
    ts, sig, body = row["headers"]["x-soar-timestamp"], row["headers"]["x-soar-signature"], row["body"]
    want = "v1=" + hmac.new(secret.encode(), f"{ts}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, sig) and abs(time.time() - int(ts)) < 300


async def test_prompt_opened_reaches_slack_teams_webhook_and_email(dev_env, task_queue, assets_file, sim,
                                                                   notifications_file):
    async with run_stack(dev_env.client, task_queue, assets_file, notifications_file=notifications_file,
                         public_url=PUBLIC) as stack:
        r = await stack.start(edr())
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        p = v.pending_prompts[0]
        link = f"{PUBLIC}/console/prompts/{p.id}"

        async def arrived():
            s = sinks(sim)
            return s if all(s[k] for k in s) else None
        s = await assert_eventually(arrived, 60, "a message on every channel")

        slack = s["slack"][0]["body"]
        assert "Prompt waiting for soc_tier2" in slack["text"]
        actions = next(b for b in slack["blocks"] if b["type"] == "actions")["elements"]
        buttons = {b["text"]["text"]: b for b in actions}
        assert set(buttons) == {*p.options, "Open in console"} and buttons["Open in console"]["url"] == link
        assert json.loads(buttons["Isolate Host"]["value"]) == {"prompt_id": p.id, "option": "Isolate Host"}
        assert "confirm" in buttons["Isolate Host"] and "confirm" not in buttons["Monitor Only"]
        assert str(int(p.deadline.timestamp())) in json.dumps(slack["blocks"])  # <!date^...> for each reader

        card = s["teams"][0]["body"]["attachments"][0]["content"]
        assert card["type"] == "AdaptiveCard" and card["actions"][0]["url"] == link
        facts = {f["title"]: f["value"] for f in card["body"][2]["facts"]}
        assert facts["Options"] == ", ".join(p.options) and p.deadline.strftime("%Y-%m-%d %H:%M:%S") in facts["Deadline"]
        assert facts["Target (host)"].startswith("WORKSTATION-042")

        hook = s["webhook"][0]
        assert receiver_verifies(hook, WEBHOOK_SECRET)
        assert not receiver_verifies({**hook, "body": hook["body"].replace("soc_tier2", "soc_tier1")}, WEBHOOK_SECRET)
        doc = json.loads(hook["body"])
        assert doc["event"] == "prompt.opened" and doc["link"] == link and doc["prompt"]["options"] == p.options
        assert doc["prompt"]["deadline"].startswith(p.deadline.strftime("%Y-%m-%dT%H:%M:%S"))

        mail = s["smtp"][0]
        assert mail["tls"] and mail["user"] == "soar-notify" and mail["to"] == ["soc-tier2@corp.example.com"]
        assert "Prompt waiting for soc_tier2" in mail["subject"]
        assert link in mail["body"] and "Isolate Host, Disable Account, Both, Monitor Only" in mail["body"]
        assert p.deadline.strftime("%Y-%m-%d %H:%M:%S UTC") in mail["body"]

        # nothing secret reached the workflow's history: only channel names travel
        hist = decoded_history(json.loads((await stack.handle(r.container_id).fetch_history()).to_json()))
        for secret in notification_env(sim.url).values():
            assert secret not in hist
        assert '"channel":"soc-slack"' in hist.replace(" ", "")


async def test_a_dead_webhook_does_not_delay_the_playbook(dev_env, task_queue, assets_file, sim, notifications_file):
    doc = json.loads(notifications_file.read_text())
    for ch in doc["channels"]:
        if ch["name"] == "soc-hook":
            ch["retry_for_s"] = 20  # gives up (and says so on the container) while the webhook is still down
    notifications_file.write_text(json.dumps(doc))
    sim.fault(vendor="webhook", status=500, duration_s=120)
    async with run_stack(dev_env.client, task_queue, assets_file, notifications_file=notifications_file) as stack:
        r = await stack.start(edr("WORKSTATION-077", "mdoe"))
        v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
        p = v.pending_prompts[0]
        await stack.answer(p.workflow_id, p.id, "Isolate Host")
        v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", timeout=60,
                                 what="the playbook finished")
        run = v.state.runs[0]
        assert run.status == "success" and v.state.disposition == "True Positive - Escalated to IR"
        assert "WORKSTATION-077" in sim.state()["effects"]["crowdstrike"]["contained"]
        assert not [a for a in v.state.audit if a.kind == "notification_failed"], "finished before any give-up"
        assert sim.state()["statuses"].get("sinks:500", 0) >= 1  # the webhook was failing all along
        assert sinks(sim)["slack"] and sinks(sim)["smtp"]  # the other channels were not held up

        v = await stack.wait_for(r.container_id, lambda v: any(a.kind == "notification_failed" for a in v.state.audit),
                                 timeout=90, what="the webhook's failure recorded on the container")
        failed = next(a for a in v.state.audit if a.kind == "notification_failed")
        assert failed.action == "notify:soc-hook" and "HTTP 500" in failed.detail and "gave up" in failed.detail
        assert "/sinks/webhook" not in failed.detail or "***" in failed.detail
        assert any("Notification to soc-hook" in c.text for c in v.state.comments)
        assert run.ended is not None and run.ended < failed.time


async def test_slack_buttons_answer_a_prompt_and_bad_signatures_are_refused(dev_env, task_queue, assets_file, sim,
                                                                            notifications_file):
    async with run_stack(dev_env.client, task_queue, assets_file, notifications_file=notifications_file) as stack:
        with run_api(stack.settings, dev_env.client) as base:
            url = f"{base}/api/v1/integrations/slack/interactions"
            r = await stack.start(edr("WORKSTATION-088", "kdoe"))
            v = await stack.wait_for(r.container_id, lambda v: v.pending_prompts, timeout=60)
            p = v.pending_prompts[0]
            await assert_eventually(lambda: _slack_for(sim, p.id), 60, "the Slack message")
            async with http(sim.url) as simc, http(base) as api:
                async def click(**kw):
                    return (await simc.post("/sinks/slack/click", json={"url": url, "option": "Isolate Host",
                                                                         "user_id": "U0SIMBOB", **kw})).json()

                forged = await click(signing_secret="not-the-signing-secret")
                assert forged["status"] == 401 and "signature" in forged["answer"]
                stale = await api.post(url, content=b"payload=%7B%7D", headers={
                    "X-Slack-Request-Timestamp": str(int(time.time()) - 600), "X-Slack-Signature": "v0=00",
                    "Content-Type": "application/x-www-form-urlencoded"})
                assert stale.status_code == 401 and "window" in stale.json()["detail"]
                unmapped = await click(user_id="U0NOBODY")
                assert unmapped["status"] == 403 and "not mapped" in unmapped["answer"]
                tier1 = await click(user_id="U0SIMALICE")
                assert tier1["status"] == 403 and "soc_tier2" in tier1["answer"]
                assert "WORKSTATION-088" not in sim.state()["effects"].get("crowdstrike", {}).get("contained", [])

                ok = await click()
                assert ok["status"] == 200, ok
                text = json.loads(ok["answer"])["text"]
                assert text == 'bob answered "Isolate Host": CrowdStrike will isolate WORKSTATION-088', text
            v = await stack.wait_for(r.container_id, lambda v: v.state.runs[0].status != "running", timeout=60)
            assert "WORKSTATION-088" in sim.state()["effects"]["crowdstrike"]["contained"]
            kinds = [(a.kind, a.actor, a.source) for a in v.state.audit]
            assert ("answer_refused", "slack:U0NOBODY", next(s for k, a, s in kinds if a == "slack:U0NOBODY")) in kinds
            assert any(k == "answer_refused" and a == "alice" and s == "slack:U0SIMALICE" for k, a, s in kinds)
            assert any(k == "prompt_answered" and a == "bob" and s == "slack:U0SIMBOB" for k, a, s in kinds)
            assert any("bob answered" in m["body"]["text"] for m in sim.state()["effects"]["sinks"]["responses"])


async def _slack_for(sim, prompt_id: str) -> bool:
    return any(prompt_id in json.dumps(m["body"]) for m in sinks(sim)["slack"])


async def test_reminders_escalation_and_timeout_are_announced(ts_env, task_queue, assets_file, sim, notifications_file):
    from datetime import timedelta

    async with run_stack(ts_env.client, task_queue, assets_file, notifications_file=notifications_file,
                         prompt_reminders=[0.5, 0.8], prompt_escalate_to="soc_manager",
                         prompt_escalate_for_s=600) as stack:
        r = await stack.start(edr("WORKSTATION-099", "zdoe"))
        p = (await stack.wait_for(r.container_id, lambda v: v.pending_prompts, 60)).pending_prompts[0]

        async def headlines(n: int):
            got = [m["body"]["blocks"][0]["text"]["text"] for m in sinks(sim)["slack"] if p.id in json.dumps(m)]
            return got if len(got) >= n else None
        await assert_eventually(lambda: headlines(1), 60, "the opening")
        await ts_env.sleep(timedelta(minutes=13))  # both reminders
        await assert_eventually(lambda: headlines(3), 60, "two reminders")
        await ts_env.sleep(timedelta(minutes=2, seconds=30))  # the deadline: put to soc_manager
        await assert_eventually(lambda: headlines(4), 60, "the escalation")
        await ts_env.sleep(timedelta(minutes=10, seconds=5))  # nobody answers the manager either
        got = await assert_eventually(lambda: headlines(5), 60, "the timeout")
    assert got == ["Prompt waiting for soc_tier2", "Reminder: prompt still waiting for soc_tier2",
                   "Reminder: prompt still waiting for soc_tier2", "Prompt escalated to soc_manager",
                   'Prompt timed out: the default "Monitor Only" was taken']
    timeout = next(m["body"] for m in sinks(sim)["slack"] if "timed out" in m["body"]["text"] and p.id in json.dumps(m))
    assert [b["text"]["text"] for b in timeout["blocks"][-1]["elements"]] == ["Open in console"]  # no answer buttons
    mails = [m["subject"] for m in sinks(sim)["smtp"] if m["headers"].get("X-SOAR-Prompt") == p.id]
    assert len(mails) == 5 and "escalated to soc_manager" in mails[3] and "timed out" in mails[4]
