"""The container's state stays within its payload budget as it grows (comments and artifacts), whatever
analysts and playbooks add: every cap says so on the container, and nothing is trimmed silently.

- A comment keeps at most `COMMENT_CHARS` characters (the rest is cut with a marker).
- All comments' text together stays under `COMMENTS_CHARS`: past it, the oldest comments are shortened to
  `TRIMMED_CHARS` with a marker (their full text stays in the container's workflow history, where the change
  that added it is recorded).
- Artifacts: at most `MAX_ARTIFACTS`, and `ARTIFACTS_BYTES` serialised; beyond either, they are not added and
  a system comment says how many (ingestion already stores what does not fit aside, `api/aside.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from core.models import Artifact, Comment
    from workflows.messages import ContainerState

MAX_ARTIFACTS = 5000
MAX_COMMENTS = 2000
COMMENT_CHARS = 20_000
COMMENTS_CHARS = 400_000
TRIMMED_CHARS = 300
ARTIFACTS_BYTES = 512 * 1024  # a playbook's input carries the artifacts: a few children fit one 4 MB task
TRIM_MARK = " … [shortened: the full text is in this container's workflow history]"


def add_comment(state: ContainerState, author: str, text: str, now: datetime) -> None:
    """Append a comment within the caps (a full list drops it and counts it)."""
    if len(state.comments) >= MAX_COMMENTS:
        state.comments_dropped += 1
        return
    if len(text) > COMMENT_CHARS:
        text = text[:COMMENT_CHARS] + TRIM_MARK
    state.comments.append(Comment(author=author, text=text, time=now))
    total = sum(len(c.text) for c in state.comments)
    for c in state.comments[:-1]:
        if total <= COMMENTS_CHARS:
            break
        if len(c.text) > TRIMMED_CHARS + len(TRIM_MARK) and not c.text.endswith(TRIM_MARK):
            total -= len(c.text)
            c.text = c.text[:TRIMMED_CHARS] + TRIM_MARK
            total += len(c.text)


def artifact_bytes(artifacts: list[Artifact]) -> int:
    """Serialised size of the artifacts (what the budget counts)."""
    return sum(len(a.model_dump_json()) + 1 for a in artifacts)


def add_artifacts(state: ContainerState, author: str, artifacts: list[Artifact], used: int,
                  comment: Callable[[str, str], None]) -> tuple[list[Artifact], int]:
    """Append artifacts (each recording who added it) within the count and byte caps.

    Returns:
        The artifacts added, and the bytes the container's artifacts use now (`used` before).
    """
    c = state.container
    added: list[Artifact] = []
    for a in artifacts:
        a.added_by = a.added_by or author
        size = len(a.model_dump_json()) + 1
        if len(c.artifacts) >= MAX_ARTIFACTS or used + size > ARTIFACTS_BYTES:
            break
        c.artifacts.append(a)
        added.append(a)
        used += size
    if len(added) < len(artifacts):
        why = f"limit {MAX_ARTIFACTS}" if len(c.artifacts) >= MAX_ARTIFACTS else f"budget {ARTIFACTS_BYTES // 1024} KiB"
        comment("system", f"Artifact {why} reached; {len(artifacts) - len(added)} artifacts not added")
    return added, used
