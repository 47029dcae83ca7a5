"""The container as a Phantom playbook sees it, and the changes it makes to it.

A playbook gets its container as Splunk's dict (`id`, `name`, `label`, `severity`, `status`, ...) plus
`artifacts` (the brief's playbooks read `container["artifacts"]`), each artifact as Splunk's artifact dict
with an `id` (its position, from 1) and, where the CEF holds exactly one kind of indicator, that kind in
`type` and in `cef["type"]` (the brief reads `artifact["cef"]["type"]`): url, hash, ip, domain, host,
user or email. The dicts reflect this run's own changes (severity, status, label, added artifacts).

Changes are staged on the run's pending `ContainerEvent` and sent to the container once per workflow step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from temporalio import workflow

from workflows.phantom.context import PhantomError

with workflow.unsafe.imports_passed_through():
    from core.models import Artifact, Container, Note, Pin, Severity, Status

if TYPE_CHECKING:
    from workflows.phantom.workflow import PhantomPlaybook

STATUSES = {"new": Status.NEW, "open": Status.OPEN, "closed": Status.CLOSED, "resolved": Status.CLOSED}


def artifact_dict(a: Artifact, n: int, container_id: str) -> dict[str, Any]:
    """Splunk's artifact dict of the `n`-th artifact (ids count from 1)."""
    kinds = sorted(a.indicators())
    kind = kinds[0] if len(kinds) == 1 else ""
    cef = dict(a.cef)
    if kind:
        cef.setdefault("type", kind)
    return {"id": n, "name": a.name, "label": a.label, "type": a.type or kind, "cef": cef, "cef_types": {},
            "severity": a.severity.value, "source_data_identifier": a.source_data_identifier, "tags": list(a.tags),
            "container": container_id, "container_id": container_id, "description": "", "data": {},
            "added_by": a.added_by}


class ContainerBox:
    """This run's view of its container, and its changes to it."""

    def __init__(self, eng: PhantomPlaybook, container: Container) -> None:
        self.eng = eng
        self.model = container.model_copy(deep=True)
        self._dicts: list[dict[str, Any]] | None = None

    @property
    def id(self) -> str:
        """The container's id."""
        return self.model.id or ""

    def artifact_dicts(self) -> list[dict[str, Any]]:
        """Every artifact as Splunk's dict (a fresh copy for the playbook each time it asks)."""
        if self._dicts is None:
            self._dicts = [artifact_dict(a, n, self.id) for n, a in enumerate(self.model.artifacts, 1)]
        return [{**d, "cef": dict(d["cef"]), "tags": list(d["tags"])} for d in self._dicts]

    def container_dict(self, container_id: Any = None) -> dict[str, Any]:
        """The container as Splunk's dict, with `artifacts`."""
        self._own(container_id)
        c = self.model
        return {"id": self.id, "name": c.name, "label": c.label, "severity": c.severity.value,
                "sensitivity": c.sensitivity.value, "status": c.status.value, "owner_name": c.owner,
                "description": c.description, "source_data_identifier": c.source_data_identifier,
                "create_time": c.created.isoformat() if c.created else None, "tags": list(c.tags), "data": {},
                "container_type": "default", "artifact_count": len(c.artifacts), "artifacts": self.artifact_dicts()}

    def _own(self, container: Any) -> None:
        """Refuse another container: a playbook reads and changes the one it runs on."""
        cid = container.get("id") if isinstance(container, dict) else container
        if cid not in (None, "", self.id):
            raise PhantomError(f"container {cid!r} is not this playbook's container ({self.id}); a playbook "
                               "reads and changes only the container it runs on")

    def artifacts(self, container: Any, label: str | None, ids: Any, limit: int | None) -> list[dict[str, Any]]:
        """The artifacts, optionally of one label or ids."""
        self._own(container)
        arts = self.artifact_dicts()
        if label:
            arts = [a for a in arts if a["label"] == label]
        if ids:
            wanted = {int(i) for i in (ids if isinstance(ids, list | tuple | set) else [ids])}
            arts = [a for a in arts if a["id"] in wanted]
        return arts[:limit] if limit else arts

    # ---- changes ------------------------------------------------------------------------------------
    def change(self, container: Any, *, comment: str | None = None, severity: str | None = None,
               status: str | None = None, label: str | None = None, template: str | None = None) -> tuple[bool, str]:
        """Stage one change (comment, severity, status, label or promotion)."""
        self._own(container)
        e = self.eng
        if comment is not None:
            e.comment(comment)
        if severity is not None:
            try:
                sev = Severity(str(severity).strip().lower())
            except ValueError:
                raise PhantomError(f"severity {severity!r}: use high, medium or low") from None
            e.set_severity(sev)
            self.model.severity = sev
        if status is not None:
            st = STATUSES.get(str(status).strip().lower())
            if st is None:
                raise PhantomError(f"status {status!r}: use new, open, closed or resolved")
            e.set_status(st)
            self.model.status = st
        if label is not None:
            try:
                self.model.label = Container.model_validate({"name": "x", "label": label}).label
            except ValidationError:
                raise PhantomError(f"label {label!r}: letters, digits, space and _.- only") from None
            e.stage_label(self.model.label)
        if template is not None:
            e.promote(template)
        e.staged()
        return True, "changed"

    def add_artifact(self, container: Any, raw: Any, cef: dict[str, Any] | None, *, label: str | None,
                     name: str | None, severity: str | None, identifier: str | None,
                     artifact_type: str | None) -> tuple[bool, str, int]:
        """Add an artifact; `raw` may be one artifact dict (`{"cef", "label", "name", ...}`), as the brief passes."""
        self._own(container)
        spec: dict[str, Any] = dict(raw) if isinstance(raw, dict) and cef is None and "cef" in raw else {}
        fields = {"cef": cef if cef is not None else spec.get("cef", {}),
                  "label": label or spec.get("label") or "event", "name": name or spec.get("name") or "artifact",
                  "severity": str(severity or spec.get("severity") or "medium").lower(),
                  "source_data_identifier": identifier or spec.get("source_data_identifier"),
                  "type": artifact_type or spec.get("type") or ""}
        try:
            a = Artifact.model_validate(fields)
        except ValidationError as ex:
            err = ex.errors()[0]
            raise PhantomError(f"add_artifact: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
        self.model.artifacts.append(a)
        self._dicts = None
        self.eng.add_artifacts(a)
        self.eng.staged()
        return True, "artifact added", len(self.model.artifacts)

    def add_note(self, container: Any, title: str, content: str, note_format: str) -> tuple[bool, str, int]:
        """Stage a note."""
        self._own(container)
        self.eng.stage_note(Note(title=title[:1024], content=content[:100_000], note_format=note_format[:16]))
        return True, "note added", self.eng.notes_added

    def pin(self, container: Any, message: str, data: str, style: str, name: str | None) -> tuple[bool, str, int]:
        """Stage a pin."""
        self._own(container)
        self.eng.stage_pin(Pin(message=message[:1024], data=data[:4096], style=style[:32], name=name))
        return True, "pinned", self.eng.pins_added
