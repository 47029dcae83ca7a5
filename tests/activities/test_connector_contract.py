"""The connector contract, checked over every discovered connector (a new connector is checked without
editing this file): what the framework, the playbooks, the README and the simulator rely on."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from activities import discover_connectors
from core.connector import Connector
from core.settings import ROOT
from tests.helpers.config import example_assets

CONNECTORS = discover_connectors()
SECRET_NAME = re.compile(r"(password|secret|token|api_?key|license_key)$")


def _annotation_types(annotation: Any) -> set[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return set(typing.get_args(annotation)) - {type(None)}
    return {annotation}


def test_every_connector_folder_is_discovered():
    folders = {p.name for p in (ROOT / "activities").iterdir()
               if p.is_dir() and (p / "__init__.py").exists() and not p.name.startswith("_")}
    assert folders == set(CONNECTORS), "every activities/<name>/ package must define CONNECTOR"
    assert len(CONNECTORS) == 8


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_connector_declares_what_the_framework_relies_on(name: str):
    c: Connector[Any, Any] = CONNECTORS[name]
    assert "test connectivity" in c.actions and c.actions["test connectivity"].read_only
    assert c.app and c.title and inspect.getdoc(c.module), f"{name}: app, title and a module docstring"
    for spec in c.actions.values():
        where = f"{name} '{spec.name}'"
        assert isinstance(spec.read_only, bool) and isinstance(spec.high_impact, bool), where
        assert not (spec.read_only and spec.high_impact), f"{where}: a high-impact action changes something"
        assert spec.description.strip(), f"{where}: docstring"
        assert spec.timeout.total_seconds() > 0 and spec.budget >= spec.timeout, f"{where}: timeout and budget"
        if spec.target is not None:
            assert spec.target in spec.params.model_fields, f"{where}: target {spec.target!r} is a parameter"
        assert inspect.iscoroutinefunction(spec.fn), where
    # Side-effecting actions exist only where the connector acts; lookups never claim to change things.
    for spec in c.actions.values():
        if re.match(r"(lookup|get|list|query|url|ip|domain|file|whois|geolocate|test)\b", spec.name):
            assert spec.read_only, f"{name} '{spec.name}' reads: declare read_only=True"


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_secrets_are_secretstr(name: str):
    model = CONNECTORS[name].config_model
    secret_fields = [f for f in model.model_fields if SECRET_NAME.search(f)]
    assert secret_fields or name in ("whois", "maxmind"), f"{name}: where is its credential?"
    for f in secret_fields:
        assert _annotation_types(model.model_fields[f].annotation) == {SecretStr}, \
            f"{name}.{f} holds a secret: type it SecretStr so it never prints"
    # and nothing secret-looking is a plain str under another name
    plain = [f for f, info in model.model_fields.items()
             if "secret" in (info.description or "").lower() and SecretStr not in _annotation_types(info.annotation)]
    assert plain == [], f"{name}: fields described as secret but not SecretStr: {plain}"


@pytest.mark.parametrize("name", sorted(CONNECTORS))
def test_readme_documents_every_action(name: str):
    c = CONNECTORS[name]
    readme = Path(c.module.__file__ or "").parent / "README.md"
    assert readme.is_file(), f"activities/{name}/README.md"
    text = readme.read_text(encoding="utf-8").lower()
    missing = [a for a in c.actions if a not in text]
    assert missing == [], f"activities/{name}/README.md does not mention {missing}"


def test_shipped_assets_cover_every_connector():
    shipped = json.loads((ROOT / "config" / "assets.json").read_text())
    apps = {a["app"] for a in shipped}
    for c in CONNECTORS.values():
        assert set(c.app_names) & apps, f"config/assets.json has no {c.app} asset (the simulator default)"


@pytest.mark.parametrize("name", sorted(CONNECTORS))
async def test_test_connectivity_passes_against_the_simulator(name, connector_runner, simulator_server):
    c = CONNECTORS[name]
    assets = example_assets(simulator_server.url, simulator_server.app.state.ldap.port)
    asset = next(a.get("asset_name") or a["name"] for a in assets if a["app"] in c.app_names)
    run = connector_runner(c, lambda: assets, asset)
    r = await run("test connectivity")
    assert r.status == "success", f"{name}: {r.message}"
    assert r.message
