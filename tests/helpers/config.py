"""Config files for tests, pointing the example assets at a given simulator URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.settings import ROOT


def example_assets(sim_url: str, ldap_port: int | None = None) -> list[dict[str, Any]]:
    """config/assets.json with every base_url moved to `sim_url`, and the Active Directory asset to the
    simulator's host (and to its LDAPS port `ldap_port`, when given)."""
    assets = json.loads((ROOT / "config" / "assets.json").read_text())
    for a in assets:
        conf = a["configuration"]
        if conf.get("base_url"):
            conf["base_url"] = conf["base_url"].replace("http://127.0.0.1:8100", sim_url)
        elif a["app"] == "Active Directory":
            conf["server"] = urlsplit(sim_url).hostname
            conf["port"] = conf["port"] if ldap_port is None else ldap_port
    return assets


def write_assets(path: Path, assets: list[dict[str, Any]]) -> Path:
    """Write an assets file and return its path."""
    path.write_text(json.dumps(assets, indent=2))
    return path
