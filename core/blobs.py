"""Content-addressed storage outside workflow history: what does not fit a container's payload budget.

A blob is named by the SHA-256 of its bytes (`<root>/<aa>/<sha256>`), written once through a temporary
file and a hard link (readers never see a partial file; an existing blob is never rewritten), and referenced
from the container by that hash. The raw reported e-mails use the same scheme under `<data_dir>/emails`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class BlobRef:
    """Where a blob is: its hash and size."""

    sha256: str
    bytes: int

    @property
    def ref(self) -> str:
        """`sha256:<hex>`, as containers cite it."""
        return f"sha256:{self.sha256}"


class BlobStore:
    """Blobs under `root` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """The file of a blob.

        Raises:
            ValueError: `sha256` is not 64 lowercase hex digits (so no caller can steer the path).
        """
        if not SHA256_RE.match(sha256):
            raise ValueError("a blob is named by 64 lowercase hex digits (its SHA-256)")
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes) -> BlobRef:
        """Store `data` (once) and return its reference.

        Raises:
            OSError: the store is not writable.
        """
        sha = hashlib.sha256(data).hexdigest()
        write_once(self.path(sha), data)
        return BlobRef(sha, len(data))

    def get(self, sha256: str) -> bytes | None:
        """The blob's bytes, or None when there is no such blob.

        Raises:
            ValueError: `sha256` is not a SHA-256 in hex.
        """
        try:
            return self.path(sha256).read_bytes()
        except FileNotFoundError:
            return None


def write_once(path: Path, data: bytes) -> bool:
    """Write `data` to `path` unless a file is there (never overwritten); True when this call wrote it.

    The bytes go to a temporary file in the same folder (fsynced) that is hard-linked into place, so readers
    never see a partial file; without hard links, an exclusive create never overwrites either.

    Raises:
        OSError: the folder is not writable.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # no hard links on this file system
            try:
                with open(path, "xb") as f:
                    f.write(data)
            except FileExistsError:
                return False
    finally:
        Path(tmp).unlink(missing_ok=True)
    return True
