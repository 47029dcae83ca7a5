"""`PhantomPlaybook`: the one workflow type that runs every Phantom playbook.

Its input names the playbook (`PlaybookInput.playbook`) and the SHA-256 of the source the run started
with (`playbook_sha256`, filled by whoever starts it from the registry); the run executes that version
and replays with it after the file changes (`workflows.phantom.loader.version`). A version this worker
cannot find fails the run with the fix (restore the store or the file).

The run: the playbook module executes in a namespace of its own; `on_start(container)` runs; every act,
prompt and child playbook it issues runs as outstanding work and calls back into the module as its
results arrive; when nothing is outstanding, `on_finish(container, summary)` runs (`summary` is JSON
text: the run's blocks and their status), and the run returns its outcome (records, final container
changes, outputs) to the container.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

# The engine is imported from the host even where the sandbox re-imports workflow modules (the Replayer's
# default runner): `phantom.rules` must find the very context variable the engine sets.
with workflow.unsafe.imports_passed_through():
    import phantom
    import phantom.rules as rules
    from core.models import Container, PlaybookInput, PlaybookOutcome
    from workflows.phantom.acts import ActsMixin
    from workflows.phantom.children import ChildrenMixin
    from workflows.phantom.conditions import PhantomData
    from workflows.phantom.containers import ContainerBox
    from workflows.phantom.loader import DEFAULT_BASELINE_MINUTES, PhantomSource, stores, version
    from workflows.phantom.prompts import PromptsMixin
    from workflows.phantom.shims import user_builtins
    from workflows.playbook import PlaybookMeta

# Splunk "contains" types of playbook inputs -> the kind of indicator filled in from the container.
CONTAINS_KIND = {"ip": "ip", "ipv6": "ip", "url": "url", "domain": "domain", "hash": "hash", "md5": "hash",
                 "sha1": "hash", "sha256": "hash", "sha512": "hash", "file_hash": "hash", "user name": "user",
                 "username": "user", "user": "user", "host name": "host", "hostname": "host", "email": "email"}


def _as_list(raw: str) -> list[Any]:
    try:
        v = json.loads(raw)
    except ValueError:
        v = raw
    return v if isinstance(v, list) else [v]


@workflow.defn(name="PhantomPlaybook")
class PhantomPlaybook(ActsMixin, PromptsMixin, ChildrenMixin):
    """Runs one Phantom-format playbook file (named in the input) against its container."""

    @workflow.run
    async def run(self, inp: PlaybookInput) -> PlaybookOutcome:
        """Run the playbook version the input names."""
        return await self.reporting(inp, self._run(inp))

    async def _run(self, inp: PlaybookInput) -> PlaybookOutcome:
        self.src = version(inp.playbook_sha256) if inp.playbook_sha256 else None
        src = self.src
        self.meta = PlaybookMeta(name=inp.playbook or "phantom", title=src.title if src else inp.playbook,
                                 version=src.version if src else inp.playbook_sha256[:12],
                                 baseline_minutes=DEFAULT_BASELINE_MINUTES, description=src.description if src else "")
        out = await self.execute(inp)
        out.outputs = json.loads(json.dumps(self.outputs, default=str))
        return out

    async def steps(self, c: Container) -> None:
        """Execute the module, `on_start`, every callback as results arrive, then `on_finish`.

        Raises:
            ApplicationError: the version is missing, or the playbook's code failed (file and line).
        """
        src = self._source()
        self.box = ContainerBox(self, c)
        self.inputs = self._inputs(src)
        self.data = PhantomData(self.box, self.blocks, self.run_data, self.inputs)
        flusher = asyncio.create_task(self._flush_loop())
        self.ns.update({"__name__": f"phantom_playbook_{src.name}", "__file__": src.file,
                        "__builtins__": user_builtins(phantom, rules)})
        assert src.code is not None
        self.call(exec, src.code, self.ns)
        if "on_start" in self.ns:
            self.call(self.ns["on_start"], self.box.container_dict())
        await self.drain()
        finish = self.ns.get("on_finish")
        if callable(finish) and self._failure is None and not self._stopped:
            self.call(finish, self.box.container_dict(), self._summary())
            await self.drain()
        await workflow.wait_condition(lambda: not self._flushing)
        flusher.cancel()
        if self._failure is not None:
            raise ApplicationError(self._failure, type="PhantomPlaybookError", non_retryable=True)

    def _source(self) -> PhantomSource:
        if self.src is not None:
            return self.src
        sha = self.inp.playbook_sha256
        if not sha:
            raise ApplicationError(
                f"no Phantom playbook {self.inp.playbook!r} is loaded on this worker. Fix: put its file in the "
                "Phantom playbook directory (SOAR_PHANTOM_PLAYBOOKS_DIR) and restart the worker, or correct the "
                "name", type="PhantomVersionMissing", non_retryable=True)
        where = ", ".join(str(s) for s in stores()) or "(no store configured)"
        raise ApplicationError(
            f"Phantom playbook {self.inp.playbook!r} version {sha} is not on this worker. Fix: restore "
            f"{sha}.py in the Phantom playbook store ({where}), or put that version of the file back "
            "in the Phantom playbook directory and restart the worker", type="PhantomVersionMissing",
            non_retryable=True)

    def _inputs(self, src: PhantomSource) -> dict[str, list[Any]]:
        """The run's playbook inputs: given by a parent, else (an input playbook run on a container) the
        container's indicators of each declared input's types."""
        if self.inp.params:
            return {k: _as_list(v) for k, v in self.inp.params.items()}
        out: dict[str, list[Any]] = {}
        for spec in src.inputs:
            kinds = dict.fromkeys(CONTAINS_KIND[c.lower()] for c in spec.contains if c.lower() in CONTAINS_KIND)
            out[spec.name] = list(dict.fromkeys(v for k in kinds for v in self.box.model.indicators(k)))
        return out

    def _summary(self) -> str:
        """What `on_finish` gets: the run's blocks and their status, as JSON text."""
        rows = [{"name": b.name, "kind": b.kind, "status": ("success" if any(r.get("status") == "success"
                                                                             for r in b.results) else "failed"),
                 "action_run_id": (b.results[0].get("action_run_id") if b.results else None)}
                for b in self.blocks.values() if b.done]
        return json.dumps({"playbook": self.meta.name, "status": "failed" if self._failure else "success",
                           "message": self._failure or "", "result": rows})
