"""Analyst prompts inside a playbook run: open, wait durably, take a signed answer, close.

Shared by native playbooks and the Phantom engine (each workflow class keeps one `PromptDesk` and routes
its `respond` update here). A prompt is listed through the run's memo and `SoarAwaitingPrompt`, shown in
the Web UI's current details, and answered only by an update whose signed approval (made by the API for
the analyst it authenticated) verifies against this worker's trusted keys and matches this prompt, this
run, this container, the option chosen and what that option authorises. Roles come from the signed
claims, never from the update's payload. Nothing is written to history for a refused answer.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from core.approvals import ApprovalClaims, trusted
    from core.errors import ApprovalInvalid, ApprovalRequired
    from core.models import Prompt, PromptAck, PromptResponse, PromptState
    from core.temporal import SA_AWAITING_PROMPT

# An approval may be signed a little before the prompt's own clock says it opened (clocks differ).
ISSUED_SLACK = timedelta(seconds=30)


def fmt_wait(seconds: float) -> str:
    """`4m 12s` / `45s`."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m {s}s" if m else f"{s}s"


def _refuse(kind: str, message: str) -> ApplicationError:
    return ApplicationError(message, type=kind)


class PromptDesk:
    """The prompts of one run."""

    def __init__(self) -> None:
        self.prompts: dict[str, Prompt] = {}
        self.next_steps: dict[str, dict[str, str]] = {}

    def pending(self) -> list[Prompt]:
        """The prompts still waiting for an answer."""
        return [p for p in self.prompts.values() if p.state == PromptState.PENDING]

    def open(self, p: Prompt, next_steps: dict[str, str] | None = None) -> None:
        """Register a prompt and make it visible (search attribute, memo, Web UI details)."""
        self.prompts[p.id] = p
        self.next_steps[p.id] = next_steps or {}
        workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(True)])
        self._publish()
        workflow.set_current_details(
            f"Waiting for **{p.role}** until {p.deadline:%Y-%m-%d %H:%M:%S} UTC\n\n{p.message}\n\n"
            f"Options: {', '.join(p.options)} (default on timeout: {p.on_timeout})\n\nPrompt id: `{p.id}`"
        )

    async def wait(self, p: Prompt, respond_in: timedelta) -> bool:
        """Wait until `p` is answered or `respond_in` passes (its deadline, from when it opened); True when it
        timed out."""
        try:
            await workflow.wait_condition(
                lambda: p.state != PromptState.PENDING, timeout=respond_in,
                timeout_summary=f"prompt deadline: {p.role} ({fmt_wait(respond_in.total_seconds())})")
        except TimeoutError:
            return True
        return False

    def close(self, p: Prompt, *, expired: bool) -> None:
        """Take `p` off the lists (expired, or answered)."""
        if expired:
            p.state = PromptState.EXPIRED
        if not self.pending():
            workflow.upsert_search_attributes([SA_AWAITING_PROMPT.value_set(False)])
            workflow.set_current_details("")
        self._publish()

    def _publish(self) -> None:
        rows = [p.model_dump(mode="json") for p in self.pending()]
        workflow.upsert_memo({"prompt": rows[0] if rows else None, "prompts": rows or None})

    # ---- answers --------------------------------------------------------------------------------------
    def validate(self, r: PromptResponse) -> ApprovalClaims:
        """Check an answer (the `respond` update's validator).

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
        if r.option not in p.options:
            raise _refuse("OptionNotOffered", f"option {r.option!r} is not offered; choose one of: "
                                              f"{', '.join(p.options)}")
        try:
            claims = trusted().verify(r.approval)
        except (ApprovalRequired, ApprovalInvalid) as e:
            raise _refuse("ApprovalInvalid", f"answer to prompt {p.id} refused: {e}") from None
        wid = workflow.info().workflow_id
        mismatch = [what for what, ok in (
            (f"prompt {claims.prompt_id}", claims.prompt_id == p.id),
            (f"run {claims.workflow_id}", claims.workflow_id == wid),
            (f"container {claims.container_id}", claims.container_id == p.container_id),
            (f"option {claims.option!r}", claims.option == r.option),
            ("other actions or targets", claims.actions == p.authorizes.get(r.option, [])),
        ) if not ok]
        if mismatch:
            raise _refuse("ApprovalInvalid", f"answer to prompt {p.id} refused: its approval is for "
                                             f"{', '.join(mismatch)}")
        if now >= claims.expires_at or claims.issued_at < p.created - ISSUED_SLACK:
            raise _refuse("ApprovalInvalid", f"answer to prompt {p.id} refused: its approval is not valid now "
                                             f"(issued {claims.issued_at.isoformat()}, expires "
                                             f"{claims.expires_at.isoformat()})")
        if p.role not in claims.roles and "admin" not in claims.roles:
            raise _refuse("RoleNotAllowed", f"prompt {p.id} is addressed to role {p.role}; {claims.responder} "
                                            "lacks it")
        return claims

    def accept(self, r: PromptResponse) -> PromptAck:
        """Record an answer the validator accepted (the `respond` update's handler).

        Responder and roles are read from the signed claims (verified by the validator, which does not run
        on replay; reading them needs no key, so replay never depends on a worker's configuration). An answer
        without an approval can only be a replayed one recorded before answers were signed (the validator
        refuses them live): it keeps the responder it was accepted with.
        """
        if r.approval is not None:
            claims = ApprovalClaims.model_validate_json(r.approval.claims)
            r.responder, r.responder_roles = claims.responder, claims.roles
        r.responded_at = workflow.now()
        p = self.prompts[r.prompt_id]
        p.response = r
        p.state = PromptState.ANSWERED
        nxt = self.next_steps.get(p.id, {}).get(r.option, "the playbook continues")
        return PromptAck(prompt_id=p.id, option=r.option, next_step=nxt,
                         waited_s=(r.responded_at - p.created).total_seconds())
