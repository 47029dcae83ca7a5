"""Fixtures for the Phantom engine: the example assets under the asset names the brief's and the community
playbooks use (all pointed at the session simulator), and a Phantom playbook directory of a test's own."""

from __future__ import annotations

import copy
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.models import Artifact, Container, Severity
from core.settings import ROOT, get_settings
from tests.helpers.config import example_assets, write_assets
from workflows.registry import load_phantom_playbooks

HERE = Path(__file__).parent
EXAMPLES = ROOT / "examples" / "phantom"
COMMUNITY = HERE / "community"
STANDINS = HERE / "standins"
collect_ignore = ["community", "standins"]  # playbook files, not tests
# asset name a playbook uses -> the example asset it is (config/assets.json, pointed at the simulator)
ALIASES = {
    "virustotal_prod": "virustotal", "palo_alto_prod": "pan_fw", "servicenow_prod": "servicenow",
    "crowdstrike_prod": "crowdstrike", "ad_prod": "active_directory", "maxmind_prod": "maxmind",
    "whois_prod": "whois",
    # community playbooks (Splunk asset names with a space take `_`: "microsoft ad ldap")
    "virustotal_v3": "virustotal", "virustotalv3": "virustotal", "safe_browsing": "virustotal",
    "ciscoumbrellainvestigate": "virustotal", "microsoft_ad_ldap": "active_directory", "pan": "pan_fw",
    "greynoise": "abuseipdb",
}


def phantom_assets(sim_url: str, ldap_port: int) -> list[dict]:
    """The example assets plus a copy of each under every name in ALIASES."""
    base = {a["asset_name"]: a for a in example_assets(sim_url, ldap_port)}
    out = list(base.values())
    for name, of in ALIASES.items():
        a = copy.deepcopy(base[of])
        a["asset_name"] = name
        out.append(a)
    return out


@pytest.fixture
def phantom_assets_file(tmp_path: Path, simulator_server) -> Path:
    """An assets file with the Phantom playbooks' asset names, pointed at the simulator."""
    return write_assets(tmp_path / "assets.json", phantom_assets(simulator_server.url,
                                                                simulator_server.app.state.ldap.port))


@contextmanager
def phantom_playbooks(directory: Path) -> Iterator[None]:
    """SOAR_PHANTOM_PLAYBOOKS_DIR (what the worker of `run_stack` loads) and the registry on `directory`, and
    back to what they were afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SOAR_PHANTOM_PLAYBOOKS_DIR", str(directory))
        get_settings.cache_clear()
        load_phantom_playbooks(get_settings())
        try:
            yield
        finally:
            mp.undo()
            get_settings.cache_clear()
            load_phantom_playbooks(get_settings())


@pytest.fixture(autouse=True)
def brief_playbooks() -> Iterator[None]:
    """The brief's playbooks (examples/phantom) are the registered Phantom playbooks of these tests; the
    other tests see the default (empty) directory."""
    with phantom_playbooks(EXAMPLES):
        yield


@pytest.fixture
def phantom_dir(tmp_path: Path, brief_playbooks: None) -> Iterator[Path]:
    """A Phantom playbook directory of this test's own (SOAR_PHANTOM_PLAYBOOKS_DIR points at it)."""
    d = tmp_path / "phantom"
    d.mkdir()
    with phantom_playbooks(d):
        yield d


def copy_community(dest: Path, *stems: str, folder: Path = COMMUNITY) -> None:
    """Copy community playbooks (and their JSON metadata) unmodified into `dest`."""
    for stem in stems:
        found = [folder / f"{stem}{suffix}" for suffix in (".py", ".json") if (folder / f"{stem}{suffix}").exists()]
        assert found, f"no playbook {stem} in {folder}"
        for src in found:
            shutil.copyfile(src, dest / src.name)


def container(label: str, *cefs: dict, severity: Severity = Severity.MEDIUM, name: str = "Phantom test") -> Container:
    """A container with one artifact per CEF dict."""
    return Container(name=name, label=label, severity=severity, source_data_identifier=f"ph-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name=f"artifact {i}", cef=c) for i, c in enumerate(cefs, 1)])


def texts(view) -> list[str]:
    """The container's comment texts."""
    return [c.text for c in view.state.comments]


def done(view) -> bool:
    """Every playbook run of the container has finished."""
    return bool(view.state.runs) and all(r.status != "running" for r in view.state.runs)


