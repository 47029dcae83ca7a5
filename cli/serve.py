"""`soar dev|worker|api|simulator`: run the system."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer

from core.settings import ROOT, Settings, get_settings
from core.temporal import dev_server_dynamic_config_args, dev_server_path, search_attribute_cli_args


def _wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def dev_server_command(db: Path, port: int, ui_port: int, ip: str = "127.0.0.1") -> list[str]:
    """`temporal server start-dev` with our search attributes and a persistent SQLite file."""
    return [str(dev_server_path()), "server", "start-dev", "--db-filename", str(db), "--ip", ip,
            "--port", str(port), "--ui-port", str(ui_port), "--ui-ip", ip, "--log-level", "warn",
            *search_attribute_cli_args(), *dev_server_dynamic_config_args()]


def load_notifications_if_any(s: object) -> None:
    """Validate notifications.json (and resolve its secrets) when there is one.

    Raises:
        ConfigError: naming the channel or route, the field and the fix.
    """
    from core.config.notifications import load_notifications
    from workflows.registry import PLAYBOOKS

    path: Path = s.notifications_file  # type: ignore[attr-defined]
    if path.exists():
        load_notifications(path, PLAYBOOKS).check_secrets()


def _check_config(s: object) -> None:
    """Validate every config file (and the playbooks against them) before starting anything; a problem is
    one clear line, exit 2. An unavailable asset is reported but does not stop the start."""
    from core.config import load_triggers, load_users
    from core.errors import ConfigError
    from worker import load_store
    from workflows.registry import PLAYBOOKS

    try:
        store = load_store(s)  # type: ignore[arg-type]
        load_triggers(s.triggers_file, PLAYBOOKS)  # type: ignore[attr-defined]
        load_users(s.users_file, dev_mode=s.dev_mode)  # type: ignore[attr-defined]
        load_notifications_if_any(s)
        for u in store.unavailable.values():
            typer.echo(f"asset {u.asset_name} is unavailable (its actions will fail): {u.reason}", err=True)
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(2) from None


def _demo_notifications(s: Settings, env: dict[str, str]) -> Settings:
    """Unless notifications are configured, announce prompts on the simulator's Slack, Teams, webhook and SMTP
    sinks (a file in the data directory, its secrets in this stack's environment only)."""
    import json

    from simulator.credentials import demo_notifications, notification_env

    if "SOAR_NOTIFICATIONS_FILE" in os.environ or s.notifications_file.exists():
        return s
    sim_url = f"http://{s.simulator_host}:{s.simulator_port}"
    path = s.data_dir / "dev-notifications.json"
    path.write_text(json.dumps(demo_notifications(sim_url, s.simulator_host, s.simulator_smtp_port), indent=2) + "\n")
    for k, v in notification_env(sim_url).items():
        env.setdefault(k, v)
        os.environ.setdefault(k, v)
    env["SOAR_NOTIFICATIONS_FILE"] = str(path)
    env.setdefault("SOAR_PUBLIC_URL", f"http://{s.api_host}:{s.api_port}")
    return s.model_copy(update={"notifications_file": path})


def register(app: typer.Typer) -> None:
    """Attach the serve commands."""

    @app.command()
    def dev(
        db: Path = typer.Option(None, help="SQLite file of the dev server (default .data/temporal.db)"),
        no_simulator: bool = typer.Option(False, help="Do not start the vendor simulator"),
    ) -> None:
        """Run everything on the embedded default: Temporal dev server + Web UI, worker, API, simulator."""
        from simulator.credentials import DEMO_ENV

        s = get_settings()
        s.data_dir.mkdir(parents=True, exist_ok=True)
        db = db or s.data_dir / "temporal.db"
        env = dict(os.environ)
        for k, v in DEMO_ENV.items():
            env.setdefault(k, v)
            os.environ.setdefault(k, v)
        from core.approvals import init_keys
        from core.config.users import write_demo_users

        init_keys(s.signing_key_path, s.trusted_keys_path, s.approval_key_id)  # dev default
        if "SOAR_USERS_FILE" not in os.environ:  # the demo users (README tokens), for this dev stack only
            users = write_demo_users(s.data_dir / "dev-users.json")
            env["SOAR_USERS_FILE"], env["SOAR_DEV_MODE"] = str(users), "1"
            s = s.model_copy(update={"users_file": users, "dev_mode": True})
        if not no_simulator:
            s = _demo_notifications(s, env)
        _check_config(s)
        env.setdefault("SOAR_TEMPORAL_ADDRESS", f"127.0.0.1:{s.dev_server_port}")
        api_host = "127.0.0.1" if s.api_host in ("0.0.0.0", "::") else s.api_host
        env.setdefault("SOAR_API_URL", f"http://{api_host}:{s.api_port}")  # the worker's prompt hints
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        py = sys.executable
        procs: list[tuple[str, subprocess.Popen[bytes]]] = []

        def start(name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
            p = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
            procs.append((name, p))
            return p

        def stop_all(*_: object) -> None:
            for _name, p in reversed(procs):
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            for _name, p in reversed(procs):
                try:
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()

        def interrupt(*_: object) -> None:
            raise KeyboardInterrupt

        # Explicit for both: a shell that backgrounds `soar dev` may have set SIGINT to "ignore".
        signal.signal(signal.SIGTERM, interrupt)
        signal.signal(signal.SIGINT, interrupt)
        try:
            t = start("temporal", dev_server_command(db, s.dev_server_port, s.dev_server_ui_port))
            if not _wait_port("127.0.0.1", s.dev_server_port, 30, t):
                typer.echo("Temporal dev server did not start; see its output above", err=True)
                raise typer.Exit(1)
            if not no_simulator:
                # `soar simulator`: the HTTP vendors and the Active Directory's LDAPS listener (it is up
                # before the HTTP port opens: the app starts it in its lifespan).
                start("simulator", [py, "-m", "cli.main", "simulator", "--host", s.simulator_host,
                                    "--port", str(s.simulator_port), "--ldap-port", str(s.simulator_ldap_port),
                                    "--smtp-port", str(s.simulator_smtp_port)])
                _wait_port(s.simulator_host, s.simulator_port, 20)
            start("worker", [py, str(ROOT / "worker.py")])
            start("api", [py, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", s.api_host,
                          "--port", str(s.api_port), "--log-level", "warning", "--no-access-log"])
            _wait_port(s.api_host, s.api_port, 30)
            typer.echo(
                "\nSOAR is running:\n"
                f"  Temporal gRPC      127.0.0.1:{s.dev_server_port}\n"
                f"  Temporal Web UI    http://127.0.0.1:{s.dev_server_ui_port}\n"
                f"  API                http://{s.api_host}:{s.api_port}  (docs: /docs)\n"
                f"  Analyst console    http://{s.api_host}:{s.api_port}/console/  (demo token: demo-tier2-token)\n"
                + ("" if no_simulator else f"  Vendor simulator   http://{s.simulator_host}:{s.simulator_port}\n"
                   f"  Active Directory   ldaps://{s.simulator_host}:{s.simulator_ldap_port}  (simulated DC)\n")
                + f"  Workflow history   {db}\nPress Ctrl-C to stop.\n"
            )
            while True:
                for name, p in procs:
                    if p.poll() is not None:
                        typer.echo(f"{name} exited with code {p.returncode}; stopping the rest", err=True)
                        raise typer.Exit(1)
                time.sleep(0.5)
        except KeyboardInterrupt:
            typer.echo("\nstopping ...")
        finally:
            stop_all()

    @app.command()
    def worker() -> None:
        """Run the worker (playbooks and connector actions)."""
        import worker as worker_module

        worker_module.main()

    @app.command()
    def api(host: str = typer.Option(None), port: int = typer.Option(None)) -> None:
        """Run the HTTP API."""
        import uvicorn

        s = get_settings()
        # No access log: the Splunk webhook carries its token in the query string.
        uvicorn.run("api.app:create_app", factory=True, host=host or s.api_host, port=port or s.api_port,
                    access_log=False)

    @app.command()
    def simulator(host: str = typer.Option(None), port: int = typer.Option(None),
                  ldap_port: int = typer.Option(None, help="LDAPS port of the simulated Active Directory "
                                                           "(default SOAR_SIMULATOR_LDAP_PORT, 8636)"),
                  smtp_port: int = typer.Option(None, help="Port of the SMTP sink for e-mail notifications "
                                                           "(default SOAR_SIMULATOR_SMTP_PORT, 8025)")) -> None:
        """Run the vendor simulator: the HTTP vendors, an LDAPS Active Directory and an SMTP sink (loopback by
        default)."""
        import uvicorn

        from simulator.app import create_app

        s = get_settings()
        host = host or s.simulator_host
        app = create_app(ldap_host=host, ldap_port=s.simulator_ldap_port if ldap_port is None else ldap_port,
                         smtp_port=s.simulator_smtp_port if smtp_port is None else smtp_port)
        uvicorn.run(app, host=host, port=port or s.simulator_port, log_level="warning")
