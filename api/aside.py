"""The payload budget at the door: what does not fit a container's history is stored aside, never dropped.

Every ingestion path (the JSON API, Splunk's `/rest/container`, the Splunk webhook, reported e-mails) goes
through `api.service.ingest`, which calls `fit` before the container starts:

- a free-form CEF value (a list, an object or a text the CEF validators do not bound) larger than
  `INLINE_VALUE_BYTES`, and a description larger than that, are stored aside and replaced in the container by a
  reference (`[stored aside: sha256:<hex>, <n> bytes; GET /api/v1/blobs/<hex>]`);
- when the serialised container and its notes are still over the budget (`SOAR_CONTAINER_BUDGET_BYTES`), its last
  artifacts (and any the parser already set aside) are stored aside together, as one JSON list.

Each stored piece is listed in the 202 (`stored_aside`) and in a note on the container; analysts read it with
`GET /api/v1/blobs/<sha256>`. The store is content-addressed (`core/blobs.py`) under `<data_dir>/blobs`.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from api.ingest.common import fit_budget
from core.blobs import BlobRef, BlobStore
from core.cef import CEF_VALIDATORS
from core.models import Artifact, Container

INLINE_VALUE_BYTES = 4096
PREVIEW_CHARS = 200


class StoredAside(BaseModel):
    """One piece of an alert kept outside workflow history."""

    what: str = Field(description='What it is: `artifact 3 ("Email headers") cef.emailHeaders`, `440 artifacts`')
    sha256: str
    bytes: int
    url: str = Field(description="Where an analyst reads it")


def _reference(ref: BlobRef) -> str:
    return f"[stored aside: {ref.ref}, {ref.bytes} bytes; GET /api/v1/blobs/{ref.sha256}]"


def _stored(what: str, ref: BlobRef) -> StoredAside:
    return StoredAside(what=what, sha256=ref.sha256, bytes=ref.bytes, url=f"/api/v1/blobs/{ref.sha256}")


def _values_aside(container: Container, store: BlobStore) -> list[StoredAside]:
    out: list[StoredAside] = []
    for i, a in enumerate(container.artifacts, 1):
        for key, value in list(a.cef.items()):
            if key in CEF_VALIDATORS:  # indicators are validated and bounded; playbooks need them inline
                continue
            data = json.dumps(value, ensure_ascii=False, default=str).encode()
            if len(data) > INLINE_VALUE_BYTES:
                ref = store.put(data)
                a.cef[key] = _reference(ref)
                out.append(_stored(f'artifact {i} ("{a.name}") cef.{key}', ref))
    if len(container.description.encode()) > INLINE_VALUE_BYTES:
        ref = store.put(container.description.encode())
        container.description = f"{container.description[:PREVIEW_CHARS]}… {_reference(ref)}"
        out.append(_stored("the description", ref))
    return out


def fit(container: Container, notes: list[str], store: BlobStore, budget: int,
        aside: list[Artifact] | None = None) -> list[StoredAside]:
    """Bring `container` (and `notes`, appended to) within `budget` bytes, storing the rest aside.

    Raises:
        OSError: the blob store is not writable (nothing was started).
    """
    out = _values_aside(container, store)
    parsed = fit_budget(container, notes, budget, aside)
    if parsed.aside:
        data = json.dumps([a.model_dump(mode="json") for a in parsed.aside], ensure_ascii=False).encode()
        ref = store.put(data)
        out.append(_stored(f"{len(parsed.aside)} artifacts", ref))
        notes.append(f"{len(parsed.aside)} artifacts did not fit the container's payload budget of {budget // 1024} "
                     f"KiB and are stored aside ({ref.bytes} bytes): GET /api/v1/blobs/{ref.sha256}")
    for s in out[:-1] if parsed.aside else out:
        notes.append(f"{s.what} ({s.bytes} bytes) is stored aside: GET {s.url}")
    return out
