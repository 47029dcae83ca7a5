"""`phantom.playbook`: a child playbook, native or Phantom, as a child workflow of this run.

`"local/<name>"`, `"<repo>/<name>"` and `"<name>"` name a registered playbook (a Phantom file's name is its
normalised file stem). The child gets the container as this run has it, and `inputs` as its playbook
inputs (`playbook_input:<name>`; a native child gets them as its params). This run is not done until its
children are (with or without a callback); the child's actions and prompts join this run's report, its
container changes join this run's, and its `save_playbook_output_data` is readable as
`<name>:playbook_output:<key>`. The callback gets `results` = `[{"playbook_run_id", "playbook_name",
"name", "status", "message", "outputs"}]`. A child does not inherit this run's analyst approvals.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError

from workflows.phantom.base import EngineBase
from workflows.phantom.context import PhantomError
from workflows.phantom.datapaths import Block
from workflows.phantom.loader import playbook_name
from workflows.phantom.results import action_info
from workflows.phantom.safety import Chain

with workflow.unsafe.imports_passed_through():
    from core.models import PlaybookInput, PlaybookOutcome
    from workflows.ids import playbook_search_attributes, playbook_workflow_id


@dataclass
class ChildRequest:
    """What `phantom.playbook` was asked."""

    playbook: str
    callback: Callable[..., Any] | None = None
    name: str | None = None
    handle: Any = None
    inputs: dict[str, Any] | None = None


class ChildrenMixin(EngineBase):
    """Child playbooks of a Phantom playbook run."""

    def start_child(self, req: ChildRequest) -> str:
        """Start the child (as outstanding work).

        Returns:
            The child's workflow id (its playbook run id).

        Raises:
            PhantomError: no such playbook, or inputs that are not a dict.
        """
        from workflows.registry import PHANTOM_VERSIONS, PLAYBOOKS

        wanted = req.playbook.rsplit("/", 1)[-1]
        name = wanted if wanted in PLAYBOOKS else playbook_name(wanted)
        info = PLAYBOOKS.get(name)
        if info is None:
            raise PhantomError(f"phantom.playbook: no playbook {req.playbook!r}; registered: "
                               f"{', '.join(sorted(PLAYBOOKS)) or 'none'}")
        if req.inputs is not None and not isinstance(req.inputs, dict):
            raise PhantomError("phantom.playbook: inputs must be a dict of input name -> values")
        n = self.next_id()
        parent = re.sub(r"[^a-z0-9-]", "-", f"{self.inp.suffix or ''}-from-{self.meta.name}".strip("-"))
        suffix = f"{parent[:55]}-{n}"
        wid = playbook_workflow_id(name, self.container_id, suffix)
        inputs = req.inputs or {}
        params = ({k: json.dumps(v, default=str) for k, v in inputs.items()} if info.kind == "phantom" else
                  {k: ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v) for k, v in inputs.items()})
        inp = self.inp.model_copy(update={
            "container": self.box.model.model_copy(deep=True), "suffix": suffix, "params": params, "playbook": name,
            "playbook_sha256": PHANTOM_VERSIONS.get(name, "")})
        block = self.blocks[req.name or name] = Block(req.name or name, "playbook")
        self.spawn(self._child(req, block, info.workflow_type, inp, wid, n, self._chain))
        return wid

    async def _child(self, req: ChildRequest, block: Block, workflow_type: str, inp: PlaybookInput, wid: str, n: int,
                     chain: Chain | None) -> None:
        await self.flush()
        name = inp.playbook
        status, message, outputs = "failed", "", {}
        try:
            out: PlaybookOutcome = await workflow.execute_child_workflow(
                workflow_type, inp, id=wid, result_type=PlaybookOutcome,
                static_summary=f"{name} · {self.container_id} (from {self.meta.title})",
                search_attributes=playbook_search_attributes(name, self.container_id))
        except ChildWorkflowError as e:
            message = f"playbook {name} failed: {e.cause or e}"
            self.comment(message)
            self.staged()
        else:
            for rec in out.actions:
                self._index += 1
                self._records.append(rec.model_copy(update={"index": self._index}))
            if out.final is not None:
                self.merge_child(out.final)
            status, message, outputs = out.status.value, out.error or "", dict(out.outputs)
        block.outputs = outputs
        block.results = [{"playbook_run_id": wid, "playbook_id": name, "playbook_name": name, "name": block.name,
                          "status": status, "message": message, "outputs": outputs}]
        block.done = True
        self.callback(req.callback, chain, action=action_info("playbook", block.name, n), success=status == "success",
                      container=self.box.container_dict(), results=copy.deepcopy(block.results), handle=req.handle,
                      filtered_artifacts=[], filtered_results=[], custom_function=None)
