"""How a container's state changes: fields, status, prompt events, the audit trail, artifacts and comments
within their caps, reopening. The state-keeping half of `ContainerWorkflow` (workflows/container.py), which
holds the handlers, the playbook runs and the lifecycle."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.models import Artifact, AuditEvent, ContainerEvent, Prompt, PromptEvent, Status
    from workflows.budget import add_artifacts, add_comment, artifact_bytes
    from workflows.messages import ContainerState, Reopen
    from workflows.registry import PLAYBOOK_TYPES

MAX_AUDIT = 1000
MAX_PROMPT_EVENTS = 500


class StateMixin:
    """Changes to `ContainerState` (set up by `ContainerWorkflow.__init__`)."""

    s: ContainerState | None
    _prompts: dict[str, Prompt]
    _artifact_bytes: int | None
    _close_requested: bool

    @property
    def state(self) -> ContainerState:
        """The container's state (exists from the first task)."""
        assert self.s is not None
        return self.s

    def _apply_fields(self, e: ContainerEvent) -> None:
        """The single-valued fields an event sets."""
        c = self.state.container
        if e.severity is not None:
            c.severity = e.severity
        if e.owner is not None:
            c.owner = e.owner
        if e.disposition is not None:
            self.state.disposition = e.disposition
        if e.promote_template is not None:
            self.state.promoted_template = e.promote_template
            self._add_comment(e.author, f"Promoted to case with template '{e.promote_template}'")
        if e.auto_resolved is not None:
            self.state.auto_resolved = e.auto_resolved
        if e.label is not None:
            c.label = e.label

    def _apply_status(self, e: ContainerEvent, status: Status) -> None:
        """A status from a playbook (or an analyst's non-closing change)."""
        run = e.run or e.author
        if status != Status.CLOSED:
            self.state.container.status = status
            if status == Status.OPEN and e.author in PLAYBOOK_TYPES:
                self.state.left_open_by = run
            return
        held = self.state.left_open_by
        if held is not None and held != run and workflow.patched("automation-keeps-analyst-cases-open"):
            # An earlier run left the container for an analyst: later automation does not close it.
            who = held.split("/")[1] if held.startswith("playbook/") else held
            self._add_comment("system", f"{e.author} found nothing more and would have closed the container; it "
                                        f"stays open because {who} left it for an analyst.")
            self.state.auto_resolved = False
            return
        self._close_requested = True

    def _prompt_events(self, events: list[PromptEvent]) -> None:
        """Keep what happened to prompts (reminders, escalations, ...) and their current form."""
        for pe in events:
            if pe.prompt is not None and pe.prompt_id in self._prompts:
                self._prompts[pe.prompt_id] = pe.prompt  # escalated, delegated, approvals so far
        if events:
            kept = self.state.prompt_events + [pe.model_copy(update={"prompt": None}) for pe in events]
            self.state.prompt_events = kept[-MAX_PROMPT_EVENTS:]

    def _record_audit(self, events: list[AuditEvent]) -> None:
        """Append audit events (the oldest dropped past the cap, counted)."""
        if not events:
            return
        audit = self.state.audit
        audit.extend(events)
        if len(audit) > MAX_AUDIT:
            self.state.audit_dropped += len(audit) - MAX_AUDIT
            del audit[: len(audit) - MAX_AUDIT]

    def _add_artifacts(self, author: str, artifacts: list[Artifact]) -> list[Artifact]:
        """Append artifacts (each recording who added it) within the caps (`workflows/budget.py`)."""
        if not artifacts:
            return []
        if self._artifact_bytes is None:
            self._artifact_bytes = artifact_bytes(self.state.container.artifacts)
        added, self._artifact_bytes = add_artifacts(self.state, author, artifacts, self._artifact_bytes,
                                                    self._add_comment)
        return added

    def _add_comment(self, author: str, text: str) -> None:
        add_comment(self.state, author, text, workflow.now())

    def _reopen_state(self, r: Reopen) -> None:
        """A closed container's new run: open again and say why (its new content is merged by `run`)."""
        c = self.state.container
        self.state.reopened += 1
        c.status, c.closed = Status.OPEN, None
        self.state.left_open_by = None
        self.state.auto_resolved = False
        self._add_comment(r.by, f"Reopened: {r.reason}")
