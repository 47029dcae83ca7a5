"""The README says what the code does: its connector tables are the connectors' declarations."""

from __future__ import annotations

import subprocess
import sys

from activities import discover_connectors
from activities.catalogue import connector_tables, replace_tables
from core.settings import ROOT


def test_connector_tables_match_the_declarations():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert replace_tables(readme, connector_tables(discover_connectors())) == readme, \
        "README connector tables are stale: run `soar docs connectors --write README.md`"
    for c in discover_connectors().values():
        for spec in c.actions.values():
            assert f"| {spec.name}" in readme, spec.name


def test_docs_check_command_reports_stale_tables(tmp_path):
    stale = tmp_path / "README.md"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale.write_text(readme.replace("| ip reputation (also: lookup ip) |", "| ip reputation |"), encoding="utf-8")
    soar = [sys.executable, "-m", "cli.main", "docs", "connectors"]
    r = subprocess.run([*soar, "--check", str(stale)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 1 and "out of date" in r.stderr
    r = subprocess.run([*soar, "--write", str(stale)], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 0 and stale.read_text(encoding="utf-8") == readme
    r = subprocess.run([*soar, "--check", str(tmp_path / "missing.md")], capture_output=True, text=True, cwd=ROOT,
                       timeout=60)
    assert r.returncode == 2 and "missing.md" in r.stderr
