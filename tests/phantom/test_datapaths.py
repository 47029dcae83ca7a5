"""collect2, condition/decision, format and the datapath grammar on hand-made data (exact values)."""

from __future__ import annotations

import pytest

from core.models import ActionResult, Artifact, Container
from workflows.phantom.conditions import PhantomData, compare
from workflows.phantom.containers import ContainerBox
from workflows.phantom.context import PhantomError
from workflows.phantom.datapaths import Block, parse, walk
from workflows.phantom.results import RunOutcome, act_results, prompt_results


def vt(url: str, malicious: int, categories: dict | None = None) -> ActionResult:
    return ActionResult(message=f"{malicious}/90 engines malicious",
                        summary={"malicious": malicious, "harmless": 90 - malicious, "suspicious": 0,
                                 "undetected": 0, "total_engines": 90},
                        data=[{"id": f"id-{url}", "categories": categories or {}},
                              {"id": f"second-{url}"}])


@pytest.fixture
def data() -> PhantomData:
    c = Container(id="SOAR-TESTDATA1", name="c", label="phishing", artifacts=[
        Artifact(name="u1", label="event", cef={"requestURL": "http://a.example/x"}),
        Artifact(name="ip", label="customer_request", cef={"destinationAddress": "198.51.100.9", "action": "block_ip"}),
        Artifact(name="both", cef={"sourceAddress": "10.0.0.1", "destinationAddress": "10.0.0.2"}),
        Artifact(name="list", cef={"toEmail": "a@example.com", "note": "x,y"}),
    ])
    blocks = {
        "url_reputation_1": Block("url_reputation_1", "action", done=True, results=act_results(
            "url reputation", "url_reputation_1", 7, 8, [
                RunOutcome("vt", "VirusTotal v3", "virustotal", {"url": "http://a.example/x",
                                                                 "context": {"artifact_id": 1}}, vt("a", 14)),
                RunOutcome("vt", "VirusTotal v3", "virustotal", {"url": "http://b.example/y"}, vt("b", 0)),
                RunOutcome("vt2", "VirusTotal v3", "virustotal", {"url": "http://c.example/z"},
                           ActionResult(status="failed", message="boom"))])),
        "ask": Block("ask", "prompt", done=True, results=list(prompt_results(
            block="ask", role="soc_tier2", message="m", responses=["Yes", "all good"], responder="bob",
            answered=True, action_run_id=9, waited_s=3.0))),
    }
    return PhantomData(ContainerBox(None, c), blocks, {"calc:scores": '["Safe", "Malicious"]'},  # type: ignore[arg-type]
                       {"url": ["http://a.example/x", "http://d.example/"], "ip": []})


def test_parse_and_walk():
    assert parse("artifact:*.cef.requestURL").path == ("cef", "requestURL")
    assert parse("url_reputation_1:action_result.data.*.id").space == ("result", "url_reputation_1")
    assert parse("filtered-data:f:condition_1:artifact:*.id").filtered == "f:condition_1"
    assert parse("http://evil.example/") is None and parse("Yes") is None and parse(5) is None
    with pytest.raises(NotImplementedError, match="custom list"):
        parse("custom_list:allowlist")
    assert walk({"a": [{"b": 1}, {"b": 2}, {}]}, ("a", "*", "b")) == [1, 2, None]
    assert walk({"r": ["x", "y"]}, ("r", "1")) == ["y"]


def test_collect2_artifacts_results_and_others(data: PhantomData):
    assert data.collect2(["artifact:*.cef.destinationAddress", "artifact:*.id"]) == [
        [None, 1], ["198.51.100.9", 2], ["10.0.0.2", 3], [None, 4]]
    assert data.collect2(["artifact:*.name"], scope=3) == [["both"]]
    assert data.collect2(["url_reputation_1:action_result.parameter.url",
                          "url_reputation_1:action_result.summary.malicious"]) == [
        ["http://a.example/x", 14], ["http://b.example/y", 0], ["http://c.example/z", None]]
    # a single value repeats beside an expanded list; an empty expansion gives no row of its own
    assert data.collect2(["url_reputation_1:action_result.parameter.url",
                          "url_reputation_1:action_result.data.*.id"]) == [
        ["http://a.example/x", "id-a"], ["http://a.example/x", "second-a"],
        ["http://b.example/y", "id-b"], ["http://b.example/y", "second-b"], ["http://c.example/z", None]]
    assert data.collect2(["url_reputation_1:action_result.parameter.context.artifact_id"])[0] == [1]
    assert data.collect2(["url_reputation_1:action_result.status"]) == [["success"], ["success"], ["failed"]]
    assert data.collect2(["ask:action_result.summary.responses.0", "ask:action_result.data.*.user"]) == [
        ["Yes", "bob"]]
    assert data.collect2(["container:label"]) == [["phishing"]]
    assert data.collect2(["playbook_input:url"]) == [["http://a.example/x"], ["http://d.example/"]]
    assert data.collect2(["calc:custom_function:scores"]) == [["Safe"], ["Malicious"]]
    assert data.collect2(["never_ran:action_result.summary"]) == []
    # different sources line up by position
    assert data.collect2(["playbook_input:url", "container:id"]) == [
        ["http://a.example/x", "SOAR-TESTDATA1"], ["http://d.example/", None]]
    # the callback's own results are read for their block
    mine = [{"name": "url_reputation_1", "action_results": [{"summary": {"malicious": 99}}]}]
    assert data.collect2(["url_reputation_1:action_result.summary.malicious"], action_results=mine) == [[99]]
    assert data.collect2(["artifact:*.id"], limit=2) == [[1], [2]]
    with pytest.raises(PhantomError, match="not a datapath"):
        data.collect2(["plain text"])


def test_results_shape_has_both_reading_places(data: PhantomData):
    [vt_run, vt2_run] = data.blocks["url_reputation_1"].results
    assert set(vt_run) >= {"action", "action_run_id", "app_run_id", "asset", "name", "status", "message", "summary",
                           "action_results"}
    assert (vt_run["asset"], vt_run["status"], vt_run["action_run_id"], vt_run["app_run_id"]) == ("vt", "success", 7, 8)
    assert vt_run["summary"]["total_objects"] == 2 and vt_run["summary"]["total_objects_successful"] == 2
    assert vt_run["summary"]["malicious"] == 14  # the brief's results[0]["summary"]
    assert vt_run["data"][0]["summary"]["malicious"] == 14  # the brief's result["data"][0]["summary"]
    assert vt_run["data"][0]["id"] == "id-a" and vt_run["action_results"][0]["data"][0] == {"id": "id-a",
                                                                                          "categories": {}}
    assert vt_run["action_results"][0]["parameter"] == {"url": "http://a.example/x", "context": {"artifact_id": 1}}
    assert (vt2_run["status"], vt2_run["app_run_id"], vt2_run["message"]) == ("failed", 9, "boom")
    answered = prompt_results(block="p", role="r", message="m", responses=["Isolate Host"], responder="bob",
                              answered=True, action_run_id=1, waited_s=1)
    assert answered.get("response", "Monitor Only") == "Isolate Host" and answered[0]["status"] == "success"
    timed_out = prompt_results(block="p", role="r", message="m", responses=[], responder=None, answered=False,
                               action_run_id=1, waited_s=900)
    assert timed_out.get("response", "Monitor Only") == "Monitor Only" and timed_out[0]["status"] == "failed"
    assert isinstance(timed_out, list) and timed_out[0]["action_results"][0]["summary"] == {}


def test_condition_and_filtered_data(data: PhantomData):
    arts, results = data.condition([["artifact:*.label", "==", "customer_request"]], name="f2:condition_1")
    assert [a["id"] for a in arts] == [2] and results == []
    # missing values equal "", so != "" means "has one"; filtered-data keeps to what f2 matched
    arts, _ = data.condition([["artifact:*.cef.destinationAddress", "!=", ""],
                              ["filtered-data:f2:condition_1:artifact:*.cef.sourceAddress", "==", ""],
                              ["filtered-data:f2:condition_1:artifact:*.cef.action", "==", "block_ip"]],
                             logical_operator="and", name="f1:condition_2")
    assert [a["id"] for a in arts] == [2]
    assert data.collect2(["filtered-data:f1:condition_2:artifact:*.cef.destinationAddress",
                          "filtered-data:f1:condition_2:artifact:*.id"]) == [["198.51.100.9", 2]]
    _, results = data.condition([["url_reputation_1:action_result.summary.malicious", ">", 5]], name="bad:condition_1")
    assert [(r["asset"], [ar["parameter"]["url"] for ar in r["action_results"]]) for r in results] == [
        ("vt", ["http://a.example/x"])]
    assert data.collect2(["filtered-data:bad:condition_1:url_reputation_1:action_result.parameter.url"]) == [
        ["http://a.example/x"]]
    arts, results = data.condition([["playbook_input:url", "!=", ""]], name="inputs:condition_1", delimiter=",")
    assert arts == [] and len(results) == 2
    assert data.condition([["playbook_input:ip", "!=", ""]]) == ([], [])
    assert data.collect2(["filtered-data:inputs:condition_1:playbook_input:url"]) == [
        ["http://a.example/x"], ["http://d.example/"]]
    arts, _ = data.condition([["artifact:*.cef.note", "==", "y"]])  # the delimiter splits CEF strings
    assert [a["id"] for a in arts] == [4]
    assert data.condition([["artifact:*.cef.note", "==", "y"]], delimiter=None) == ([], [])
    # two blocks (or two kinds of item) compare position by position
    assert data.decision([["url_reputation_1:action_result.parameter.url", "==", "playbook_input:url"]])
    assert not data.decision([["url_reputation_1:action_result.parameter.url", "==", "container:id"]])


def test_decision_operators_and_literals(data: PhantomData):
    assert data.decision([["high", "==", "high"]]) and not data.decision([["low", "==", "high"]])
    assert data.decision([["ask:action_result.summary.responses.0", "==", "yes"]], case_sensitive=False)
    assert not data.decision([["ask:action_result.summary.responses.0", "==", "yes"]])
    assert data.decision([["url_reputation_1:action_result.summary.malicious", ">=", "14"]])
    assert not data.decision([["url_reputation_1:action_result.summary.malicious", ">", 14],
                              ["url_reputation_1:action_result.status", "==", "success"]], "and")
    assert data.decision([["url_reputation_1:action_result.summary.malicious", ">", 14],
                          ["url_reputation_1:action_result.status", "==", "success"]], "or")
    assert compare("b", "in", ["a", "b"]) and compare("evil", "in", "evil.example") and compare(3, "not in", [1, 2])
    assert compare(None, "==", "") and not compare(None, "!=", "") and not compare(None, ">", 25)
    assert compare("10", "<", 9.5) is False and compare("abc", "<", "abd")
    with pytest.raises(PhantomError, match="unknown condition operator"):
        compare(1, "~=", 1)


def test_format_and_get_format_data(data: PhantomData):
    text = data.format("URL {0} flagged by {1} engines", ["url_reputation_1:action_result.parameter.url",
                                                          "url_reputation_1:action_result.summary.malicious"],
                       name="fmt")
    assert text == "URL http://a.example/x, http://b.example/y, http://c.example/z flagged by 14, 0, None engines"
    table = data.format("| URL | Score |\n%%\n| {0} | {1} |\n%%\n",
                        ["url_reputation_1:action_result.parameter.url", "calc:custom_function:scores"],
                        name="table")
    assert table == "| URL | Score |\n| http://a.example/x | Safe |\n| http://b.example/y | Malicious |\n" \
                    "| http://c.example/z | None |\n"
    assert data.format_data("table__as_list") == ["| http://a.example/x | Safe |", "| http://b.example/y | Malicious |",
                                                   "| http://c.example/z | None |"]
    assert data.format_data("fmt") == text and data.format_data("never") is None
    assert data.format("{0}{1}", ["fmt:formatted_data", "never:formatted_data"], name="m", drop_none=True) == text
    assert data.format("{0}{1}", ["fmt:formatted_data", "never:formatted_data"], name="m2") == text + "None"
    assert data.format("{{literal}} {0}", ["container:label"], name="x", separator=" | ") == "{literal} phishing"
    with pytest.raises(PhantomError, match="uses {1}"):
        data.format("{0} {1}", ["container:label"], name="bad")
