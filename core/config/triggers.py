"""Triggers: `{"playbook_name", "trigger": {"type": "event_created", "conditions": {...}}, "active", "run_as"}`.

Within a condition key any listed value matches; every key must match.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config.loading import explain, read_json_list
from core.errors import ConfigError
from core.models import Container

CONDITION_KEYS = ("label", "severity", "sensitivity", "tags")


class TriggerSpec(BaseModel):
    """The `trigger` object."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["event_created"] = "event_created"
    conditions: dict[str, list[str]] = Field(default_factory=dict)


class Trigger(BaseModel):
    """One trigger entry."""

    model_config = ConfigDict(extra="forbid")

    playbook_name: str
    trigger: TriggerSpec
    active: bool = True
    run_as: str = "automation"

    def matches(self, container: Container) -> bool:
        """True when the trigger is active and every condition key matches the container."""
        if not self.active or self.trigger.type != "event_created":
            return False
        values: dict[str, set[str]] = {
            "label": {container.label.lower()},
            "severity": {container.severity.value},
            "sensitivity": {container.sensitivity.value},
            "tags": {t.lower() for t in container.tags},
        }
        for key, wanted in self.trigger.conditions.items():
            if not values.get(key, set()) & {w.lower() for w in wanted}:
                return False
        return True


def load_triggers(path: Path, playbooks: Iterable[str] | None = None) -> list[Trigger]:
    """Load and validate a triggers file; `playbooks` are the registered playbook names.

    Raises:
        ConfigError: naming file, trigger index, field and fix.
    """
    file = str(path)
    known = set(playbooks) if playbooks is not None else None
    out: list[Trigger] = []
    for i, raw in enumerate(read_json_list(path, "triggers")):
        entry = f"trigger #{i}"
        if isinstance(raw, dict) and isinstance(raw.get("playbook_name"), str):
            entry += f" ({raw['playbook_name']})"
        try:
            t = Trigger.model_validate(raw)
        except ValidationError as e:
            raise explain(e, file=file, entry=entry) from None
        for key in t.trigger.conditions:
            if key not in CONDITION_KEYS:
                raise ConfigError(file, entry, f"trigger.conditions.{key}", f"unknown condition key {key!r}",
                                  f"use one of: {', '.join(CONDITION_KEYS)}")
        if known is not None and t.playbook_name not in known:
            raise ConfigError(file, entry, "playbook_name", f"unknown playbook {t.playbook_name!r}",
                              f"use one of: {', '.join(sorted(known))}")
        out.append(t)
    return out


def match_triggers(triggers: Iterable[Trigger], container: Container) -> list[Trigger]:
    """The triggers that fire for a new container, one per playbook, in file order."""
    seen: set[str] = set()
    out = []
    for t in triggers:
        if t.matches(container) and t.playbook_name not in seen:
            seen.add(t.playbook_name)
            out.append(t)
    return out


class TriggerFile:
    """A triggers file, re-read whenever it changes on disk (its modification time or size), so edits apply
    to the next container without a restart. The API (to predict the playbooks it answers with) and the
    worker's trigger-matching activity each hold one.
    """

    def __init__(self, path: Path, playbooks: Iterable[str] | None = None) -> None:
        self.path = path
        self._playbooks = list(playbooks) if playbooks is not None else None
        self._stamp: tuple[int, int] | None = None
        self._triggers: list[Trigger] = []

    def get(self) -> list[Trigger]:
        """The triggers, loaded again when the file changed since the last call.

        Raises:
            OSError: the file cannot be read (e.g. it is being replaced; the caller retries).
            ConfigError: the file is invalid. The last good triggers are not kept: a broken file fails
                loudly instead of silently running yesterday's rules.
        """
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._stamp = None
            self._triggers = load_triggers(self.path, self._playbooks)
            self._stamp = stamp
        return self._triggers

    def match(self, container: Container) -> list[Trigger]:
        """The triggers that fire for a new container (see `match_triggers`)."""
        return match_triggers(self.get(), container)
