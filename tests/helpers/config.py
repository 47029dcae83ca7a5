"""Config files for tests, pointing the example assets at a given simulator URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.settings import ROOT


def example_assets(sim_url: str) -> list[dict[str, Any]]:
    """config/assets.json with every base_url moved to `sim_url`."""
    assets = json.loads((ROOT / "config" / "assets.json").read_text())
    for a in assets:
        base = a["configuration"].get("base_url")
        if base:
            a["configuration"]["base_url"] = base.replace("http://127.0.0.1:8100", sim_url)
    return assets


def write_assets(path: Path, assets: list[dict[str, Any]]) -> Path:
    """Write an assets file and return its path."""
    path.write_text(json.dumps(assets, indent=2))
    return path
