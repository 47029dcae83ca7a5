"""What both ingestion parsers share: the error, the result, text cleaning, notes and artifact collection."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from api.ingest.limits import MAX_ARTIFACTS, MAX_NOTE_CHARS, MAX_NOTES
from core.errors import SoarError
from core.models.container import Artifact, Container, Severity

_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SPACE_RE = re.compile(r"\s+")


class IngestError(SoarError):
    """The input is not an alert we can read at all (the API answers 422 naming `field`).

    Invalid single values never raise this: the parsers skip them and explain why in a note.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


@dataclass
class ParsedAlert:
    """A parsed alert: the container to create and notes (skipped values, caps hit) to add as comments."""

    container: Container
    notes: list[str] = field(default_factory=list)


def clean(value: Any, limit: int, *, single_line: bool = True) -> str:
    """A printable, JSON-safe string of at most `limit` characters.

    Lone surrogates (undecodable header bytes smuggled through `surrogateescape`, or bad JSON input) are
    turned back into bytes and decoded as UTF-8 with replacement, so the result always serialises.
    """
    s = value if isinstance(value, str) else str(value)
    if len(s) > limit * 4:
        s = s[: limit * 4]
    try:
        s = s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        s = s.encode("utf-8", "replace").decode("utf-8")
    if single_line:
        s = _SPACE_RE.sub(" ", _CONTROL_RE.sub("", s)).strip()
    else:
        s = _CONTROL_RE.sub("", s).strip()
    return s[:limit]


class Notes:
    """Notes for the analyst, deduplicated and capped (the overflow is counted in a final line)."""

    def __init__(self) -> None:
        self._items: dict[str, None] = {}
        self._dropped = 0

    def add(self, text: str) -> None:
        """Record one note."""
        text = clean(text, MAX_NOTE_CHARS)
        if text in self._items:
            return
        if len(self._items) >= MAX_NOTES:
            self._dropped += 1
            return
        self._items[text] = None

    def as_list(self) -> list[str]:
        """The notes in the order they were added."""
        out = list(self._items)
        if self._dropped:
            out.append(f"{self._dropped} more notes were omitted")
        return out


class Artifacts:
    """Artifacts in insertion order, deduplicated on (name, cef) and capped at `limit`."""

    def __init__(self, label: str, severity: Severity, notes: Notes, limit: int = MAX_ARTIFACTS) -> None:
        self.label, self.severity, self.notes, self.limit = label, severity, notes, max(0, limit)
        self.items: list[Artifact] = []
        self._seen: set[str] = set()
        self.dropped = 0

    def add(self, name: str, type_: str, cef: dict[str, Any]) -> bool:
        """Add an artifact unless it duplicates one already added; False when it was not added.

        A value the CEF validators reject is not added either (and noted): the parsers validate first, so
        this is the last line of defence, not the normal path.
        """
        if not cef:
            return False
        key = json.dumps([name, cef], sort_keys=True, default=str)
        if key in self._seen:
            return False
        if len(self.items) >= self.limit:
            self.dropped += 1
            return False
        try:
            art = Artifact(name=name, label=self.label, type=type_, cef=cef, severity=self.severity)
        except ValueError as e:
            self.notes.add(f"{name}: artifact skipped: {e}")
            return False
        self._seen.add(key)
        self.items.append(art)
        return True

    def finish(self) -> list[Artifact]:
        """The artifacts, after noting how many the cap dropped."""
        if self.dropped:
            self.notes.add(f"{len(self.items) + self.dropped} artifacts found; first {self.limit} kept")
        return self.items
