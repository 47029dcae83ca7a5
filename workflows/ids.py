"""Deterministic ids: containers, playbook runs and prompts. Pure functions (safe in workflows)."""

from __future__ import annotations

import base64
import hashlib
import re

from temporalio.common import SearchAttributePair, TypedSearchAttributes

from core.temporal import SA_CONTAINER_ID, SA_KIND, SA_PLAYBOOK

CONTAINER_PREFIX = "container/"
PLAYBOOK_PREFIX = "playbook/"
CONTAINER_ID_RE = re.compile(r"^SOAR-[A-Z0-9]{4,40}$")
PROMPT_ID_RE = re.compile(r"^(SOAR-[A-Z0-9]{4,40})\.([a-z0-9_]{1,64})(?:\.([a-z0-9-]{1,64}))?\.(\d{1,6})$")


def container_id_for(source_data_identifier: str) -> str:
    """The same alert always maps to the same container id, e.g. `SOAR-7K2M9QXA4BC3`."""
    digest = hashlib.sha256(source_data_identifier.encode("utf-8")).digest()
    return "SOAR-" + base64.b32encode(digest).decode()[:12]


def container_number_for(source_data_identifier: str) -> int:
    """The container's numeric id (what Splunk SOAR clients expect in `"id"`): 53 bits of the same digest, so
    it is stable and exact in every JSON reader (JavaScript's safe integers included)."""
    digest = hashlib.sha256(source_data_identifier.encode("utf-8")).digest()
    return (int.from_bytes(digest[:7], "big") >> 3) or 1


def container_workflow_id(container_id: str) -> str:
    """`container/<container_id>`."""
    return CONTAINER_PREFIX + container_id


def playbook_workflow_id(playbook: str, container_id: str, suffix: str | None = None) -> str:
    """`playbook/<name>/<container_id>[/<suffix>]`."""
    wid = f"{PLAYBOOK_PREFIX}{playbook}/{container_id}"
    return f"{wid}/{suffix}" if suffix else wid


def prompt_id(playbook: str, container_id: str, suffix: str | None, n: int) -> str:
    """A prompt id that names its workflow, so answering never depends on visibility."""
    return f"{container_id}.{playbook}.{suffix}.{n}" if suffix else f"{container_id}.{playbook}.{n}"


def parse_prompt_id(pid: str) -> tuple[str, str] | None:
    """`prompt id` -> (playbook workflow id, prompt id), or None when malformed."""
    m = PROMPT_ID_RE.match(pid)
    if not m:
        return None
    cid, playbook, suffix, _ = m.groups()
    return playbook_workflow_id(playbook, cid, suffix), pid


def playbook_search_attributes(playbook: str, container_id: str) -> TypedSearchAttributes:
    """Start-time search attributes of a playbook run (lists prompts and runs without queries)."""
    return TypedSearchAttributes([
        SearchAttributePair(SA_KIND, "playbook"), SearchAttributePair(SA_CONTAINER_ID, container_id),
        SearchAttributePair(SA_PLAYBOOK, [playbook]),
    ])
