"""The `results` a Phantom callback receives, in both shapes playbooks read.

Splunk SOAR's shape (what real playbooks and `collect2` read), one dict per app run (asset):

    {"action", "action_name", "action_run_id", "app_run_id", "app", "app_id", "asset", "asset_id", "name",
     "status", "message", "summary": {"total_objects", "total_objects_successful", ...},
     "action_results": [{"status", "message", "parameter", "summary", "data": [...], "context", "extra_data"}],
     "result_data": <the same list as action_results>}

with one `action_results` item per parameter dict, `parameter` echoing the parameters as the playbook gave
them (its `context` key included; the connector never sees it). The brief's code reads two more places,
added without removing any real key: the app run's `summary` also holds the first action result's summary
keys (`results[0]["summary"]["malicious"]`), and the app run's `data` is a copy of that action result's
data rows whose first row carries its `summary` (`result["data"][0]["summary"]["malicious"]`).

A prompt's callback gets a list of one app run whose action result's summary holds `response` (prompt) and
`responses` (prompt2) and whose data row holds the responder as `user`; the list also answers
`results.get("response", default)` (the brief's form), which gives the default when nobody answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.models import ActionResult


@dataclass
class RunOutcome:
    """One activity of an act: which asset ran it, with which parameters, and what it returned."""

    asset: str
    app: str
    connector: str
    parameter: dict[str, Any]
    result: ActionResult


def action_result_item(parameter: dict[str, Any], r: ActionResult) -> dict[str, Any]:
    """One `action_results` item."""
    return {"status": r.status, "message": r.message, "parameter": dict(parameter), "summary": dict(r.summary),
            "data": [dict(row) for row in r.data], "context": {}, "extra_data": []}


def _brief_data(item: dict[str, Any]) -> list[dict[str, Any]]:
    rows = [dict(row) for row in item["data"]] or [{}]
    rows[0].setdefault("summary", dict(item["summary"]))
    return rows


def app_run(*, action: str, block: str, action_run_id: int, app_run_id: int, asset: str, app: str, connector: str,
            items: list[dict[str, Any]]) -> dict[str, Any]:
    """One app run (asset) of an act, from its action result items."""
    ok = sum(i["status"] == "success" for i in items)
    summary: dict[str, Any] = {"total_objects": len(items), "total_objects_successful": ok}
    for i in items:
        for k, v in i["summary"].items():
            summary.setdefault(k, v)
    if len(items) == 1:
        message = items[0]["message"]
    else:
        message = f"{ok} of {len(items)} action results succeeded" if items else "nothing to run"
    first = items[0] if items else {"data": [], "summary": {}}
    return {"action": action, "action_name": action, "action_run_id": action_run_id, "app_run_id": app_run_id,
            "app": app, "app_id": connector, "asset": asset, "asset_id": asset, "name": block,
            "status": "success" if ok else "failed", "message": message, "summary": summary,
            "action_results": items, "result_data": items, "data": _brief_data(first)}


def act_results(action: str, block: str, action_run_id: int, first_app_run_id: int,
                runs: list[RunOutcome]) -> list[dict[str, Any]]:
    """The callback results of an act: its runs grouped by asset, in the order the assets were named."""
    by_asset: dict[str, list[RunOutcome]] = {}
    for r in runs:
        by_asset.setdefault(r.asset, []).append(r)
    out = []
    for n, (asset, group) in enumerate(by_asset.items()):
        out.append(app_run(action=action, block=block, action_run_id=action_run_id,
                           app_run_id=first_app_run_id + n, asset=asset, app=group[0].app,
                           connector=group[0].connector,
                           items=[action_result_item(g.parameter, g.result) for g in group]))
    return out


def action_info(action: str, block: str, action_run_id: int) -> dict[str, Any]:
    """The `action` argument of a callback."""
    return {"action_run_id": action_run_id, "action_name": action, "action": action, "name": block}


class PromptResults(list[dict[str, Any]]):
    """A prompt's callback results: Splunk's list, which also answers `.get("response", default)`."""

    def __init__(self, rows: list[dict[str, Any]], answers: dict[str, Any]) -> None:
        super().__init__(rows)
        self.answers = answers

    def get(self, key: str, default: Any = None) -> Any:
        """`response` (the first answer), `responses`, `responder`, `status`; `default` when unanswered."""
        v = self.answers.get(key)
        return default if v is None else v


def prompt_results(*, block: str, role: str, message: str, responses: list[str | None], responder: str | None,
                   answered: bool, action_run_id: int, waited_s: float) -> PromptResults:
    """The callback results of a prompt (answered, or timed out: `status` failed, no response)."""
    summary: dict[str, Any] = {"response": responses[0], "responses": responses} if answered else {}
    status = "success" if answered else "failed"
    msg = (f"Response received from {responder}" if answered else
           f"Prompt timed out: no response from {role} in time")
    item = {"status": status, "message": msg, "parameter": {"message": message, "user": role, "context": {}},
            "summary": summary, "context": {}, "extra_data": [],
            "data": [{"user": responder, "response": responses[0] if answered else None,
                      "responses": responses if answered else [], "response_time_s": round(waited_s, 1)}]}
    row = app_run(action="prompt", block=block, action_run_id=action_run_id, app_run_id=action_run_id,
                  asset="", app="SOAR", connector="soar", items=[item])
    answers = {"response": responses[0] if answered else None, "responses": responses if answered else None,
               "responder": responder, "status": status}
    return PromptResults([row], answers)
