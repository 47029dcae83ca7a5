"""The stack under test, as separate processes like production: Temporal dev server (SQLite file in a temp
dir), vendor simulator, worker (`python worker.py`), API (uvicorn) and the baseline worker.

Every process runs in its own session; stopping it signals that process group, by the pid started here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from cli.serve import dev_server_command
from core.settings import ROOT
from core.temporal import dev_server_dynamic_config_args
from simulator.credentials import DEMO_ENV

PLAYBOOK_QUEUE = "bench-playbooks"
BASELINE_QUEUE = "bench-baseline"
RL_ASSET = "virustotal_rl"          # rate_limit 60/min
RL_CACHED_ASSET = "virustotal_rl_cached"  # rate_limit 60/min + cache_ttl_s
RL_PER_MINUTE = 60
QUOTA_ASSET = "virustotal_4pm"  # the brief's VirusTotal public tier: 4 requests per minute (see `quota_per_minute`)
QUOTA_PER_MINUTE = 4
PRIORITY_LABEL = "bench-priority"  # alerts of this label run bench/phantom/bench_priority_lookup.py (scenario 5)


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    """Something accepts connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS / VmHWM (kB) of a process, from /proc."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (threads included), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores, every process), from /proc/stat."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return (sum(f[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Proc:
    """One child process with its log file."""

    def __init__(self, name: str, cmd: list[str], log: Path, env: dict[str, str],
                 ready: Callable[[], bool], timeout: float = 90.0) -> None:
        self.name, self.cmd, self.log, self.env, self.ready, self.timeout = name, cmd, log, env, ready, timeout
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self.popen is not None
        return self.popen.pid

    def start(self) -> Proc:
        """Start and wait until ready.

        Raises:
            RuntimeError: it exited or was not ready in time (with the tail of its log).
        """
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True)
        t0 = time.monotonic()
        while not self.ready():
            if self.popen.poll() is not None or time.monotonic() - t0 > self.timeout:
                self.stop()
                tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"{self.name} did not start (log {self.log}):\n{tail}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM the process group, SIGKILL after `timeout`."""
        p = self.popen
        if p is None or p.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                return
            try:
                p.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def log_has(self, text: bytes) -> bool:
        """The log contains `text`."""
        try:
            return text in self.log.read_bytes()
        except OSError:
            return False


class Stack:
    """Start/stop the whole system; knows its addresses, files and process ids."""

    def __init__(self, keep: bool = False, profile: bool = False, variant: str | None = None,
                 server_config: bool = True, extra_env: dict[str, str] | None = None,
                 quota_per_minute: int = QUOTA_PER_MINUTE) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="soar-bench-"))
        self.keep, self.profile, self.variant = keep, profile, variant
        self.server_config = server_config  # False: the dev server without SERVER_DYNAMIC_CONFIG (A/B only)
        self.extra_env = extra_env or {}  # SOAR_* settings of the worker and API for this run
        self.quota_per_minute = quota_per_minute  # the rate_limit of QUOTA_ASSET (4: the VirusTotal public tier)
        self.temporal_port, self.sim_port, self.api_port = free_port(), free_port(), free_port()
        self.procs: dict[str, Proc] = {}

    @property
    def address(self) -> str:
        """Temporal gRPC host:port."""
        return f"127.0.0.1:{self.temporal_port}"

    @property
    def sim_url(self) -> str:
        """Simulator base URL."""
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def api_url(self) -> str:
        """API base URL."""
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """Environment of the worker and API: SOAR_* settings plus the simulator's demo secrets."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOAR_")}
        env.update(DEMO_ENV)
        env.update({
            "SOAR_TEMPORAL_ADDRESS": self.address,
            "SOAR_ASSETS_FILE": str(self.assets_file),
            "SOAR_TRIGGERS_FILE": str(self.triggers_file),
            "SOAR_USERS_FILE": str(self.dir / "users.json"),
            "SOAR_DEV_MODE": "1",  # the demo tokens (bench/common.py), as `soar dev` accepts them
            "SOAR_PLAYBOOK_TASK_QUEUE": PLAYBOOK_QUEUE,
            "SOAR_DATA_DIR": str(self.dir / "data"),
            "SOAR_API_URL": self.api_url,  # the worker's prompt hints (api/prompt_feed.py)
            "SOAR_PHANTOM_PLAYBOOKS_DIR": str(ROOT / "bench" / "phantom"),  # the bench-only playbooks
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    @property
    def assets_file(self) -> Path:
        """config/assets.json moved to the simulator, plus the two rate-limited VirusTotal assets."""
        return self.dir / "assets.json"

    @property
    def triggers_file(self) -> Path:
        """config/triggers.json plus the bench trigger: label `PRIORITY_LABEL` runs bench_priority_lookup."""
        return self.dir / "triggers.json"

    def write_triggers(self) -> None:
        """Write the triggers file (the API predicts matches from it, so a bench alert can be POSTed)."""
        triggers: list[dict[str, Any]] = json.loads((ROOT / "config" / "triggers.json").read_text())
        triggers.append({"playbook_name": "bench_priority_lookup", "active": True, "run_as": "automation_user",
                         "trigger": {"type": "event_created", "conditions": {"label": [PRIORITY_LABEL]}}})
        self.triggers_file.write_text(json.dumps(triggers, indent=2))

    def write_assets(self, cache_ttl_s: float) -> None:
        """Write the assets file (before the worker starts: it builds one queue per rate-limited asset)."""
        assets: list[dict[str, Any]] = json.loads((ROOT / "config" / "assets.json").read_text())
        for a in assets:
            base = a["configuration"].get("base_url")
            if base:
                a["configuration"]["base_url"] = base.replace("http://127.0.0.1:8100", self.sim_url)
        vt = next(a for a in assets if a["asset_name"] == "virustotal")
        limited = {**vt["configuration"], "rate_limit": True, "max_requests_per_minute": RL_PER_MINUTE}
        assets.append({**vt, "asset_name": RL_ASSET, "configuration": limited})
        assets.append({**vt, "asset_name": RL_CACHED_ASSET,
                       "configuration": {**limited, "cache_ttl_s": cache_ttl_s}})
        assets.append({**vt, "asset_name": QUOTA_ASSET,
                       "configuration": {**limited, "max_requests_per_minute": self.quota_per_minute}})
        self.assets_file.write_text(json.dumps(assets, indent=2))

    def start(self) -> Stack:
        """Dev server, simulator, worker, API (in that order)."""
        from core.approvals import init_keys
        from core.config.users import write_demo_users

        py = sys.executable
        env = self.env()
        self.write_assets(cache_ttl_s=600)
        self.write_triggers()
        write_demo_users(self.dir / "users.json")
        keys = self.dir / "data" / "keys"  # what `soar dev` creates: the API signs answers, the worker verifies
        init_keys(keys / "approval-signing.key", keys / "approval-public-keys.json", "k1")
        ui_port = free_port()
        server = dev_server_command(self.dir / "temporal.db", self.temporal_port, ui_port)
        if not self.server_config:
            extra = dev_server_dynamic_config_args()
            server = [a for i, a in enumerate(server) if a not in extra[1::2] and a != "--dynamic-config-value"]
        self._add(Proc("temporal", [*server, "--headless"], self.dir / "temporal.log", env,
                       lambda: port_open(self.temporal_port)))
        self._add(Proc("simulator", [py, "-m", "uvicorn", "simulator.app:create_app", "--factory", "--host",
                                     "127.0.0.1", "--port", str(self.sim_port), "--log-level", "warning",
                                     "--no-access-log"],
                       self.dir / "simulator.log", env, lambda: port_open(self.sim_port)))
        cmd = [py, "worker.py"] if not self.variant else [py, "-m", "bench.variant_worker", self.variant]
        worker = Proc("worker", cmd, self.dir / "worker.log", env, lambda: False)
        worker.ready = lambda: worker.log_has(b'"worker started"')
        self._add(worker)
        self._add(Proc("api", [py, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
                               "--port", str(self.api_port), "--log-level", "warning", "--no-access-log"],
                       self.dir / "api.log", env, self._api_ready))
        return self

    def start_baseline_worker(self) -> Proc:
        """The baseline's own worker process (its own workflow class and task queue)."""
        env = self.env()
        cmd = [sys.executable, "-m", "bench.baseline_worker", "--address", self.address, "--task-queue", BASELINE_QUEUE]
        p = Proc("baseline-worker", cmd, self.dir / "baseline-worker.log", env, lambda: False)
        p.ready = lambda: p.log_has(b"baseline worker started")
        return self._add(p)

    def stop_proc(self, name: str) -> None:
        """Stop one process and forget it."""
        p = self.procs.pop(name, None)
        if p is not None:
            p.stop()

    def _add(self, p: Proc) -> Proc:
        self.procs[p.name] = p.start()
        return p

    def _api_ready(self) -> bool:
        try:
            return httpx.get(f"{self.api_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def pid(self, name: str) -> int:
        """Pid of a running process."""
        return self.procs[name].pid

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by every process (and this one, the load generator)."""
        out = {name: cpu_seconds(p.pid) for name, p in self.procs.items()}
        out["bench-client"] = cpu_seconds(os.getpid())
        out["machine"] = machine_busy_seconds()
        return out

    def stop(self) -> None:
        """Stop everything (reverse start order) and remove the temp dir unless asked to keep it."""
        for name in reversed(list(self.procs)):
            self.procs[name].stop()
        self.procs.clear()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
