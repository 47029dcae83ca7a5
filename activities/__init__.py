"""Vendor connectors, one package each. Discovered at import time: no central list to edit."""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import Any

from core.connector import Connector


@lru_cache
def discover_connectors() -> dict[str, Connector[Any, Any]]:
    """Every `activities/<name>/` package that defines `CONNECTOR`, keyed by connector name."""
    out: dict[str, Connector[Any, Any]] = {}
    for mod in pkgutil.iter_modules(__path__):
        if not mod.ispkg or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        connector = getattr(module, "CONNECTOR", None)
        if isinstance(connector, Connector):
            out[connector.name] = connector
    return out
