"""What both ingestion parsers share: the error, the result, text cleaning, notes and artifact collection."""

from __future__ import annotations

import binascii
import email.errors
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from api.ingest.limits import CONTAINER_BUDGET_BYTES, MAX_ARTIFACTS, MAX_NOTE_CHARS, MAX_NOTES
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


# What the stdlib parsers and decoders raise on hostile input. Caught only where a parser starts
# (`reading`), so a bug of ours in building the container is still a 500, not a hidden 422.
DECODER_ERRORS = (UnicodeError, LookupError, binascii.Error, ValueError, OverflowError, email.errors.MessageError)


@contextmanager
def reading(part: str, *, decoders: bool = True) -> Iterator[None]:
    """Turn a library failure on hostile input into `IngestError(part, ...)` (the API's 422).

    With `decoders=False` (a parser's outermost guard) only the stack and memory limits are caught, so that
    a ValueError of our own (an invalid container) stays a bug to see, not a 422.

    Raises:
        IngestError: naming `part`, when the block raises RecursionError, MemoryError or a decoder error.
    """
    try:
        yield
    except IngestError:
        raise
    except RecursionError:
        raise IngestError(part, "nested too deeply to read (the parser ran out of stack); send the "
                                "original alert, not a re-encoded one") from None
    except MemoryError:
        raise IngestError(part, "too large to read within the parser's memory limit") from None
    except DECODER_ERRORS as e:
        if not decoders:
            raise
        raise IngestError(part, f"could not be decoded ({type(e).__name__}: {str(e)[:200]})") from None


@dataclass
class ParsedAlert:
    """A parsed alert: the container to create, notes (skipped values, caps hit) to add as comments, and the
    artifacts that did not fit the payload budget (`aside`: stored outside history by the ingest service)."""

    container: Container
    notes: list[str] = field(default_factory=list)
    aside: list[Artifact] = field(default_factory=list)

    def size(self) -> int:
        """Bytes of the serialised container plus its notes (what the payload budget counts)."""
        return len(self.container.model_dump_json().encode()) + len(json.dumps(self.notes).encode())


def fit_budget(container: Container, notes: list[str], budget: int = CONTAINER_BUDGET_BYTES,
               aside: list[Artifact] | None = None) -> ParsedAlert:
    """The parsed alert, its last artifacts moved aside until it fits the payload budget (the ingest service
    stores them outside history and says so in a note and in its answer)."""
    parsed = ParsedAlert(container, notes, list(aside or []))
    size = parsed.size()
    if size <= budget:
        return parsed
    arts = container.artifacts
    moved: list[Artifact] = []
    # Reserve room for the note the ingest service adds.
    while arts and size > budget - MAX_NOTE_CHARS - 8:
        a = arts.pop()
        size -= len(a.model_dump_json().encode()) + 1
        moved.append(a)
    parsed.aside = moved[::-1] + parsed.aside
    return parsed


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

    def __init__(self, label: str, severity: Severity, notes: Notes, limit: int = MAX_ARTIFACTS,
                 budget: int = CONTAINER_BUDGET_BYTES) -> None:
        self.label, self.severity, self.notes, self.limit = label, severity, notes, max(0, limit)
        self.items: list[Artifact] = []
        self._seen: set[str] = set()
        self.dropped = 0
        # Serialised bytes the artifacts may take (the rest of the container and the notes fit beside).
        self.bytes_left = budget * 3 // 4
        self.aside: list[Artifact] = []  # beyond the byte budget: stored outside history, not dropped

    def add(self, name: str, type_: str, cef: dict[str, Any], provenance: str | None = None) -> bool:
        """Add an artifact unless it duplicates one already added; False when it was not added.

        `provenance` says where in the alert the values were found (`Artifact.provenance`).

        A value the CEF validators reject is not added either (and noted): the parsers validate first, so
        this is the last line of defence, not the normal path.
        """
        if not cef:
            return False
        key = json.dumps([name, cef], sort_keys=True, default=str)
        if key in self._seen:
            return False
        if len(self.items) + len(self.aside) >= self.limit:
            self.dropped += 1
            return False
        try:
            art = Artifact(name=name, label=self.label, type=type_, cef=cef, severity=self.severity,
                           provenance=provenance)
        except ValueError as e:
            self.notes.add(f"{name}: artifact skipped: {e}")
            return False
        self._seen.add(key)
        size = len(art.model_dump_json().encode()) + 1
        if size > self.bytes_left:
            self.aside.append(art)
            return True
        self.bytes_left -= size
        self.items.append(art)
        return True

    def finish(self) -> list[Artifact]:
        """The artifacts kept in the container, after noting how many the count cap dropped (those beyond the
        byte budget are in `aside`)."""
        if self.dropped:
            self.notes.add(f"{len(self.items) + len(self.aside) + self.dropped} artifacts found; first "
                           f"{self.limit} kept")
        return self.items
