"""`soar dev` (what `make run` runs): every service comes up, Ctrl-C leaves nothing behind, and a second start
keeps the earlier workflows (the SQLite file)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from core.settings import ROOT
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import free_port


def wait_http(url: str, timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return r
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.3)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


def console_inbox(api: str, token: str) -> str:
    """Sign in to the console as a browser would (form nonce, session cookie) and return the inbox page."""
    with httpx.Client(base_url=api, timeout=30) as http:
        form = http.get("/console/sign-in")
        nonce = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert form.status_code == 200 and nonce, form.text[:300]
        r = http.post("/console/sign-in", data={"token": token, "csrf": nonce.group(1), "tz": "UTC"})
        assert r.status_code == 303 and r.headers["location"] == "/console/", r.text[:300]
        inbox = http.get("/console/")
        assert inbox.status_code == 200 and "<h1>Inbox</h1>" in inbox.text, inbox.text[:300]
        return inbox.text


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cli.main", "dev"], cwd=ROOT, env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGINT)
    p.wait(timeout=60)


def test_dev_command_runs_everything_and_stops_cleanly(tmp_path):
    ports = {k: free_port() for k in ("temporal", "ui", "api", "sim", "ldap", "smtp")}
    assets = example_assets(f"http://127.0.0.1:{ports['sim']}", ports["ldap"])
    env = {**os.environ, "SOAR_DATA_DIR": str(tmp_path / "data"),
           "SOAR_DEV_SERVER_PORT": str(ports["temporal"]), "SOAR_DEV_SERVER_UI_PORT": str(ports["ui"]),
           "SOAR_API_PORT": str(ports["api"]), "SOAR_SIMULATOR_PORT": str(ports["sim"]),
           "SOAR_SIMULATOR_LDAP_PORT": str(ports["ldap"]), "SOAR_SIMULATOR_SMTP_PORT": str(ports["smtp"]),
           "SOAR_API_URL": f"http://127.0.0.1:{ports['api']}",
           "SOAR_ASSETS_FILE": str(write_assets(tmp_path / "assets.json", assets)),
           "SOAR_TEMPORAL_ADDRESS": f"127.0.0.1:{ports['temporal']}"}
    env.pop("SOAR_NOTIFICATIONS_FILE", None)  # as on a fresh clone: soar dev announces prompts on the sinks
    log = tmp_path / "dev.log"
    p = start(env, log)
    try:
        api = f"http://127.0.0.1:{ports['api']}"
        wait_http(f"http://127.0.0.1:{ports['ui']}/")
        wait_http(f"{api}/healthz")
        assert wait_http(f"{api}/readyz").json()["status"] == "ready"
        wait_http(f"http://127.0.0.1:{ports['sim']}/healthz")
        # the simulated Active Directory: LDAPS beside the HTTP simulator, and the demo asset reaches it
        assert wait_http(f"http://127.0.0.1:{ports['sim']}/_sim/ldap").json()["port"] == ports["ldap"]
        ad = subprocess.run([sys.executable, "-m", "cli.main", "asset", "test", "active_directory"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60, check=False)
        assert ad.returncode == 0 and "connectivity OK - Bound to dc01.corp.example.com over ldaps" in ad.stdout, (
            ad.stdout + ad.stderr)
        # the console: sign in with the demo tier-2 token and land on the inbox
        assert console_inbox(api, "demo-tier2-token")
        assert wait_http(f"http://127.0.0.1:{ports['sim']}/_sim/smtp").json()["port"] == ports["smtp"]
        assert (tmp_path / "data" / "dev-notifications.json").exists()  # prompts announced on the sinks
        r = httpx.post(f"{api}/api/v1/containers", headers={"ph-auth-token": "demo-automation-token"},
                       json={"name": "dev check", "label": "misc", "source_data_identifier": "dev-check-1"})
        assert r.status_code == 202, r.text
        cid = r.json()["container_id"]
        # a containment prompt: its run's memo (2-3 KB) is under the dev server's memo warning
        edr = httpx.post(f"{api}/api/v1/containers", headers={"ph-auth-token": "demo-automation-token"},
                         json={"name": "EDR detection", "label": "edr", "severity": "high",
                               "source_data_identifier": "dev-check-edr",
                               "artifacts": [{"cef": {"sourceHostName": "WORKSTATION-0D1", "sourceUserName": "jdoe"}}]})
        assert edr.status_code == 202, edr.text
        edr_id = edr.json()["container_id"]

        def prompt_listed() -> bool:
            rows = httpx.get(f"{api}/api/v1/prompts", headers={"ph-auth-token": "demo-tier2-token"}).json()["data"]
            return any(row["container_id"] == edr_id for row in rows)
        deadline = time.monotonic() + 60
        while not prompt_listed():
            assert time.monotonic() < deadline, "no containment prompt listed within 60 s"
            time.sleep(0.5)
    finally:
        stop(p)
    assert p.returncode is not None
    time.sleep(1)
    assert not any(port_open(x) for x in ports.values()), log.read_text()[-2000:]
    assert "exceeds the warning limit" not in log.read_text()  # limit.memoSize.warn (core/temporal.py)
    assert (tmp_path / "data" / "temporal.db").exists()

    p = start(env, log)
    try:
        wait_http(f"{api}/readyz", timeout=90)
        again = httpx.get(f"{api}/api/v1/containers/{cid}", headers={"ph-auth-token": "demo-tier1-token"}, timeout=30)
        assert again.status_code == 200 and again.json()["state"]["container"]["name"] == "dev check"
    finally:
        stop(p)
    time.sleep(1)
    assert not any(port_open(x) for x in ports.values())
