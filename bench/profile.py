"""Optional sampling profile of the worker with py-spy (`--profile`; `pip install py-spy` into the venv).
Summarised as the share of samples by category (inclusive) and the hottest functions (self)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

# (category, substrings of a frame that put a sample in it); a sample may count in several categories.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("workflow sandbox (import/proxy machinery)", ("workflow_sandbox/",)),
    ("pydantic (validate / serialize)", ("pydantic/", "pydantic_core")),
    ("data converter", ("temporalio/converter.py", "contrib/pydantic")),
    ("workflow activations (SDK)", ("temporalio/worker/_workflow_instance.py",)),
    ("our workflow code (workflows/)", ("/workflows/",)),
    ("our activity code (core/, activities/)", ("/core/", "/activities/")),
    ("HTTP client (httpx/httpcore)", ("httpx/", "httpcore/")),
    ("logging", ("logging/",)),
    ("protobuf", ("google/protobuf",)),
    ("asyncio loop", ("asyncio/",)),
]


def py_spy() -> str | None:
    """The py-spy executable (next to this Python, or on PATH), or None."""
    local = Path(sys.executable).parent / "py-spy"
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    """`py-spy record` on one pid, raw (collapsed) output; stop() ends it with SIGINT."""

    def __init__(self, pid: int, out: Path, rate: int = 50) -> None:
        exe = py_spy()
        self.out = out
        self.proc: subprocess.Popen[bytes] | None = None
        if exe is not None:
            self.proc = subprocess.Popen([exe, "record", "-p", str(pid), "-o", str(out), "--format", "raw",
                                          "-r", str(rate), "--nonblocking"],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> dict[str, Any] | None:
        """Stop sampling and summarise (None when py-spy is not installed or recorded nothing)."""
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        return summarise(self.out) if self.out.exists() else None


def summarise(path: Path, top: int = 15) -> dict[str, Any]:
    """Category shares and the hottest functions of a py-spy raw profile."""
    total = 0
    cats: Counter[str] = Counter()
    selfs: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        for name, needles in CATEGORIES:
            if any(x in f for f in frames for x in needles):
                cats[name] += count
        selfs[_short(frames[-1])] += count
    if not total:
        return {"samples": 0}
    return {"samples": total,
            "categories_pct": {k: round(100 * v / total, 1) for k, v in cats.most_common()},
            "top_self_pct": {k: round(100 * v / total, 1) for k, v in selfs.most_common(top)}}


def _short(frame: str) -> str:
    """`func (site-packages/pkg/mod.py:12)` -> `func (pkg/mod.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})"
