"""`phantom.rules`: Splunk SOAR's playbook automation API, for playbook files that run unmodified.

Every function records an intent into the run executing the calling code (found through a context
variable, `workflows.phantom.context.CURRENT`): `act` schedules connector activities and returns at once,
`prompt`/`prompt2` open the product's analyst prompts, `playbook` starts a child workflow, and the container
changes (`comment`, `set_severity`, ...) are sent to the container once per workflow step. Callbacks run
when their results arrive. The signatures are Splunk SOAR's; a function or argument this platform does
not support raises `NotImplementedError` naming it and the playbook line (never a silent no-op).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from workflows.phantom.acts import ActRequest as _ActRequest
from workflows.phantom.children import ChildRequest as _ChildRequest
from workflows.phantom.context import current as _current
from workflows.phantom.context import unsupported as _unsupported
from workflows.phantom.prompts import PromptRequest as _PromptRequest

Callback = Callable[..., Any] | None


# ---- actions, prompts, child playbooks ------------------------------------------------------------------
def act(action: str | None = None, parameters: list[dict[str, Any]] | None = None,
        assets: list[str] | str | None = None, tags: list[str] | None = None, callback: Callback = None,
        reviewer: str | None = None, handle: Any = None, start_time: Any = None, name: str | None = None,
        asset_type: Any = None, app: Any = None, parent_action: Any = None, loop_state: Any = None,
        targets: Any = None) -> int:
    """Run `action` once per parameter dict on each asset, in parallel, then `callback` with the results.

    `targets` (an artifact, a callback result or the container) fills the action's primary parameter
    from its CEF (url <- requestURL, hash <- fileHash*, ip <- source/destinationAddress, hostname <-
    source/destinationHostName, username <- source/destinationUserName, domain <- *DnsDomain). A
    high-impact action that does not descend from an analyst's answer waits for an Approve/Deny prompt.

    Returns:
        The action run id.
    """
    if asset_type is not None:
        raise _unsupported("phantom.act(asset_type=...)", "Name the assets (assets=[...]).")
    if loop_state is not None:
        raise _unsupported("phantom.act(loop_state=...)")
    if tags:
        raise _unsupported("phantom.act(tags=...)", "Assets carry no tags here; name the assets.")
    return _current("act").schedule_act(_ActRequest(
        action=action or "", parameters=parameters, assets=[assets] if isinstance(assets, str) else assets,
        callback=callback, reviewer=reviewer, handle=handle, start_time=start_time, name=name, app=app,
        parent_action=parent_action, targets=targets))


def prompt(user: str | None = None, message: str = "", respond_in_mins: int = 30, callback: Callback = None,
           name: str | None = None, options: Any = None, parameters: list[str] | None = None, container: Any = None,
           scope: Any = None, filter_artifact_ids: Any = None, trace: bool = False, separator: str | None = None,
           drop_none: bool = False) -> None:
    """Ask `user` (a role: who may answer) one question; `callback` gets the answer (`results.get("response")`
    and `<name>:action_result.summary.response`), or `success=False` when nobody answers in time."""
    if isinstance(options, dict):
        kind = options
    else:
        kind = {"type": "list", "choices": list(options)} if options else {"type": "message"}
    types = [{"prompt": "", "options": kind}]
    _current("prompt").ask(_PromptRequest(
        role=user or "", message=message or "", respond_in_mins=respond_in_mins, callback=callback, name=name,
        questions=types, parameters=parameters, scope=scope, separator=separator, drop_none=drop_none,
        version=1))


def prompt2(user: str | None = None, respond_in_mins: int = 30, callback: Callback = None,
            response_types: list[dict[str, Any]] | None = None, message: str = "", parameters: list[str] | None = None,
            name: str | None = None, container: Any = None, scope: Any = None, filter_artifact_ids: Any = None,
            separator: str | None = None, drop_none: bool = False, trace: bool = False,
            role: str | None = None) -> None:
    """Ask `role` (or `user`) the questions of `response_types` (list, message or range); the answers are
    `<name>:action_result.summary.responses.<i>`, or the callback gets `success=False` on timeout."""
    _current("prompt2").ask(_PromptRequest(
        role=role or user or "", message=message or "", respond_in_mins=respond_in_mins, callback=callback,
        name=name, questions=list(response_types or [{"prompt": "", "options": {"type": "message"}}]),
        parameters=parameters, scope=scope, separator=separator, drop_none=drop_none, version=2))


def playbook(playbook: str | None = None, container: Any = None, handle: Any = None, show_debug: bool = True,
             callback: Callback = None, name: str | None = None, inherit_scope: bool = True,
             inputs: dict[str, Any] | None = None, loop_state: Any = None) -> str:
    """Run another playbook (native or Phantom, `"local/<name>"` or `"<name>"`) as a child of this run.

    Returns:
        The child's playbook run id (its workflow id).
    """
    if loop_state is not None:
        raise _unsupported("phantom.playbook(loop_state=...)")
    return _current("playbook").start_child(_ChildRequest(playbook=playbook or "", callback=callback, name=name,
                                                     handle=handle, inputs=inputs))


def completed(action_names: list[str] | None = None, playbook_names: list[str] | None = None,
              custom_function_names: list[str] | None = None, trace: bool = False) -> bool:
    """Whether every named action, prompt and child playbook has finished (a block never started has not)."""
    if custom_function_names:
        raise _unsupported("phantom.completed(custom_function_names=...)")
    return _current("completed").completed([*(action_names or []), *(playbook_names or [])])


def save_playbook_output_data(output: dict[str, Any] | None = None) -> None:
    """Publish this run's outputs (read by a parent as `<name>:playbook_output:<key>`)."""
    _current("save_playbook_output_data").outputs.update(output or {})


def discontinue() -> None:
    """Stop this run: outstanding actions and prompts are cancelled and no further callback runs."""
    _current("discontinue").discontinue()


# ---- data access --------------------------------------------------------------------------------------
def collect2(container: Any = None, action_results: Any = None, action_name: str | None = None,
             datapath: list[str] | None = None, filter_artifacts: Any = None, tags: list[str] | None = None,
             scope: Any = None, limit: int | None = None, trace: bool = False) -> list[list[Any]]:
    """Rows of values, one column per datapath (see the README for the grammar)."""
    if action_name is not None:
        raise _unsupported("phantom.collect2(action_name=...)", "Name the block in the datapath.")
    return _current("collect2").data.collect2(list(datapath or []), action_results=action_results,
                                             filter_artifacts=filter_artifacts, tags=tags, scope=scope, limit=limit)


def collect(container: Any = None, datapath: str = "", scope: Any = "new", limit: int | None = None,
            trace: bool = False) -> list[Any]:
    """The values of one datapath, as a flat list."""
    return [row[0] for row in _current("collect").data.collect2([datapath], scope=scope, limit=limit)]


def condition(container: Any = None, action_results: Any = None, conditions: list[list[Any]] | None = None,
              logical_operator: str = "or", scope: Any = None, filtered_artifacts: Any = None,
              filtered_results: Any = None, limit: int | None = None, trace: bool = False, name: str | None = None,
              auto: bool = True, case_sensitive: bool = True, delimiter: str | None = ",",
              handle: Any = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The artifacts and results matching `conditions`; saved under `name` for `filtered-data:<name>:...`."""
    return _current("condition").data.condition(conditions or [], logical_operator, action_results=action_results,
                                               scope=scope, limit=limit, name=name, case_sensitive=case_sensitive,
                                               delimiter=delimiter, filtered_artifacts=filtered_artifacts,
                                               filtered_results=filtered_results)


def decision(container: Any = None, action_results: Any = None, conditions: list[list[Any]] | None = None,
             logical_operator: str = "or", scope: Any = None, filtered_artifacts: Any = None,
             filtered_results: Any = None, limit: int | None = None, trace: bool = False, name: str | None = None,
             auto: bool = True, case_sensitive: bool = True, delimiter: str | None = ",") -> bool:
    """Whether anything matches `conditions`."""
    return _current("decision").data.decision(conditions or [], logical_operator, action_results=action_results,
                                             scope=scope, case_sensitive=case_sensitive, delimiter=delimiter,
                                             filtered_artifacts=filtered_artifacts, filtered_results=filtered_results)


def format(container: Any = None, template: str | None = None, parameters: list[str] | None = None,  # noqa: A001
           scope: Any = None, filter_artifact_ids: Any = None, name: str | None = None, trace: bool = False,
           separator: str | None = None, drop_none: bool = False) -> str:
    """Fill `template`'s `{0}`, `{1}`... with the datapaths' values (`%%...%%` repeats per row); saved
    under `name` for `get_format_data` and `<name>:formatted_data`."""
    return _current("format").data.format(template or "", list(parameters or []), name=name, scope=scope,
                                         separator=separator, drop_none=drop_none,
                                         filter_artifact_ids=filter_artifact_ids)


def get_format_data(name: str | None = None) -> Any:
    """A format block's text (`<name>__as_list`: its rows); None when that block has not run."""
    return _current("get_format_data").data.format_data(name or "")


def concatenate(*args: Any, **kwargs: Any) -> list[Any]:
    """The arguments' values in one list (lists flattened one level, None dropped; `dedup=True` dedups)."""
    out: list[Any] = []
    for a in args:
        for v in a if isinstance(a, list | tuple) else [a]:
            if v is not None and not (kwargs.get("dedup") and v in out):
                out.append(v)
    return out


def save_run_data(value: Any = None, key: str | None = None, auto: bool = True, trace: bool = False) -> None:
    """Keep a value for this run (`get_run_data`)."""
    _current("save_run_data").run_data[key or ""] = value


def get_run_data(key: str | None = None) -> Any:
    """A value saved in this run; `""` for a key never saved (what generated join code expects)."""
    eng = _current("get_run_data")
    if key is None:
        import json

        return json.dumps(eng.run_data, default=str)
    return eng.run_data.get(key, "")


# ---- the container ------------------------------------------------------------------------------------
def get_container(container_id: Any = None) -> dict[str, Any]:
    """This run's container (with this run's changes so far)."""
    return _current("get_container").box.container_dict(container_id)


def get_artifacts(container: Any = None, artifact_label: str | None = None, scope: Any = None,
                  filter_artifact_ids: Any = None, limit: int | None = None, container_id: Any = None,
                  full_data: bool = False, trace: bool = False) -> Any:
    """The container's artifacts: a list, or `(success, message, artifacts)` with `full_data=True`."""
    eng = _current("get_artifacts")
    arts = eng.box.artifacts(container_id if container_id is not None else container, artifact_label,
                             filter_artifact_ids, limit)
    return (True, f"{len(arts)} artifacts", arts) if full_data else arts


def add_artifact(container: Any = None, raw_data: Any = None, cef_data: dict[str, Any] | None = None,
                 label: str | None = None, name: str | None = None, severity: str | None = None,
                 identifier: str | None = None, artifact_type: str | None = None, field_mapping: Any = None,
                 trace: bool = False, run_automation: bool = False) -> tuple[bool, str, int]:
    """Add an artifact (also accepts one artifact dict `{"cef", "label", "name", ...}` as `raw_data`)."""
    if run_automation:
        raise _unsupported("phantom.add_artifact(run_automation=True)", "Triggers run when a container arrives, "
                          "not again for added artifacts.")
    return _current("add_artifact").box.add_artifact(container, raw_data, cef_data, label=label, name=name,
                                                    severity=severity, identifier=identifier,
                                                    artifact_type=artifact_type)


def comment(container: Any = None, comment: str | None = None, trace: bool = False) -> tuple[bool, str]:
    """Comment on the container."""
    return _current("comment").box.change(container, comment=str(comment or ""))


def add_note(container: Any = None, note_type: str | None = None, trace: bool = False, note_format: str = "html",
             title: str | None = None, content: str | None = None, **kwargs: Any) -> tuple[bool, str, int]:
    """Add a note (shown as a comment: `Note: <title>` and its content)."""
    if kwargs.get("task_id") or kwargs.get("artifact_id"):
        raise _unsupported("phantom.add_note(task_id=... / artifact_id=...)")
    return _current("add_note").box.add_note(container, title or "", content or "", note_format)


def set_severity(container: Any = None, severity: str | None = None, trace: bool = False) -> tuple[bool, str]:
    """Set the severity (high, medium, low; any case)."""
    return _current("set_severity").box.change(container, severity=severity)


def set_status(container: Any = None, status: str | None = None, trace: bool = False) -> tuple[bool, str]:
    """Set the status (new, open, closed; `resolved` closes)."""
    return _current("set_status").box.change(container, status=status)


def set_label(container: Any = None, label: str | None = None, trace: bool = False) -> tuple[bool, str]:
    """Set the container's label."""
    return _current("set_label").box.change(container, label=label)


def promote(container: Any = None, template: str | None = None, trace: bool = False) -> tuple[bool, str]:
    """Promote the container to a case with a workbook template."""
    return _current("promote").box.change(container, template=template or "")


def pin(container: Any = None, message: str | None = None, data: Any = None, pin_type: str = "card",
        pin_style: str = "grey", truncate: bool = True, name: str | None = None,
        trace: bool = False) -> tuple[bool, str, int]:
    """Pin a card to the container (shown as a comment: `Pinned: <message> (<data>)`)."""
    return _current("pin").box.pin(container, message or "", "" if data is None else str(data), pin_style, name)


# ---- blocks and logging -------------------------------------------------------------------------------
def playbook_block(block_name: str | None = None, cf_run_id: int = 0) -> Callable[[Any], Any]:
    """The decorator generated playbooks put on every block (the block runs unchanged)."""
    def deco(fn: Any) -> Any:
        return fn

    return deco


def debug(message: Any = None, **kwargs: Any) -> None:
    """Log to the workflow logger (shown in the worker's log, never on replay)."""
    _current("debug").log(False, message)


def error(message: Any = None, **kwargs: Any) -> None:
    """Log an error to the workflow logger."""
    _current("error").log(True, message)


class _Unsupported:
    """What any other `phantom.<name>` is: calling it (or its attributes) raises NotImplementedError."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise _unsupported(f"phantom.{self._name}()")

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        raise _unsupported(f"phantom.{self._name}.{attr}")


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    return _Unsupported(name)
