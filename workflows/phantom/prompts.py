"""`phantom.prompt` / `prompt2` as the product's analyst prompts.

Every question becomes a prompt of the run's `PromptDesk`, so the API lists it (`GET /api/v1/prompts`)
and answers it (role checks, signed approvals, the same status codes) like any other, and the wait is a
durable timer: the deadline is `respond_in_mins` from when the prompt opened. `user` (prompt) and `role`
(prompt2, else `user`) name the role allowed to answer; admins may answer any prompt.

Question types: `list` (its choices are the options), `message` (free text: the analyst chooses `Submit`
and the answer is the response's comment) and `range` (`min`..`max`, at most 100 values, as options).
prompt2's questions are asked one after another, all within the one deadline. The message is formatted
with `parameters` like `phantom.format`, and lists what the prompt acts on (the container's hosts, users,
IPs and URLs, with where each came from); every option authorises the configured high-impact actions on
those values (see `workflows.phantom.safety`).

When every question is answered, the callback runs with `success=True` in the answer's approval chain;
when the deadline passes first, it runs as Splunk SOAR's does: `success=False` and no response.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow

from workflows.phantom.base import EngineBase
from workflows.phantom.context import PhantomError, unsupported
from workflows.phantom.datapaths import Block
from workflows.phantom.results import action_info, prompt_results
from workflows.phantom.safety import Chain, authorizations, prompt_targets, shown

with workflow.unsafe.imports_passed_through():
    from core.approvals import AuthorizedAction
    from core.models import ActionRecord, Prompt, PromptPolicy, Target
    from workflows import board
    from workflows.prompts import fmt_wait
    from workflows.versions import publishes_to_board

SUBMIT = "Submit"
NO_ANSWER = "no answer: the playbook's callback runs with success=False"
MAX_RANGE = 100


@dataclass
class PromptRequest:
    """What `phantom.prompt` / `prompt2` was asked (normalised by `phantom.rules`)."""

    role: str
    message: str
    respond_in_mins: Any
    callback: Callable[..., Any] | None
    name: str | None
    questions: list[dict[str, Any]]
    parameters: list[str] | None = None
    scope: Any = None
    separator: str | None = None
    drop_none: bool = False
    version: int = 2


@dataclass(frozen=True)
class Question:
    """One question: its text, the options offered, and whether the answer is free text."""

    text: str
    options: list[str]
    free_text: bool = False


def questions_of(raw: list[Any]) -> list[Question]:
    """Splunk's `response_types` as questions.

    Raises:
        PhantomError: a malformed question; NotImplementedError: an unknown type or a range over 100 values.
    """
    out = []
    for q in raw:
        if not isinstance(q, dict):
            raise PhantomError(f"prompt: each response type is a dict with prompt and options, got {q!r}")
        opts = q.get("options") or {"type": "message"}
        kind = str(opts.get("type", "list")) if isinstance(opts, dict) else "list"
        text = str(q.get("prompt") or "")
        if kind == "list":
            choices = [str(c) for c in (opts.get("choices") if isinstance(opts, dict) else opts) or []]
            if not choices:
                raise PhantomError(f"prompt: question {text!r} offers no choices")
            out.append(Question(text, choices))
        elif kind == "message":
            out.append(Question(text, [SUBMIT], free_text=True))
        elif kind == "range":
            lo, hi = int(opts.get("min", 0)), int(opts.get("max", 0))
            if not 0 < hi - lo + 1 <= MAX_RANGE:
                raise unsupported(f"a prompt range of {hi - lo + 1} values", f"At most {MAX_RANGE} are offered.")
            out.append(Question(text, [str(v) for v in range(lo, hi + 1)]))
        else:
            raise unsupported(f"the prompt response type {kind!r}")
    return out


class PromptsMixin(EngineBase):
    """Prompts of a Phantom playbook run."""

    def ask(self, req: PromptRequest) -> None:
        """Open the prompt (as outstanding work); the callback runs when it is answered or expires.

        Raises:
            PhantomError: no role, a bad deadline or malformed questions.
        """
        if not req.role:
            raise PhantomError("prompt: give user= or role= (the role allowed to answer)")
        try:
            minutes = float(req.respond_in_mins if req.respond_in_mins is not None else 30)
        except (TypeError, ValueError):
            raise PhantomError(f"prompt: respond_in_mins must be a number, got {req.respond_in_mins!r}") from None
        if minutes <= 0:
            raise PhantomError("prompt: respond_in_mins must be more than 0")
        questions = questions_of(req.questions)
        run_id = self.next_id()
        name = req.name or f"prompt_{run_id}"
        message = req.message
        if req.parameters:
            message = self.data.format(message, list(req.parameters), name=None, scope=req.scope,
                                       separator=req.separator, drop_none=req.drop_none, keep=False)
        block = self.blocks[name] = Block(name, "prompt")
        self.spawn(self._prompt(req, block, run_id, questions, message, timedelta(minutes=minutes), self._chain))

    async def _prompt(self, req: PromptRequest, block: Block, run_id: int, questions: list[Question], message: str,
                      respond_in: timedelta, chain: Chain | None) -> None:
        if self.inp.respond_in_s is not None:
            respond_in = timedelta(seconds=self.inp.respond_in_s)
        started = workflow.now()
        deadline = started + respond_in
        targets = prompt_targets(self.box.model)
        grant = authorizations(self.inp.routes, targets)
        text = shown(message, targets)
        answers: list[str | None] = []
        responder = None
        last: Chain | None = None
        for n, q in enumerate(questions, 1):
            left = deadline - workflow.now()
            if left <= timedelta(0):
                break
            head = f"Question {n} of {len(questions)}: {q.text}" if len(questions) > 1 else q.text
            p = await self._question(req.role, f"{text}\n\n{head}" if head else text, q, left, grant, targets)
            if p.response is None:
                break
            r = p.response
            answers.append(r.comment if q.free_text else r.option)
            responder = r.responder
            last = Chain(p.id, r.approval, tuple(grant)) if r.approval is not None else None
        answered = len(answers) == len(questions)
        if not answered:
            self.comment(f"No response from {req.role} within {fmt_wait(respond_in.total_seconds())} to prompt "
                         f"{block.name}; its callback runs with success=False.")
            self.staged()
        results = prompt_results(block=block.name, role=req.role, message=message, responses=answers,
                                 responder=responder, answered=answered, action_run_id=run_id,
                                 waited_s=(workflow.now() - started).total_seconds())
        block.results, block.done = copy.deepcopy(list(results)), True
        self.callback(req.callback, last if answered else None, action=action_info("prompt", block.name, run_id),
                      success=answered, container=self.box.container_dict(), results=results, handle={},
                      filtered_artifacts=[], filtered_results=[], custom_function=None)

    async def _question(self, role: str, message: str, q: Question, respond_in: timedelta,
                        grant: list[AuthorizedAction], targets: list[Target]) -> Prompt:
        """One question as one prompt of the desk; returns it answered, or expired (no response)."""
        authorizes = {o: list(grant) for o in q.options}
        # The deployment's reminders and escalation, and the assets' quorum, as native prompts have them
        # (prompts opened before this change keep the policy they were opened with).
        policy = self._policy(authorizes) if workflow.patched("phantom-prompt-policy") else PromptPolicy()
        idx, p = self._new_prompt(role=role, message=message[:20_000], options=q.options, on_timeout=NO_ANSWER,
                                  respond_in=respond_in, authorizes=authorizes, targets=targets, policy=policy)
        pid, now = p.id, p.created
        timed_out, waited = await self._ask(p, respond_in, {o: "the playbook continues with this answer"
                                                            for o in q.options})
        self._stage(awaiting_prompt=False, prompts_closed=[pid])
        await board.publish([], [pid] if publishes_to_board(self.inp.version) else [])
        self.staged()
        r = p.response
        answer = (r.comment if q.free_text else r.option) if r is not None else None
        self._records.append(ActionRecord(
            index=idx, action="prompt", connector="soar", title=f"Prompt Analyst ({role})", asset="",
            target=message[:80], started=now, duration_s=waited, status="success" if r is not None else "skipped",
            message=f'Response: "{answer}" by {r.responder}' if r is not None else f"No response in {fmt_wait(waited)}",
            kind="prompt",
            summary={"option": answer, "responder": r.responder if r else None, "timed_out": r is None,
                     "prompt_id": pid}))
        return p
