"""Dockerfile and .dockerignore, linted in Python (no Docker engine here); hadolint runs when installed."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|ENCRYPTION_KEY|PRIVATE_KEY|CREDENTIAL",
                         re.IGNORECASE)


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, args = line.partition(" ")
        out.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return out


INSTRUCTIONS = instructions(DOCKERFILE.read_text())


def args_of(keyword: str) -> list[str]:
    """Arguments of every `keyword` instruction, in order."""
    return [args for kw, args in INSTRUCTIONS if kw == keyword]


def env_pairs() -> dict[str, str]:
    """Names and values set by ENV and ARG (`ENV A=1 B=2`, legacy `ENV A 1`, `ARG A=1`)."""
    pairs: dict[str, str] = {}
    for kw, args in INSTRUCTIONS:
        if kw not in ("ENV", "ARG"):
            continue
        if "=" not in args.split(" ", 1)[0]:
            name, _, value = args.partition(" ")
            pairs[name] = value
            continue
        for m in re.finditer(r"([A-Za-z_][A-Za-z0-9_]*)=(\"[^\"]*\"|'[^']*'|\S*)", args):
            pairs[m.group(1)] = m.group(2).strip("\"'")
    return pairs


def dockerignore() -> list[str]:
    """Patterns of .dockerignore."""
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def test_base_image_is_a_pinned_python_311_slim() -> None:
    froms = args_of("FROM")
    assert froms, "no FROM"
    for line in froms:
        image = line.split()[0]
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), (
            f"FROM {image}: pin a python:3.11.<patch>-slim tag")
    assert INSTRUCTIONS[0][0] == "FROM"


def test_runs_as_a_non_root_user_created_in_the_image() -> None:
    kinds = [kw for kw, _ in INSTRUCTIONS]
    assert "USER" in kinds, "no USER: the processes would run as root"
    last_user_at = max(i for i, kw in enumerate(kinds) if kw == "USER")
    for kw in ("ENTRYPOINT", "CMD"):
        assert kw in kinds
        assert kinds.index(kw) > last_user_at, f"{kw} must come after the last USER"
    user = INSTRUCTIONS[last_user_at][1].split(":")[0]
    assert user not in ("root", "0"), f"USER {user} is root"
    assert any(re.search(rf"useradd\b[^&;|]*\b{re.escape(user)}\b", r) for r in args_of("RUN")), (
        f"user {user} is never created")
    assert "RUN" not in kinds[last_user_at:], "RUN after USER: do the setup before dropping root"


def test_entrypoint_is_the_soar_cli() -> None:
    (entrypoint,) = args_of("ENTRYPOINT")
    assert json.loads(entrypoint) == ["soar"], "use the exec form: ENTRYPOINT [\"soar\"]"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert "soar" in scripts
    assert args_of("WORKDIR") and all(w.startswith("/") for w in args_of("WORKDIR"))


def test_installs_runtime_dependencies_only() -> None:
    installs = [r for r in args_of("RUN") if "pip install" in r]
    assert installs, "no pip install"
    for run in installs:
        assert "--no-cache-dir" in run
        assert "[dev]" not in run and ".[" not in run, "dev extras do not belong in the image"
        assert not re.search(r"(^|\s)(-e|--editable)(\s|$)", run), "install the package, not an editable link"
    assert any(re.search(r"pip install --no-cache-dir \.(\s|$)", r) for r in installs)


def test_no_remote_add_and_no_secrets() -> None:
    for args in args_of("ADD"):
        assert not re.search(r"(https?|ftp|git)://|git@", args), f"ADD {args}: fetches at build time"
    for name, value in env_pairs().items():
        assert not SECRET_NAME.search(name), f"{name} is set in the image; secrets come at run time"
    text = DOCKERFILE.read_text()
    assert not re.search(r"(?i)(password|token|secret)\s*=\s*\S", text)


def test_copied_sources_exist_and_cover_the_package() -> None:
    copied: set[str] = set()
    for args in args_of("COPY"):
        parts = [p for p in args.split() if not p.startswith("--")]
        for src in parts[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: missing from the repository, the build would fail"
            ignored = any(fnmatch.fnmatch(src, pat) for pat in dockerignore())
            assert not ignored, f"COPY {src}: excluded by .dockerignore"
            copied.add(src.rstrip("/"))
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()
                and any(fnmatch.fnmatch(p.name, pat) for pat in tool["packages"]["find"]["include"])}
    modules = {f"{m}.py" for m in tool.get("py-modules", [])}
    assert packages, "no package matched pyproject's include patterns"
    missing = (packages | modules | {"pyproject.toml"}) - copied
    assert not missing, f"the image would install without {sorted(missing)}"


def test_image_points_settings_at_its_own_paths() -> None:
    env = env_pairs()
    for name in ("SOAR_ASSETS_FILE", "SOAR_TRIGGERS_FILE", "SOAR_USERS_FILE", "SOAR_DATA_DIR"):
        assert env.get(name, "").startswith("/"), f"{name}: the package's default points into site-packages"


def test_dockerignore_keeps_local_state_and_secrets_out() -> None:
    patterns = dockerignore()
    for needed in (".venv", ".data", "tests", ".git", ".env"):
        assert needed in patterns, f".dockerignore must exclude {needed}"
    assert not any(p in ("*.md", "**/*.md", "README.md") for p in patterns), "package data includes *.md"


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint is not installed")
def test_hadolint() -> None:
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
