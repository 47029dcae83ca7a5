"""The registered playbooks, discovered from `workflows/playbooks/` (no central list to edit).

Every `Playbook` workflow class there must be declared with `@playbook(...)`: one that is not fails the
import with the fix, so a playbook can never silently vanish from the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from workflows.playbook import Playbook


@dataclass(frozen=True)
class PlaybookInfo:
    """A playbook's name, title, version, manual-triage baseline and workflow class."""

    name: str
    title: str
    version: str
    baseline_minutes: float
    description: str
    workflow: type[Playbook]
    workflow_type: str
    kind: str = "native"


def _discover() -> dict[str, PlaybookInfo]:
    import workflows.playbooks as pkg

    out: dict[str, PlaybookInfo] = {}
    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        m = importlib.import_module(f"{pkg.__name__}.{mod.name}")
        for obj in vars(m).values():
            if not (isinstance(obj, type) and issubclass(obj, Playbook) and obj is not Playbook
                    and obj.__module__ == m.__name__):
                continue
            meta = obj.__dict__.get("meta")
            if meta is None:
                raise TypeError(f"{m.__name__}.{obj.__name__} is a Playbook without @playbook(...): decorate it "
                                "with @playbook(name=..., title=..., version=..., baseline_minutes=...)")
            if meta.name in out:
                raise TypeError(f"playbook name {meta.name!r} is declared twice ({out[meta.name].workflow.__name__} "
                                f"and {obj.__name__}): give each playbook its own name")
            out[meta.name] = PlaybookInfo(name=meta.name, title=meta.title, version=meta.version,
                                          baseline_minutes=meta.baseline_minutes, description=meta.description,
                                          workflow=obj, workflow_type=obj.__name__)
    return out


PLAYBOOKS: dict[str, PlaybookInfo] = _discover()
PLAYBOOK_TYPES: dict[str, str] = {name: p.workflow_type for name, p in PLAYBOOKS.items()}
