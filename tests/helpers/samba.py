"""A real Active Directory for the AD connector tests (fixture `samba_dc`, registered in tests/activities/conftest.py): a throw-away Samba AD DC (scripts/samba-dc.sh).

Needs root and the Debian packages samba-ad-dc + samba-ad-provision (.ci/run installs them); the tests that
use `samba_dc` are skipped otherwise. Samba's LDAP ports are fixed (389/636), so the DC gets a loopback
address of its own (127.0.0.2, .3, ... added to `lo` when missing and removed again) and its own /tmp dir.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.settings import ROOT

SCRIPT = ROOT / "scripts" / "samba-dc.sh"
START_LOCK = Path("/tmp/soar-samba-dc.lock")  # serialises "pick a free address + start" across sessions
CANDIDATE_IPS = [f"127.0.0.{n}" for n in range(2, 10)]


@dataclass(frozen=True)
class SambaDC:
    """Where the running DC is and how to log in (the script's defaults)."""

    host: str
    dir: Path
    base_dn: str = "DC=test,DC=local"
    admin_user: str = "Administrator@test.local"
    admin_password: str = "Adm1nPassw0rd!"  # noqa: S105 - throw-away test DC
    test_user: str = "jdoe"
    test_user_password: str = "Us3rPassw0rd!"  # noqa: S105

    @property
    def ca_file(self) -> str:
        """PEM of the DC's self-signed certificate (SAN: the bind IP)."""
        return str(self.dir / "ca.pem")

    @property
    def smb_conf(self) -> str:
        """The DC's smb.conf, for `samba-tool ... -s`."""
        return str(self.dir / "etc" / "smb.conf")


def _port_open(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def _lo_addresses() -> set[str]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True,
                         check=False).stdout
    return {w.split("/")[0] for line in out.splitlines() for w in line.split()[3:4]}


def _pick_bind_ip() -> tuple[str, bool]:
    """A loopback address with nothing on port 389: (address, whether we added it to `lo`)."""
    if os.environ.get("SAMBA_BIND_IP"):
        return os.environ["SAMBA_BIND_IP"], False
    if shutil.which("ip"):
        present = _lo_addresses()
        for ip in CANDIDATE_IPS:
            if _port_open(ip, 389):
                continue
            if ip in present:
                return ip, False
            added = subprocess.run(["ip", "addr", "add", f"{ip}/8", "dev", "lo"], capture_output=True,
                                   check=False).returncode == 0
            if added:
                return ip, True
            break  # cannot add addresses here: fall back to 127.0.0.1
    return "127.0.0.1", False


@pytest.fixture(scope="session")
def samba_dc() -> Iterator[SambaDC]:
    """A provisioned, running Samba AD DC with user jdoe (UAC 512), stopped and deleted at the end."""
    if shutil.which("samba-tool") is None or shutil.which("samba") is None:
        pytest.skip("Samba AD DC not installed (apt-get install samba-ad-dc samba-ad-provision)")
    if os.geteuid() != 0:
        pytest.skip("Samba AD DC provisioning needs root (sysvol ACLs, ports 389/636)")
    dc_dir = Path(f"/tmp/soar-samba-dc-{os.getpid()}")
    ip, added = "127.0.0.1", False
    env = dict(os.environ, SAMBA_DC_DIR=str(dc_dir))
    try:
        with START_LOCK.open("w") as lock:  # released when the file closes
            fcntl.flock(lock, fcntl.LOCK_EX)
            ip, added = _pick_bind_ip()
            env["SAMBA_BIND_IP"] = ip
            started = subprocess.run(["bash", str(SCRIPT), "start"], env=env, stdin=subprocess.DEVNULL,
                                     capture_output=True, text=True, timeout=180, check=False)
        if started.returncode != 0:
            pytest.fail(f"scripts/samba-dc.sh start failed on {ip}:\n{started.stdout}\n{started.stderr}")
        yield SambaDC(host=ip, dir=dc_dir)
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop"], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60, check=False)
        if added:
            subprocess.run(["ip", "addr", "del", f"{ip}/8", "dev", "lo"], capture_output=True, check=False)
