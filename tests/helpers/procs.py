"""Real processes for reliability tests: the Temporal dev server, the worker and the API as subprocesses
that a test can kill -9, terminate and restart.

Each process runs in its own session (process group), so `kill()` reaches it and only it; every stop is
by the pid this module started. Output goes to a log file whose tail is shown when a process fails to
come up.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from cli.serve import dev_server_command
from core.settings import ROOT, get_settings
from simulator.credentials import DEMO_ENV
from tests.helpers.servers import free_port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(pred: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> float:
    """Poll `pred` until it holds; returns the seconds it took.

    Raises:
        TimeoutError: `pred` did not hold within `timeout` seconds (the message says what was awaited).
    """
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"{what}: not reached within {timeout:.0f}s")
        time.sleep(interval)
    return time.monotonic() - start


def soar_env(*, temporal_address: str, assets_file: Path, task_queue: str, data_dir: Path,
             triggers_file: Path | None = None, users_file: Path | None = None) -> dict[str, str]:
    """The environment of a worker/API subprocess: SOAR_* settings plus the simulator's demo secrets."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAR_")}
    env.update(DEMO_ENV)
    env.update({
        "SOAR_TEMPORAL_ADDRESS": temporal_address,
        "SOAR_ASSETS_FILE": str(assets_file),
        "SOAR_TRIGGERS_FILE": str(triggers_file or ROOT / "config" / "triggers.json"),
        "SOAR_USERS_FILE": str(users_file or get_settings().users_file),
        "SOAR_DEV_MODE": "1",
        "SOAR_PLAYBOOK_TASK_QUEUE": task_queue,
        "SOAR_DATA_DIR": str(data_dir),
        "SOAR_LOG_JSON": "true",
        # the session's approval key pair (tests/conftest.py): the API signs, the worker verifies
        "SOAR_APPROVAL_PRIVATE_KEY_FILE": str(get_settings().signing_key_path),
        "SOAR_APPROVAL_PUBLIC_KEYS_FILE": str(get_settings().trusted_keys_path),
        "SOAR_LOG_LEVEL": "INFO",
        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "PYTHONUNBUFFERED": "1",
    })
    return env


class Proc:
    """One child process that can be started, killed (-9), terminated (SIGTERM) and restarted."""

    def __init__(self, name: str, cmd: list[str], *, log: Path, env: dict[str, str] | None = None,
                 cwd: Path = ROOT, ready: Callable[[], bool] | None = None,
                 ready_timeout: float = 60.0) -> None:
        self.name, self.cmd, self.env, self.cwd, self.log = name, cmd, env, cwd, log
        self.ready, self.ready_timeout = ready, ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.last_ready_s = 0.0

    @property
    def pid(self) -> int | None:
        """The pid of the running child (None when never started)."""
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        """The child is running."""
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> Proc:
        """Start and wait until `ready` holds.

        Raises:
            RuntimeError: the process exited or did not become ready (with its log tail).
        """
        assert not self.alive(), f"{self.name} is already running"
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start #{self.starts}: {' '.join(self.cmd)}\n".encode())
            out.flush()
            self.proc = subprocess.Popen(self.cmd, cwd=self.cwd, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        t0 = time.monotonic()
        while self.ready is not None and not self.ready():
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if time.monotonic() - t0 > self.ready_timeout:
                self.kill()
                raise RuntimeError(f"{self.name} not ready within {self.ready_timeout:.0f}s:\n{self.tail()}")
            time.sleep(0.1)
        self.last_ready_s = time.monotonic() - t0
        return self

    def kill(self) -> None:
        """SIGKILL the child's process group (a crash: nothing is drained or flushed)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (graceful stop), SIGKILL when it has not exited within `timeout`; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def restart(self) -> Proc:
        """Start again after a kill or terminate (same command, environment and log)."""
        self.kill()
        return self.start()

    def tail(self, lines: int = 40) -> str:
        """The last lines of the log."""
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_text(self) -> str:
        """The whole log."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class TemporalServer(Proc):
    """`temporal server start-dev --headless` on a free port with a SQLite file: restartable on the same
    file and port, so history survives the restart."""

    def __init__(self, db: Path, log: Path, port: int | None = None) -> None:
        self.db = db
        self.port = port or free_port()
        self.ui_port = free_port()
        super().__init__("temporal", [*dev_server_command(db, self.port, self.ui_port), "--headless"],
                         log=log, ready=lambda: port_open(self.port), ready_timeout=90)

    @property
    def address(self) -> str:
        """host:port for clients."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Proc:
        """Start (waiting for the port to be free again after a stop)."""
        wait_until(lambda: not port_open(self.port), 30, f"port {self.port} released")
        return super().start()


class WorkerProc(Proc):
    """`python worker.py` (the real entry point); ready when it logs "worker started"."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        super().__init__("worker", [sys.executable, "worker.py"], log=log, env=env, ready=self._started,
                         ready_timeout=90)
        self._mark = 0

    def start(self) -> Proc:
        """Start; ready once this start's log says the workers run."""
        self._mark = self.log.stat().st_size if self.log.exists() else 0
        return super().start()

    def _started(self) -> bool:
        with self.log.open("rb") as f:
            f.seek(self._mark)
            return b'"worker started"' in f.read()


class ApiProc(Proc):
    """The API under uvicorn (`api.app:create_app --factory`); ready when /healthz answers."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        cmd = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
               "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        super().__init__("api", cmd, log=log, env=env, ready=self._healthy, ready_timeout=90)

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
