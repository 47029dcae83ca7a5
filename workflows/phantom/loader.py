"""Loading Phantom playbooks: a directory of `<name>.py` files (each with an optional Splunk `<name>.json`).

A file is a playbook named after its file stem, in lower case with every character other than a-z, 0-9
and `_` replaced by `_` (`VirusTotal_v3_Identifier_Reputation_Analysis.py` is the playbook
`virustotal_v3_identifier_reputation_analysis`): playbook names travel in workflow ids, prompt ids and
search attributes, which take only those characters. A file that does not compile, has no `on_start`,
or whose name clashes with a native playbook or another file stops the start-up with the file, the line
and the fix.

Every version a process loads is kept by the SHA-256 of its source, in memory and in a content-addressed
store (`<data_dir>/phantom/<sha256>.py`, with its metadata beside it): a run records the version it
started with, and replays with that version after the file changes (or after a restart).
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType
from typing import Any

from core.errors import ConfigError

log = logging.getLogger("soar.phantom")
NAME_RE = re.compile(r"^[a-z0-9_]{1,64}$")
DEFAULT_BASELINE_MINUTES = 30.0


@dataclass(frozen=True)
class InputSpec:
    """One declared input of an input playbook (Splunk's `coa.input_spec`): its name and contains types."""

    name: str
    contains: tuple[str, ...] = ()


@dataclass(frozen=True)
class PhantomSource:
    """One version of a Phantom playbook."""

    name: str
    file: str
    sha256: str
    source: str
    title: str
    description: str = ""
    inputs: tuple[InputSpec, ...] = ()
    code: CodeType | None = field(default=None, compare=False, repr=False)

    @property
    def version(self) -> str:
        """The version shown in reports: the first 12 hex digits of the source's SHA-256."""
        return self.sha256[:12]

    def meta(self) -> dict[str, Any]:
        """What the store keeps beside the source."""
        return {"name": self.name, "file": self.file, "title": self.title, "description": self.description,
                "inputs": [{"name": i.name, "contains": list(i.contains)} for i in self.inputs]}


_VERSIONS: dict[str, PhantomSource] = {}  # every version this process has loaded, by SHA-256
_STORE: list[Path] = []  # the content-addressed store of this process (set by load_directory)


def playbook_name(stem: str) -> str:
    """A file stem as a playbook name: `VirusTotal_v3_Reputation` -> `virustotal_v3_reputation`."""
    return re.sub(r"[^a-z0-9_]", "_", stem.lower())


def title_of(stem: str) -> str:
    """`brief_phishing_triage` -> `Brief Phishing Triage`; `VirusTotal_v3` -> `VirusTotal V3`."""
    return " ".join(w[:1].upper() + w[1:] for w in re.split(r"[_\s-]+", stem) if w)


def sha256_of(source: str) -> str:
    """The version id of a playbook source."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _fail(path: Path, problem: str, fix: str, line: int | None = None) -> ConfigError:
    return ConfigError(str(path), f"line {line}" if line else None, None, problem, fix)


def _metadata(path: Path) -> tuple[str, tuple[InputSpec, ...]]:
    """Description and declared inputs from the Splunk metadata file beside the playbook, if any."""
    meta = path.with_suffix(".json")
    if not meta.is_file():
        return "", ()
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise _fail(meta, f"cannot read the playbook metadata: {e}", "save it as UTF-8 JSON, or remove it") from None
    except json.JSONDecodeError as e:
        raise _fail(meta, f"invalid JSON: {e.msg}", "correct the JSON (or remove the file: it is optional)",
                    e.lineno) from None
    coa = data.get("coa") if isinstance(data, dict) else None
    coa = coa if isinstance(coa, dict) else {}
    description = str(((coa.get("data") or {}).get("description")) or "") if isinstance(coa.get("data"), dict) else ""
    inputs = []
    for spec in coa.get("input_spec") or []:
        if isinstance(spec, dict) and isinstance(spec.get("name"), str):
            contains = tuple(str(c) for c in spec.get("contains") or [] if isinstance(c, str))
            inputs.append(InputSpec(name=spec["name"], contains=contains))
    return description, tuple(inputs)


def compile_playbook(path: Path, name: str, source: str) -> PhantomSource:
    """Compile one playbook file and check that it is one.

    Raises:
        ConfigError: it does not compile, or defines no `on_start`.
    """
    try:
        tree = ast.parse(source, filename=path.name)
        code = compile(tree, path.name, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise _fail(path, f"does not compile: {e.msg}", "correct the syntax (the file must run unmodified on "
                    "Python 3.11)", e.lineno) from None
    if not any(isinstance(n, ast.FunctionDef) and n.name == "on_start" for n in tree.body):
        raise _fail(path, "defines no on_start(container) function", "a Phantom playbook starts in "
                    "`def on_start(container):` at the top level of the file; add it")
    doc = (ast.get_docstring(tree) or "").strip().split("\n")[0]
    description, inputs = _metadata(path)
    return PhantomSource(name=name, file=path.name, sha256=sha256_of(source), source=source,
                         title=title_of(path.stem), description=description or doc, inputs=inputs, code=code)


def _keep(src: PhantomSource, store: Path | None) -> PhantomSource:
    """Remember a version (first one wins for a SHA-256) and write it to the store."""
    kept = _VERSIONS.setdefault(src.sha256, src)
    if store is not None and not (store / f"{src.sha256}.py").exists():
        store.mkdir(parents=True, exist_ok=True)
        for suffix, text in ((".json", json.dumps(kept.meta(), indent=1)), (".py", kept.source)):
            fd, tmp = tempfile.mkstemp(dir=store, prefix=".tmp-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, store / f"{src.sha256}{suffix}")
    return kept


def load_directory(directory: Path, store: Path | None, reserved: Collection[str]) -> dict[str, PhantomSource]:
    """Every Phantom playbook in `directory`, by name (each version also kept in `store`).

    Args:
        directory: where the `<name>.py` files are (a missing directory holds none, with a warning).
        store: the content-addressed store (`<data_dir>/phantom`), or None to keep versions in memory only.
        reserved: the native playbooks' names (a Phantom playbook may not take one).

    Raises:
        ConfigError: naming the file (and line) that does not compile, lacks `on_start` or clashes.
    """
    if store is not None and store not in _STORE:
        _STORE.insert(0, store)
    if not directory.is_dir():
        log.warning("no Phantom playbook directory at %s (set SOAR_PHANTOM_PLAYBOOKS_DIR)", directory)
        return {}
    out: dict[str, PhantomSource] = {}
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith(("_", ".")):
            continue
        name = playbook_name(path.stem)
        if not NAME_RE.match(name):
            raise _fail(path, f"the playbook name {name!r} is longer than 64 characters",
                        "rename the file to a shorter name")
        if name in reserved:
            raise _fail(path, f"its name {name!r} is the name of a native playbook",
                        f"rename the file (e.g. to phantom_{path.name})")
        if name in out:
            raise _fail(path, f"its name {name!r} is also the name of {out[name].file}", "rename one of the files")
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise _fail(path, "is not UTF-8 text", "save the playbook as UTF-8") from None
        out[name] = _keep(compile_playbook(path, name, source), store)
    return out


def version(sha256: str) -> PhantomSource | None:
    """The playbook version with this SHA-256: from memory, else from the store (None when neither has it)."""
    known = _VERSIONS.get(sha256)
    if known is not None or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        return known
    for store in _STORE:
        path = store / f"{sha256}.py"
        if not path.is_file():
            continue
        source = path.read_text(encoding="utf-8")
        meta_path = store / f"{sha256}.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
        if sha256_of(source) != sha256:
            log.error("the stored Phantom playbook %s does not match its SHA-256; ignored", path)
            continue
        name = str(meta.get("name") or "phantom")
        src = compile_playbook(path, name, source)
        src = PhantomSource(name=name, file=str(meta.get("file") or path.name), sha256=sha256, source=source,
                            title=str(meta.get("title") or src.title), description=str(meta.get("description") or ""),
                            inputs=tuple(InputSpec(i["name"], tuple(i.get("contains") or []))
                                         for i in meta.get("inputs") or []), code=src.code)
        return _keep(src, None)
    return None


def stores() -> list[Path]:
    """The content-addressed stores this process reads versions from (newest configuration first)."""
    return list(_STORE)
