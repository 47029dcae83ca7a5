"""Automation metrics, Splunk SOAR's /rest/playbook_run and Prometheus, over HTTP against a real worker
stack on the Temporal dev server and the vendor simulator.

One scenario (module fixture) runs real playbooks to the end: a clean phishing email (auto-closed), a
malicious URL (blocked, ticketed), a malicious attachment whose nested containment prompt an analyst
answers, the same with the prompt timing out, and a manual enrichment run on a `misc` container.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from api.app import create_app
from api.report import build_report
from api.routers.splunk import stable_id
from core.models import ActionResult, Artifact, Container, RunStatus, Severity, Status
from core.prometheus import REGISTRY, ActionMetricsInterceptor, start_worker_metrics_server
from tests.helpers.config import example_assets, write_assets
from tests.helpers.namespaces import own_namespace
from tests.helpers.prompts import answer
from tests.helpers.servers import ServerThread
from tests.helpers.stack import Stack, run_stack
from tests.helpers.wait import assert_eventually, truthy
from workflows.messages import AnalystChange, ChangeAck, ContainerView, RunPlaybookRequest

AUTOMATION, TIER1, TIER2 = "demo-automation-token", "demo-tier1-token", "demo-tier2-token"
MANAGER = "demo-manager-token"
BAD_HASH = "deadbeef" + "0" * 20 + "abcd"  # md5-shaped; the simulator calls it malicious (45 engines)


def ph(token: str) -> dict[str, str]:
    return {"ph-auth-token": token}


async def get(url: str, token: str | None, **params: object) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.get(url, headers=ph(token) if token else {}, params=params)


def container(label: str, severity: Severity = Severity.MEDIUM, **cef: str) -> Container:
    return Container(name=f"metrics test {label}", label=label, severity=severity,
                     source_data_identifier=f"metrics-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="a", cef=cef)])


def settled(v: ContainerView) -> bool:
    return bool(v.state.runs) and all(r.status != RunStatus.RUNNING for r in v.state.runs)


@dataclass
class Scenario:
    stack: Stack
    base: str
    since: datetime
    until: datetime
    ids: dict[str, str] = field(default_factory=dict)
    views: dict[str, ContainerView] = field(default_factory=dict)

    async def get(self, path: str, token: str | None = TIER1, **params: object) -> httpx.Response:
        return await get(f"{self.base}{path}", token, **params)

    def window(self) -> dict[str, str]:
        return {"since": self.since.isoformat(), "until": self.until.isoformat()}


async def _scenario(stack: Stack) -> dict[str, str]:
    async def start(c: Container, **kw: float) -> str:
        return (await stack.start(c, **kw)).container_id

    ids = {
        "clean": await start(container("phishing", requestURL="https://intranet.example.com/a")),
        "url": await start(container("phishing", requestURL="http://evil.example.net/login")),
        "answered": await start(container("phishing", fileHash=BAD_HASH, sourceHostName="WORKSTATION-042")),
        "timeout": await start(container("phishing", fileHash=BAD_HASH, sourceHostName="WORKSTATION-077"),
                               respond_in_s=1),
        "manual": await start(container("misc", sourceAddress="8.8.8.8")),
    }
    await stack.wait_for(ids["manual"], lambda v: True)
    manual = RunPlaybookRequest(playbook="universal_alert_enrichment", user="alice")
    await stack.handle(ids["manual"]).execute_update("run_playbook", manual, result_type=str)
    v = await stack.wait_for(ids["answered"], lambda v: bool(v.pending_prompts), timeout=60)
    p = v.pending_prompts[0]
    await asyncio.sleep(0.3)  # a measurable analyst response time
    await answer(stack.client, p, "Isolate Host", roles=("soc_tier2", "analyst"))
    return ids


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def scenario(dev_env, simulator_server, tmp_path_factory) -> AsyncIterator[Scenario]:
    assets = write_assets(tmp_path_factory.mktemp("metrics") / "assets.json",
                          example_assets(simulator_server.url))
    tq = f"tq-metrics-{uuid.uuid4().hex[:8]}"
    ns = await own_namespace(dev_env)  # only this scenario's runs are counted
    client = await Client.connect(dev_env.client.service_client.config.target_host, namespace=ns,
                                  data_converter=pydantic_data_converter)
    async with run_stack(client, tq, assets, temporal_namespace=ns) as stack:
        since = datetime.now(UTC) - timedelta(seconds=1)
        ids = await _scenario(stack)
        until = datetime.now(UTC) + timedelta(seconds=1)
        views = {k: await stack.wait_for(cid, settled, timeout=90) for k, cid in ids.items()}
        srv = ServerThread(create_app(stack.settings, client=client)).start()
        try:
            yield Scenario(stack, srv.url, since, until, ids, views)
        finally:
            srv.stop()
            for cid in ids.values():
                try:
                    await stack.handle(cid).execute_update(
                        "change", AnalystChange(user="bob", status=Status.CLOSED), result_type=ChangeAck)
                except Exception:
                    pass  # already closed (auto-closed by its playbook)


async def until(fn, pred, within: float = 20.0):
    """Visibility is eventually consistent: retry `await fn()` until `pred(result)`; the last result either way
    (the test's own assertions then say what was wrong)."""
    last = []

    async def attempt():
        last[:] = [await fn()]
        return truthy(last[0]) if pred(last[0]) else None
    try:
        await assert_eventually(attempt, within, "metrics", interval=0.25)
    except TimeoutError:
        pass
    return last[0]


# ---- the scenario did what the metrics will count ------------------------------------------------------
def test_the_scenario_ran_as_designed(scenario):
    v = scenario.views
    assert v["clean"].state.auto_resolved and v["clean"].state.container.status == Status.CLOSED
    assert v["url"].state.disposition == "True Positive - Escalated to Tier 2"
    assert v["answered"].state.disposition == "True Positive - Escalated to IR"
    assert v["timeout"].state.disposition == "Pending Review - No Analyst Response"
    assert [r.playbook for r in v["manual"].state.runs] == ["universal_alert_enrichment"]
    assert all(r.status == RunStatus.SUCCESS for x in v.values() for r in x.state.runs)


# ---- /api/v1/metrics/automation ------------------------------------------------------------------------
async def test_automation_metrics_add_up(scenario):
    r = await until(lambda: scenario.get("/api/v1/metrics/automation", **scenario.window()),
                   lambda r: r.status_code == 200 and r.json()["overall"]["runs_total"] == 7)
    assert r.status_code == 200, r.text
    m = r.json()
    assert m["truncated"] is False and m["max_runs"] == 2000
    o = m["overall"]
    assert {k: o[k] for k in ("runs_total", "succeeded", "failed", "cancelled", "running", "nested_runs",
                              "auto_resolved", "prompts_answered", "prompts_timed_out")} == {
        "runs_total": 7, "succeeded": 7, "failed": 0, "cancelled": 0, "running": 0, "nested_runs": 2,
        "auto_resolved": 1, "prompts_answered": 1, "prompts_timed_out": 1}
    assert o["auto_resolved_share"] == pytest.approx(1 / 5)  # 5 finished top-level runs
    reports = {k: build_report(v) for k, v in scenario.views.items()}
    # time saved: exactly what the containers' reports say (nested runs add nothing)
    saved = sum(x.time_saved_minutes for x in reports.values())
    assert o["time_saved_minutes"] == pytest.approx(saved, abs=0.01)
    durations = [run.duration_s for x in reports.values() for run in x.runs]
    prompt = next(a for a in reports["answered"].runs[0].actions if a.kind == "prompt")
    assert prompt.responder == "bob" and prompt.duration_s >= 0.3
    assert o["analyst_response_mean_s"] == pytest.approx(prompt.duration_s)
    assert o["duration_p95_s"] >= max(durations) - 1e-6 and o["duration_mean_s"] > 0
    pb = m["playbooks"]
    assert set(pb) == {"phishing_triage_automation", "containment_decision", "universal_alert_enrichment"}
    pt, cd = pb["phishing_triage_automation"], pb["containment_decision"]
    assert (pt["runs_total"], pt["auto_resolved"], pt["auto_resolved_share"]) == (4, 1, 0.25)
    assert (cd["runs_total"], cd["nested_runs"], cd["time_saved_minutes"]) == (2, 2, 0.0)
    # prompts count once, under the playbook that asked (the parent's report repeats them)
    assert (cd["prompts_answered"], cd["prompts_timed_out"], pt["prompts_answered"]) == (1, 1, 0)
    ua = pb["universal_alert_enrichment"]
    assert ua["time_saved_minutes"] == pytest.approx(reports["manual"].time_saved_minutes, abs=0.01)
    assert ua["auto_resolved_share"] == 0.0


async def test_automation_metrics_filters_and_errors(scenario):
    r = await scenario.get("/api/v1/metrics/automation", playbook="universal_alert_enrichment",
                           **scenario.window())
    assert r.status_code == 200 and r.json()["overall"]["runs_total"] == 1
    assert list(r.json()["playbooks"]) == ["universal_alert_enrichment"]
    later = await scenario.get("/api/v1/metrics/automation", since=scenario.until.isoformat(),
                         until=(scenario.until + timedelta(seconds=1)).isoformat())
    assert later.status_code == 200 and later.json()["overall"]["runs_total"] == 0
    assert later.json()["overall"]["duration_mean_s"] is None
    bad = await scenario.get("/api/v1/metrics/automation", playbook="x' OR SoarKind='container")
    assert bad.status_code == 400 and "invalid playbook name" in bad.json()["detail"]
    inverted = await scenario.get("/api/v1/metrics/automation", since=scenario.until.isoformat(),
                            until=scenario.since.isoformat())
    assert inverted.status_code == 400
    assert (await scenario.get("/api/v1/metrics/automation", token=None)).status_code == 401
    manager = await scenario.get("/api/v1/metrics/automation", token=MANAGER, **scenario.window())
    assert manager.status_code == 200


# ---- /rest/playbook_run --------------------------------------------------------------------------------
async def test_playbook_run_rows_in_splunk_shape(scenario):
    cid = scenario.ids["answered"]
    r = await until(lambda: scenario.get("/rest/playbook_run", token=AUTOMATION, _filter_container=f'"{cid}"'),
                   lambda r: r.status_code == 200 and r.json()["count"] == 2)
    body = r.json()
    assert (body["count"], body["num_pages"]) == (2, 1)
    nested, parent = body["data"]  # newest first
    assert parent["workflow_id"] == f"playbook/phishing_triage_automation/{cid}"
    assert nested["workflow_id"] == f"playbook/containment_decision/{cid}/from-phishing-triage-automation"
    assert parent["id"] == stable_id(parent["workflow_id"]) and isinstance(parent["id"], int)
    assert nested["nested"] is True and nested["parent_run"] == parent["id"] and parent["parent_run"] is None
    for row in body["data"]:
        assert row["container"] == cid and row["status"] == "success" and row["auto_resolved"] is False
        assert isinstance(row["start_time"], float) and row["end_time"] >= row["start_time"]
        assert datetime.fromisoformat(row["create_time"]).timestamp() == pytest.approx(row["start_time"])
        assert row["update_time"] >= row["create_time"]
    assert parent["version"] == "2.3" and "action(s)" in parent["message"]
    one = (await scenario.get("/rest/playbook_run", _filter_container=f'"{cid}"', page_size=1, page=1,
                              sort="create_time", order="asc")).json()
    assert (one["count"], one["num_pages"], [x["workflow_id"] for x in one["data"]]) == (
        2, 2, [nested["workflow_id"]])
    everything = (await scenario.get("/rest/playbook_run", _filter_container=f'"{cid}"', page_size=0)).json()
    assert (everything["count"], everything["num_pages"], len(everything["data"])) == (2, 1, 2)
    nested_only = json.dumps({"container": cid, "nested": True})
    by_filter = (await scenario.get("/rest/playbook_run", filter=nested_only)).json()
    assert [x["workflow_id"] for x in by_filter["data"]] == [nested["workflow_id"]]


def splunk_user_script(base: str, token: str) -> tuple[list[dict], list[float], int]:
    """A reporting script written the way SOAR users write them against Splunk's REST API."""
    resp = httpx.get(f"{base}/rest/playbook_run", headers={"ph-auth-token": token},
                     params={"page_size": 100, "filter": json.dumps({"status": "success"})})
    resp.raise_for_status()
    data = resp.json()["data"]
    durations = [r["end_time"] - r["start_time"] for r in data]
    auto_resolved = sum(r["auto_resolved"] for r in data)
    return data, durations, auto_resolved


async def test_splunk_soar_user_script(scenario):
    base, token = scenario.base, AUTOMATION
    ours = set(scenario.ids.values())
    await until(lambda: scenario.get("/rest/playbook_run", token, page_size=100, _filter_status='"success"'),
               lambda r: sum(x["container"] in ours for x in r.json()["data"]) == 7)
    data, durations, auto_resolved = await asyncio.to_thread(splunk_user_script, base, token)
    assert all(r["status"] == "success" for r in data) and all(d >= 0 for d in durations)
    assert auto_resolved >= 1
    mine = [r for r in data if r["container"] in ours]
    assert len(mine) == 7 and sum(r["auto_resolved"] for r in mine) == 1
    clean = next(r for r in mine if r["container"] == scenario.ids["clean"])
    report = build_report(scenario.views["clean"]).runs[0]
    assert clean["auto_resolved"] is True
    assert clean["end_time"] - clean["start_time"] == pytest.approx(report.duration_s, abs=1e-3)
    # Splunk's Python-literal filter form, and an operator
    lit = (await scenario.get("/rest/playbook_run", token, _filter_status='"success"', page_size=0,
                              _filter_auto_resolved="True", _filter_container__in=repr(sorted(ours)))).json()
    assert [r["container"] for r in lit["data"]] == [scenario.ids["clean"]]


async def test_playbook_run_bad_requests_use_splunks_envelope(scenario):
    for params, words in [({"filter": "{not json"}, "not valid JSON"),
                          ({"filter": "[1, 2]"}, "JSON object"),
                          ({"_filter_colour": '"red"'}, "unknown filter field 'colour'"),
                          ({"_filter_status__near": '"x"'}, "unknown filter operator"),
                          ({"sort": "secret"}, "cannot sort by"),
                          ({"order": "sideways"}, "'order'"),
                          ({"_filter_start_time__gt": '"yesterday"'}, "cannot compare")]:
        r = await scenario.get("/rest/playbook_run", **params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["failed"] is True and words in r.json()["message"], r.json()
    assert (await scenario.get("/rest/playbook_run", token=None)).status_code == 401
    assert (await scenario.get("/rest/playbook_run", token="wrong")).status_code == 401


# ---- Prometheus ----------------------------------------------------------------------------------------
async def test_prometheus_endpoint(scenario):
    r = await scenario.get("/metrics", token=AUTOMATION)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(r.text)}
    runs = {(s.labels["playbook"], s.labels["status"]): s.value
            for s in fams["soar_playbook_runs"].samples if s.name == "soar_playbook_runs_total"}
    assert runs[("phishing_triage_automation", "success")] >= 4
    assert runs[("containment_decision", "success")] >= 2
    assert runs[("universal_alert_enrichment", "success")] >= 1
    assert "soar_prompts_pending" in fams and "soar_containers_ingested" in fams
    assert "soar_action_duration_seconds" in fams and "soar_prompt_response_seconds" in fams
    assert (await scenario.get("/metrics", token=None)).status_code == 401


# ---- running and cancelled runs (a stack of their own) -----------------------------------------------
async def test_running_then_cancelled_run(dev_env, task_queue, assets_file):
    async with run_stack(dev_env.client, task_queue, assets_file) as stack:
        since = datetime.now(UTC) - timedelta(seconds=1)
        edr = container("edr", Severity.HIGH, sourceHostName="WORKSTATION-099")
        cid = (await stack.start(edr)).container_id
        await stack.wait_for(cid, lambda v: bool(v.pending_prompts), timeout=60)
        srv = ServerThread(create_app(stack.settings, client=dev_env.client)).start()
        try:
            async def runs(status: str | None = None) -> httpx.Response:
                f = {"container": cid} | ({"status": status} if status else {})
                return await get(f"{srv.url}/rest/playbook_run", TIER2, filter=json.dumps(f))

            rows = (await until(lambda: runs("running"), lambda r: r.json()["count"] == 1)).json()["data"]
            assert (rows[0]["status"], rows[0]["end_time"], rows[0]["duration_s"]) == ("running", None, None)
            m = (await get(f"{srv.url}/api/v1/metrics/automation", TIER2, since=since.isoformat())).json()
            o = m["overall"]
            assert (o["runs_total"], o["running"], o["duration_mean_s"]) == (1, 1, None)
            prom = (await get(f"{srv.url}/metrics", TIER2)).text
            pending = next(s.value for f in text_string_to_metric_families(prom)
                           if f.name == "soar_prompts_pending" for s in f.samples)
            assert pending >= 1
            await stack.handle(cid).execute_update("change", AnalystChange(user="bob", status=Status.CLOSED),
                                                   result_type=ChangeAck)
            done = await until(runs, lambda r: r.json()["data"][0]["status"] != "running")
            rows = done.json()["data"]
            assert rows[0]["status"] == "cancelled" and rows[0]["end_time"] >= rows[0]["start_time"]
        finally:
            srv.stop()


# ---- the worker side: action durations and the metrics server --------------------------------------------
@activity.defn(name="demoacme.lookup_thing")
async def lookup_thing(ok: bool) -> ActionResult:
    if not ok:
        raise RuntimeError("vendor down")
    return ActionResult(status="success", message="found")


@activity.defn(name="soar.internal_step")
async def internal_step() -> str:
    return "done"


@workflow.defn(name="MetricsProbe", sandboxed=False)  # this test module imports the API; the probe is trivial
class MetricsProbe:
    @workflow.run
    async def run(self) -> str:
        from temporalio.common import RetryPolicy

        once = RetryPolicy(maximum_attempts=1)
        await workflow.execute_activity(lookup_thing, True, start_to_close_timeout=timedelta(seconds=10))
        try:
            await workflow.execute_activity(lookup_thing, False, start_to_close_timeout=timedelta(seconds=10),
                                            retry_policy=once)
        except Exception:
            pass
        return await workflow.execute_activity(internal_step, start_to_close_timeout=timedelta(seconds=10))


async def test_action_durations_recorded_by_the_worker_interceptor(dev_env, task_queue):
    def count(status: str, connector: str = "demoacme", action: str = "lookup_thing") -> float | None:
        labels = {"connector": connector, "action": action, "status": status}
        return REGISTRY.get_sample_value("soar_action_duration_seconds_count", labels)

    before = (count("success") or 0, count("error") or 0)
    async with Worker(dev_env.client, task_queue=task_queue, workflows=[MetricsProbe],
                      activities=[lookup_thing, internal_step], interceptors=[ActionMetricsInterceptor()]):
        assert await dev_env.client.execute_workflow(MetricsProbe.run, id=f"probe-{uuid.uuid4().hex}",
                                                     task_queue=task_queue) == "done"
    assert (count("success"), count("error")) == (before[0] + 1, before[1] + 1)
    assert count("success", "soar", "internal_step") is None  # platform activities are not actions
    server, thread = start_worker_metrics_server(0, addr="127.0.0.1")
    try:
        text = (await get(f"http://127.0.0.1:{server.server_port}/metrics", None)).text
        labels = 'action="lookup_thing",connector="demoacme",status="success"'
        assert f"soar_action_duration_seconds_count{{{labels}}}" in text
    finally:
        server.shutdown()
        thread.join(timeout=5)
