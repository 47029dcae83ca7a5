"""Analyst prompts inside a playbook run: open, wait durably, take signed answers, close.

Shared by native playbooks and the Phantom engine (each workflow class keeps one `PromptDesk` and routes
its `respond` update here). A prompt is listed through the run's memo and `SoarAwaitingPrompt`, shown in
the Web UI's current details, and answered only by an update whose signed approval (made by the API for
the analyst it authenticated) verifies against this worker's trusted keys and matches this prompt, this
run, this container, the option chosen and what that option authorises. Roles come from the signed
claims, never from the update's payload. Nothing is written to history for a refused answer.

Beyond first-come answers (`PromptPolicy`):
- **quorum**: an option that authorises actions needs N distinct approvers; each approval is recorded and
  the prompt stays open until the quorum or an answer that authorises nothing (a denial); one person never
  counts twice;
- **reminders** at fractions of the wait and **escalation**: when the deadline passes, the prompt is put to a
  second role for a while before the safe default; both are durable timers;
- **delegation** (a responder hands the prompt to a named colleague who holds the role) and **withdrawal**
  (an approver takes back an approval a quorum has not used yet), each a signed claim like an answer.

Reminders, escalations, partial approvals and delegations during the wait are sent to the container at
once (`flush`); the decision's own events travel with the playbook's next changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.approvals import ApprovalClaims, trusted
    from core.errors import ApprovalInvalid, ApprovalRequired
    from core.models import (
        AuditEvent,
        AuditKind,
        Prompt,
        PromptAck,
        PromptEvent,
        PromptResponse,
        PromptState,
    )
    from core.temporal import SA_AWAITING_PROMPT

# An approval may be signed a little before the prompt's own clock says it opened (clocks differ).
ISSUED_SLACK = timedelta(seconds=30)

Stage = Callable[[list[PromptEvent], list[AuditEvent]], None]
Flush = Callable[[], Awaitable[None]]


def fmt_wait(seconds: float) -> str:
    """`4m 12s` / `45s`."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m {s}s" if m else f"{s}s"


def _refuse(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind)


def _nothing(events: list[PromptEvent], audit: list[AuditEvent]) -> None:
    return None


async def _no_flush() -> None:
    return None


class PromptDesk:
    """The prompts of one run.

    Args:
        stage: queues prompt events and audit events with the run's next container changes.
        flush: sends the queued changes now (used while a prompt waits: reminders, escalation, quorum).
    """

    def __init__(self, stage: Stage = _nothing, flush: Flush = _no_flush) -> None:
        self.prompts: dict[str, Prompt] = {}
        self.next_steps: dict[str, dict[str, str]] = {}
        self._stage, self._flush = stage, flush
        self._outbox = False

    def pending(self) -> list[Prompt]:
        """The prompts still waiting for an answer."""
        return [p for p in self.prompts.values() if p.state == PromptState.PENDING]

    def open(self, p: Prompt, next_steps: dict[str, str] | None = None) -> None:
        """Register a prompt and make it visible (search attribute, memo, Web UI details)."""
        self.prompts[p.id] = p
        self.next_steps[p.id] = next_steps or {}
        workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(True)])
        self._publish()
        self._details(p)
        self._stage([self._event(p, "opened")], [])

    def _details(self, p: Prompt) -> None:
        quorum = f" ({p.policy.quorum} approvers needed)" if p.policy.quorum > 1 else ""
        workflow.set_current_details(
            f"Waiting for **{' or '.join(sorted(p.roles_allowed() - {'admin'}))}**{quorum} until "
            f"{p.deadline:%Y-%m-%d %H:%M:%S} UTC\n\n{p.message}\n\n"
            f"Options: {', '.join(p.options)} (default on timeout: {p.on_timeout})\n\nPrompt id: `{p.id}`"
        )

    @staticmethod
    def _event(p: Prompt, kind: str, detail: str = "", to_user: str | None = None) -> PromptEvent:
        changed = kind in ("reminder", "escalated", "approval", "delegated")
        return PromptEvent(prompt_id=p.id, kind=kind, at=workflow.now(), role=p.policy.escalate_to
                           if p.escalated and p.policy.escalate_to else p.role, deadline=p.deadline, detail=detail,
                           to_user=to_user, prompt=p.model_copy(deep=True) if changed else None)

    async def wait(self, p: Prompt, respond_in: timedelta) -> bool:
        """Wait until `p` is decided or its time (`respond_in` from now, plus an escalation) runs out; True when
        nobody decided in time."""
        start = workflow.now()
        deadline = start + respond_in
        marks = [start + respond_in * f for f in sorted(p.policy.reminders) if 0 < f < 1]
        while True:
            nxt = marks[p.reminders_sent] if p.reminders_sent < len(marks) else deadline
            timeout = max(nxt - workflow.now(), timedelta(0))
            try:
                await workflow.wait_condition(
                    lambda: p.state != PromptState.PENDING or self._outbox, timeout=timeout,
                    timeout_summary=f"prompt deadline: {p.role} ({fmt_wait(timeout.total_seconds())})"
                    if nxt == deadline else f"prompt reminder {p.reminders_sent + 1}: {p.role}")
            except TimeoutError:
                pass
            if self._outbox:
                self._outbox = False
                await self._flush()
            if p.state != PromptState.PENDING:
                return False
            now = workflow.now()
            if p.reminders_sent < len(marks) and now >= marks[p.reminders_sent]:
                p.reminders_sent += 1
                left = fmt_wait((deadline - now).total_seconds())
                self._stage([self._event(p, "reminder", f"reminder {p.reminders_sent}: {left} left")], [])
                await self._flush()
            elif now >= deadline:
                if not p.policy.escalate_to or p.escalated:
                    return True
                p.escalated = True
                deadline = now + timedelta(seconds=p.policy.escalate_for_s)
                p.deadline = deadline
                marks = []
                self._publish()
                self._details(p)
                why = f"no answer from {p.role}; put to {p.policy.escalate_to} until {deadline:%H:%M:%S} UTC"
                self._stage([self._event(p, "escalated", why)],
                            [self._audit(p, AuditKind.PROMPT_ESCALATED, "workflow", [], detail=why)])
                await self._flush()

    def close(self, p: Prompt, *, expired: bool) -> None:
        """Take `p` off the lists (expired, or decided)."""
        if expired:
            p.state = PromptState.EXPIRED
            self._stage([self._event(p, "timed_out", f"default: {p.on_timeout}")],
                        [self._audit(p, AuditKind.PROMPT_TIMED_OUT, "workflow", [], option=p.on_timeout)])
        else:
            self._stage([self._event(p, "decided", p.response.option if p.response else "")], [])
        if not self.pending():
            workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(False)])
            workflow.set_current_details("")
        self._publish()

    def _publish(self) -> None:
        rows = [p.model_dump(mode="json") for p in self.pending()]
        workflow.upsert_memo({"prompt": rows[0] if rows else None, "prompts": rows or None})

    @staticmethod
    def _audit(p: Prompt, kind: AuditKind, actor: str, roles: list[str], option: str | None = None,
               detail: str = "", source: str | None = None, outcome: str = "accepted") -> AuditEvent:
        return AuditEvent(time=workflow.now(), kind=kind, actor=actor, roles=roles, container_id=p.container_id,
                          prompt_id=p.id, option=option, source=source or "workflow", detail=detail[:2000],
                          outcome=outcome)

    # ---- answers --------------------------------------------------------------------------------------
    def validate(self, r: PromptResponse) -> ApprovalClaims:
        """Check an answer, a delegation or a withdrawal (the `respond` update's validator): the prompt waits, the
        option is offered, the signature verifies and the signed roles may answer. What the approval is bound to
        is checked by the handler (`accept`), which records a refusal on the container.

        Raises:
            ApplicationError: typed `PromptNotFound`, `PromptClosed`, `OptionNotOffered`, `ApprovalInvalid`
                or `RoleNotAllowed`; the API maps each to an HTTP status.
        """
        p = self.prompts.get(r.prompt_id)
        if p is None:
            raise _refuse("PromptNotFound", f"no prompt {r.prompt_id} in this run")
        if p.state != PromptState.PENDING:
            raise _refuse("PromptClosed", f"prompt {p.id} is already {p.state.value}")
        now = workflow.now()
        if now >= p.deadline:
            raise _refuse("PromptClosed", f"prompt {p.id} expired at {p.deadline.isoformat()}")
        claims = self._verified(p, r)
        if claims.kind == "withdraw":
            if not any(a.responder == claims.responder for a in p.approvals):
                raise _refuse("PromptClosed", f"{claims.responder} has no approval on prompt {p.id} to withdraw")
            return claims
        if claims.kind != "delegate" and r.option not in p.options:
            raise _refuse("OptionNotOffered", f"option {r.option!r} is not offered; choose one of: "
                                              f"{', '.join(p.options)}")
        why = p.refusal(claims.responder, claims.roles)
        if why is not None and not (claims.kind == "delegate" and "already approved" in why):
            raise _refuse("RoleNotAllowed", why)
        return claims

    def _verified(self, p: Prompt, r: PromptResponse) -> ApprovalClaims:
        """The claims of a correctly signed answer (the signature is checked here, in the validator: a forged
        one never enters history)."""
        try:
            return trusted().verify(r.approval)
        except (ApprovalRequired, ApprovalInvalid) as e:
            workflow.logger.warning("refused an answer to prompt %s: %s", p.id, e)
            raise _refuse("ApprovalInvalid", f"answer to prompt {p.id} refused: {e}") from None

    @staticmethod
    def _binding_problem(p: Prompt, r: PromptResponse, claims: ApprovalClaims) -> str | None:
        """What a correctly signed answer is not bound to (another prompt, run, container, option, actions, or
        its validity window), or None. Needs no key, so the handler decides it the same way on every replay."""
        now = workflow.now()
        expected = [] if claims.kind in ("delegate", "withdraw") else p.authorizes.get(r.option, [])
        mismatch = [what for what, ok in (
            (f"prompt {claims.prompt_id}", claims.prompt_id == p.id),
            (f"run {claims.workflow_id}", claims.workflow_id == workflow.info().workflow_id),
            (f"container {claims.container_id}", claims.container_id == p.container_id),
            (f"option {claims.option!r}", claims.option == r.option),
            ("other actions or targets", claims.actions == expected),
        ) if not ok]
        if mismatch:
            return f"its approval is for {', '.join(mismatch)}"
        if now >= claims.expires_at or claims.issued_at < p.created - ISSUED_SLACK:
            return (f"its approval is not valid now (issued {claims.issued_at.isoformat()}, expires "
                    f"{claims.expires_at.isoformat()})")
        return None

    def accept(self, r: PromptResponse) -> PromptAck:
        """Record an answer the validator accepted (the `respond` update's handler).

        Responder and roles are read from the signed claims (verified by the validator, which does not run
        on replay; reading them needs no key, so replay never depends on a worker's configuration). An answer
        without an approval can only be a replayed one recorded before answers were signed (the validator
        refuses them live): it keeps the responder it was accepted with.
        """
        p = self.prompts[r.prompt_id]
        claims = ApprovalClaims.model_validate_json(r.approval.claims) if r.approval is not None else None
        if claims is not None and (problem := self._binding_problem(p, r, claims)) is not None:
            # A genuine approval used elsewhere (replayed from another run, another prompt, too late): refused,
            # and recorded, since it reached the run.
            why = f"answer to prompt {p.id} refused: {problem}"
            self._stage([], [self._audit(p, AuditKind.APPROVAL_INVALID, claims.responder, claims.roles, r.option,
                                         why, claims.source, outcome="refused")])
            self._outbox = True
            raise ApplicationError(why, type="ApprovalInvalid")
        if claims is not None:
            r.responder, r.responder_roles = claims.responder, claims.roles
        r.responded_at = workflow.now()
        waited = (r.responded_at - p.created).total_seconds()
        if claims is not None and claims.kind in ("delegate", "withdraw"):
            return self._hand_over(p, r, claims, waited)
        if claims is not None and p.approving(r.option) and p.policy.quorum > 1:
            p.approvals.append(r)
            same = [a for a in p.approvals if a.option == r.option]
            if len(same) < p.policy.quorum:
                audit = self._audit(p, AuditKind.APPROVAL_RECORDED, r.responder, r.responder_roles, r.option,
                                    f"{len(same)} of {p.policy.quorum} approvals", claims.source)
                self._stage([self._event(p, "approval", f"{r.responder}: {len(same)} of {p.policy.quorum}")],
                            [audit])
                self._outbox = True
                self._publish()
                return PromptAck(prompt_id=p.id, option=r.option, decided=False, approvals=len(same),
                                 quorum=p.policy.quorum, waited_s=waited,
                                 next_step=f"approval recorded ({len(same)} of {p.policy.quorum}); waiting for "
                                           f"{p.policy.quorum - len(same)} more")
        p.response = r
        p.state = PromptState.ANSWERED
        self._stage([], [self._audit(p, AuditKind.PROMPT_ANSWERED, r.responder, r.responder_roles, r.option,
                                     r.comment, claims.source if claims else None)])
        nxt = self.next_steps.get(p.id, {}).get(r.option, "the playbook continues")
        count = len([a for a in p.approvals if a.option == r.option]) or 1
        return PromptAck(prompt_id=p.id, option=r.option, next_step=nxt, waited_s=waited, approvals=count,
                         quorum=p.policy.quorum)

    def approvals_of(self, p: Prompt) -> list[PromptResponse]:
        """The answers that decided `p` (several for a quorum)."""
        if p.response is None:
            return []
        same = [a for a in p.approvals if a.option == p.response.option]
        return same or [p.response]

    def _hand_over(self, p: Prompt, r: PromptResponse, claims: ApprovalClaims, waited: float) -> PromptAck:
        if claims.kind == "delegate":
            p.delegated_to = claims.delegate_to
            what, kind = f"handed to {claims.delegate_to}", AuditKind.PROMPT_DELEGATED
            self._stage([self._event(p, "delegated", f"{r.responder} handed it to {claims.delegate_to}",
                                     to_user=claims.delegate_to)], [])
        else:
            p.approvals = [a for a in p.approvals if a.responder != claims.responder]
            what, kind = f"{claims.responder}'s approval withdrawn", AuditKind.APPROVAL_WITHDRAWN
        self._stage([], [self._audit(p, kind, r.responder, r.responder_roles, None, what, claims.source)])
        self._outbox = True
        self._publish()
        self._details(p)
        return PromptAck(prompt_id=p.id, option=r.option, next_step=what, waited_s=waited, decided=False,
                         approvals=len(p.approvals), quorum=p.policy.quorum)
