"""The registered playbooks: the native ones, discovered from `workflows/playbooks/` (no central list to
edit), and the Phantom-format files of the Phantom playbook directory (`SOAR_PHANTOM_PLAYBOOKS_DIR`).

Every `Playbook` workflow class there must be declared with `@playbook(...)`: one that is not fails the
import with the fix, so a playbook can never silently vanish from the registry. Every Phantom playbook runs
as the one generic workflow type `PhantomPlaybook`; `PHANTOM_VERSIONS` gives the SHA-256 of the source a
new run of it starts with (the run keeps that version, see `workflows.phantom.loader`).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings, get_settings
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
    kind: str = "native"  # "native" | "phantom"
    file: str | None = None  # a Phantom playbook's file


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
PHANTOM_VERSIONS: dict[str, str] = {}
NATIVE: frozenset[str] = frozenset(PLAYBOOKS)
# Any name that is not a native playbook's runs as the Phantom workflow: the container's child type then
# never depends on which files the directory holds (a removed file's waiting runs still replay).
PHANTOM_TYPE = "PhantomPlaybook"


def load_phantom(directory: Path, data_dir: Path) -> dict[str, PlaybookInfo]:
    """(Re)load the Phantom playbooks of `directory` into the registry, replacing the ones loaded before.

    The registry's dicts are updated in place (workflows and the API hold references to them).

    Raises:
        ConfigError: a file does not compile, has no `on_start`, or its name is taken (file, line and fix).
    """
    from workflows.phantom.loader import DEFAULT_BASELINE_MINUTES, load_directory
    from workflows.phantom.workflow import PhantomPlaybook

    found = load_directory(directory, data_dir / "phantom", NATIVE)
    for name in [n for n, p in PLAYBOOKS.items() if p.kind == "phantom"]:
        del PLAYBOOKS[name], PLAYBOOK_TYPES[name]
    PHANTOM_VERSIONS.clear()
    for name, src in found.items():
        PLAYBOOKS[name] = PlaybookInfo(name=name, title=src.title, version=src.version,
                                       baseline_minutes=DEFAULT_BASELINE_MINUTES, description=src.description,
                                       workflow=PhantomPlaybook, workflow_type=PHANTOM_TYPE, kind="phantom",
                                       file=str(directory / src.file))
        PLAYBOOK_TYPES[name] = PHANTOM_TYPE
        PHANTOM_VERSIONS[name] = src.sha256
    return {n: PLAYBOOKS[n] for n in found}


def load_phantom_playbooks(settings: Settings) -> dict[str, PlaybookInfo]:
    """The Phantom playbooks of `settings.phantom_playbooks_dir` (the one loader; the worker and the API call
    it at start, and importing this module calls it with the process settings)."""
    return load_phantom(settings.phantom_playbooks_dir, settings.data_dir)


load_phantom_playbooks(get_settings())
