"""A container's playbook runs: starting them as child workflows, applying how they ended, and handing the
runs still in flight (one waiting on an analyst's prompt, for instance) to the container's next run when it
continues-as-new. The runs half of `ContainerWorkflow` (workflows/container.py).

Handing over (container version 2, workflows/versions.py): runs start with ParentClosePolicy.ABANDON, so
the container's continue-as-new does not cancel them. Before it continues, the container sends each run in
flight a `container_moved` signal; from then on the run reports its end with a `run_ended` signal to the
container's workflow id, which reaches whichever run of the container is current. A run that ended before
the signal reached it is not handed over: its result comes to the run that started it, as usual. The next
run gets the pending prompts and the handed-over workflow ids in its input, keeps them open until they
report, and an analyst's close cancels them by workflow id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from core.models import Artifact, ContainerEvent, PlaybookInput, PlaybookOutcome, PlaybookRun, Prompt, RunStatus
    from workflows.container_state import StateMixin
    from workflows.ids import playbook_search_attributes, playbook_workflow_id
    from workflows.messages import RunEnded
    from workflows.registry import PHANTOM_TYPE, PHANTOM_VERSIONS, PLAYBOOK_TYPES
    from workflows.versions import ADOPTABLE_RUNS, PLAYBOOK_VERSION


class RunsMixin(StateMixin):
    """Playbook runs of a container (state set up by `ContainerWorkflow.__init__`)."""

    _tasks: dict[str, asyncio.Task[None]]
    _respond_in_s: float | None
    _version: int
    _started: set[str]    # runs whose child workflow has started (only those can be handed over)
    _handed: set[str]     # runs told `container_moved` by this container run: they report by signal
    _returned: dict[str, RunEnded]  # a handed run's result that arrived while the hand-over was under way
    _adopted: set[str]    # runs handed to this container run by the previous one, until they report
    _upsert: Callable[[], None]
    _apply: Callable[[ContainerEvent], None]

    def _start_playbook(self, name: str, run_as: str, suffix: str | None,
                        scope: list[Artifact] | None = None) -> str:
        """Start a playbook run; `scope` limits the artifacts it sees (the new ones of a merged alert)."""
        wid = playbook_workflow_id(name, self.state.container.id or "", suffix)
        run = PlaybookRun(playbook=name, workflow_id=wid, started=workflow.now(), run_as=run_as)
        self.state.runs.append(run)
        self._tasks[wid] = asyncio.create_task(self._run_child(name, run, suffix, scope))
        return wid

    async def _run_child(self, name: str, run: PlaybookRun, suffix: str | None,
                         scope: list[Artifact] | None = None) -> None:
        c = self.state.container
        seen = c if scope is None else c.model_copy(update={"artifacts": scope})
        inp = PlaybookInput(container=seen, container_workflow_id=workflow.info().workflow_id, run_as=run.run_as,
                            routes=self.state.routes, respond_in_s=self._respond_in_s, suffix=suffix,
                            prompt_policy=self.state.prompt_policy, version=PLAYBOOK_VERSION,
                            playbook=name, playbook_sha256=PHANTOM_VERSIONS.get(name, ""))
        wid = run.workflow_id
        try:
            handle = await workflow.start_child_workflow(
                PLAYBOOK_TYPES.get(name, PHANTOM_TYPE), inp, id=wid, result_type=PlaybookOutcome,
                parent_close_policy=(ParentClosePolicy.ABANDON if self._version >= ADOPTABLE_RUNS
                                     else ParentClosePolicy.REQUEST_CANCEL),
                static_summary=f"{name} · {c.id} · {c.severity.value}",
                static_details=f"Container **{c.id}**: {c.name}\n\nRun as `{run.run_as}`",
                search_attributes=playbook_search_attributes(name, c.id or ""),
            )
            self._started.add(wid)
            out: PlaybookOutcome = await handle
        except asyncio.CancelledError:
            run.status, run.ended = RunStatus.CANCELLED, workflow.now()
            self._drop_prompts(wid)
            raise
        except ChildWorkflowError as e:
            self._ended(RunEnded(workflow_id=wid, status=RunStatus.FAILED, error=f"{e.cause or e}"))
        else:
            self._ended(RunEnded(workflow_id=wid, status=out.status, outcome=out))
        finally:
            self._tasks.pop(wid, None)
            self._started.discard(wid)
            self._upsert()

    def _ended(self, e: RunEnded, *, reported: bool = False) -> None:
        """Apply how a run ended (once: a handed-over run's own report wins over its result)."""
        if not reported and e.workflow_id in self._handed:
            self._returned[e.workflow_id] = e  # kept until the hand-over says whether the run reports
            return
        run = next((r for r in self.state.runs if r.workflow_id == e.workflow_id), None)
        if run is None or run.status != RunStatus.RUNNING:
            return
        self._adopted.discard(e.workflow_id)
        run.status = e.status
        if e.outcome is None:
            run.ended = workflow.now()
            self._add_comment("system", f"Playbook {run.playbook} failed: {e.error}")
        else:
            run.ended, run.outcome = e.outcome.ended, e.outcome
        self._drop_prompts(run.workflow_id)
        if e.outcome is not None and e.outcome.final is not None:
            self._apply(e.outcome.final.model_copy(update={"run": e.outcome.final.run or run.workflow_id}))

    @workflow.signal
    def run_ended(self, e: RunEnded) -> None:
        """A run handed over at continue-as-new reports how it ended."""
        if e.workflow_id in self._handed or e.workflow_id in self._adopted:
            self._ended(e, reported=True)
            self._upsert()

    def _drop_prompts(self, wid: str) -> None:
        for pid in [p.id for p in self._prompts.values() if p.workflow_id == wid]:
            self._prompts.pop(pid, None)
        self.state.awaiting_prompt = bool(self._prompts)

    # ---- continue-as-new ----------------------------------------------------------------------------
    def _can_hand_over(self) -> bool:
        """Every run in flight has started and was started to survive this run (version 2)."""
        return self._version >= ADOPTABLE_RUNS and all(w in self._started for w in self._tasks)

    async def _hand_over(self) -> None:
        """Tell every run in flight not told yet to report its end by signal from now on."""
        wids = [w for w in self._tasks if w not in self._handed]
        self._handed.update(wids)
        sent = await asyncio.gather(*(workflow.get_external_workflow_handle(w).signal("container_moved")
                                      for w in wids), return_exceptions=True)
        for w, r in zip(wids, sent, strict=True):
            returned = self._returned.pop(w, None)
            if isinstance(r, BaseException):  # it ended first: its result is this run's to apply
                self._handed.discard(w)
                self._started.discard(w)  # not handed over again: its task is about to end
                if returned is not None:
                    self._ended(returned)
        self._upsert()

    def _carried(self) -> tuple[list[Prompt], list[str]]:
        """What the next run needs: the pending prompts and the runs still in flight."""
        running = {r.workflow_id for r in self.state.runs if r.status == RunStatus.RUNNING}
        return list(self._prompts.values()), sorted((self._handed | self._adopted) & running)

    async def _cancel_runs(self) -> None:
        """An analyst closed the container: cancel what still runs or waits, here and handed over."""
        for t in self._tasks.values():
            t.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        adopted = sorted(self._adopted)
        await asyncio.gather(*(workflow.get_external_workflow_handle(w).cancel() for w in adopted),
                             return_exceptions=True)
        for run in self.state.runs:
            if run.workflow_id in adopted and run.status == RunStatus.RUNNING:
                run.status, run.ended = RunStatus.CANCELLED, workflow.now()
                self._drop_prompts(run.workflow_id)
        self._adopted.clear()
