"""One router per resource, discovered: a module here with a `router` is mounted."""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import FastAPI


def include_routers(app: FastAPI) -> None:
    """Mount every router module in this package."""
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        m = importlib.import_module(f"{__name__}.{mod.name}")
        router = getattr(m, "router", None)
        if router is not None:
            app.include_router(router)
