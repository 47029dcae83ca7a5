"""The registered playbooks, discovered from `workflows/playbooks/` (no central list to edit)."""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PlaybookInfo:
    """A playbook's name, title, version, manual-triage baseline and workflow class."""

    name: str
    title: str
    version: str
    baseline_minutes: float
    description: str
    workflow: type
    workflow_type: str


def _discover() -> dict[str, PlaybookInfo]:
    import workflows.playbooks as pkg

    out: dict[str, PlaybookInfo] = {}
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        m = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        for obj in vars(m).values():
            name = getattr(obj, "NAME", None)
            defn = getattr(obj, "__temporal_workflow_definition", None)
            if isinstance(obj, type) and name and defn is not None and obj.__module__ == m.__name__:
                pb: Any = obj
                out[name] = PlaybookInfo(name=name, title=pb.TITLE, version=pb.VERSION,
                                         baseline_minutes=pb.BASELINE_MINUTES, description=pb.DESCRIPTION,
                                         workflow=pb, workflow_type=defn.name)
    return out


PLAYBOOKS: dict[str, PlaybookInfo] = _discover()
PLAYBOOK_TYPES: dict[str, str] = {name: p.workflow_type for name, p in PLAYBOOKS.items()}
