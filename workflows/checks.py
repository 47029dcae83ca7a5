"""Start-up check of the native playbooks against the connector catalogue and the configured assets.

Every literal `self.act("<asset or connector>", "<action>", param=...)` in a playbook module is resolved
before any alert arrives: a misspelt connector, action or parameter stops the worker with the file, the
line and the fix, instead of failing the first run that reaches it. A connector that exists but has no
asset configured is a warning (the deployment may not use it; the run would fail with UnknownAsset).
"""

from __future__ import annotations

import ast
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.connector import AssetConfig, Connector
from core.errors import ConfigError

log = logging.getLogger("soar.checks")
NOT_PARAMS = {"approval"}


@dataclass(frozen=True)
class ActCall:
    """A literal `self.act(...)` call found in a playbook's source."""

    file: str
    line: int
    asset: str
    action: str
    params: tuple[str, ...]


def literal_acts(source: str, file: str) -> list[ActCall]:
    """Every `self.act("asset", "action", k=...)` with literal names in `source`."""
    out: list[ActCall] = []
    for node in ast.walk(ast.parse(source, filename=file)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "act"
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "self"):
            continue
        args = node.args[:2]
        if len(args) < 2 or not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            continue
        keys = tuple(k.arg for k in node.keywords if k.arg is not None and k.arg not in NOT_PARAMS)
        out.append(ActCall(file, node.lineno, args[0].value, args[1].value, keys))  # type: ignore[attr-defined]
    return out


def _check(call: ActCall, assets: Mapping[str, AssetConfig], connectors: Mapping[str, Connector[Any, Any]],
           unavailable: Mapping[str, str]) -> str | None:
    """The problem with one call, or None. Warns about a connector with no asset."""
    where = f"{call.file}:{call.line}"
    connector: Connector[Any, Any] | None
    if call.asset in assets:
        connector = connectors[assets[call.asset].connector]
    elif call.asset in unavailable:
        connector = connectors.get(unavailable[call.asset]) if unavailable[call.asset] else None
        if connector is None:
            return None
    elif call.asset in connectors:
        connector = connectors[call.asset]
        if not any(a.connector == call.asset for a in assets.values()):
            log.warning("%s: act(%r, ...) uses connector %s, but no asset of it is configured; runs reaching it "
                        "will fail", where, call.asset, connector.app)
    else:
        return (f"{where}: act({call.asset!r}, ...) names no asset or connector. Fix: use one of the "
                f"connectors ({', '.join(sorted(connectors))}) or assets ({', '.join(sorted(assets)) or 'none'})")
    spec = connector.lookup(call.action)
    if spec is None:
        return (f"{where}: {connector.title} has no action {call.action!r}. Fix: use one of: "
                f"{', '.join(sorted(connector.actions))}")
    unknown = [k for k in call.params if k not in spec.param_names()]
    if unknown:
        return (f"{where}: {connector.title} '{spec.name}' has no parameter {', '.join(map(repr, unknown))}. Fix: "
                f"use {', '.join(sorted(spec.params.model_fields)) or 'no parameters'}")
    return None


def check_playbooks(classes: Iterable[type], assets: Mapping[str, AssetConfig],
                    connectors: Mapping[str, Connector[Any, Any]],
                    unavailable: Mapping[str, str] | None = None) -> None:
    """Resolve every literal `act()` of the playbooks' modules.

    Args:
        classes: the playbook workflow classes.
        assets: the usable assets by name.
        connectors: the discovered connectors.
        unavailable: unavailable asset name -> its connector name ('' when its app is unknown).

    Raises:
        ConfigError: naming every bad call (file:line) and the fix.
    """
    files = sorted({str(Path(inspect.getsourcefile(c) or "")) for c in classes} - {""})
    problems = []
    for f in files:
        for call in literal_acts(Path(f).read_text(encoding="utf-8"), f):
            p = _check(call, assets, connectors, unavailable or {})
            if p:
                problems.append(p)
    if problems:
        raise ConfigError("playbooks", None, None, "; ".join(problems),
                          "correct the names in the playbook (see the connector tables in the README)")
