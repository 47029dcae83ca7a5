"""docker-compose.yml, .env.example and the deploy/ files, checked without a Docker engine.

The compose file is parsed with PyYAML and `${VAR:-default}` references are resolved to their
defaults, which is what `docker compose up` does with an .env that leaves them unset. When a
`docker compose` v2 binary is on PATH, it validates the file too.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from core.settings import Settings
from core.temporal import SEARCH_ATTRIBUTES, search_attribute_cli_args
from simulator.credentials import DEMO_ENV
from tests.helpers.config import example_assets
from tests.ops.compose_file import (
    COMPOSE,
    COMPOSE_TEXT,
    ROOT,
    SCRIPT,
    SERVICES,
    VAR_REF,
    environment,
    resolve,
    strings,
)

ENV_EXAMPLE = (ROOT / ".env.example").read_text()
APP_SERVICES = ("worker", "api", "simulator")  # built from the Dockerfile
SECRET_NAME = re.compile(r"PASSWORD|PASSWD|PWD|SECRET|KEY|TOKEN|CREDENTIAL", re.IGNORECASE)
# A secret's value must be nothing but a reference, with no literal default.
SECRET_REF = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}]*|:-)?\}$")


COMPOSE_REFS = {m.group(1) for value in strings(COMPOSE) for m in VAR_REF.finditer(value)}


def env_example_names(commented: bool = True) -> dict[str, str]:
    """Variables named in .env.example (`NAME=value`, or `# NAME=value` when `commented`)."""
    pattern = r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$" if commented else r"^()([A-Z][A-Z0-9_]*)=(.*)$"
    return {m.group(2): m.group(3) for m in re.finditer(pattern, ENV_EXAMPLE, re.MULTILINE)}


def test_expected_services_exist() -> None:
    assert set(SERVICES) == {"postgresql", "temporal", "temporal-admin-tools", "temporal-ui", "approval-keys",
                             "worker", "api", "simulator"}
    for name, svc in SERVICES.items():
        assert "image" in svc or "build" in svc, name
        assert "container_name" not in svc, f"{name}: a fixed container_name prevents scaling"


def test_every_image_is_pinned_to_a_version() -> None:
    for name, svc in SERVICES.items():
        if "image" not in svc:
            continue
        image = resolve(svc["image"])
        repo, sep, tag = image.rpartition(":")
        assert sep and repo and "/" not in tag, f"{name}: image {image!r} has no tag"
        assert tag != "latest", f"{name}: image {image!r} uses :latest"
        if "build" not in svc:  # a third-party image: a specific release, not a floating major
            assert re.match(r"^\d+\.\d+(\.\d+)?([-.][\w.-]+)?$", tag), f"{name}: {image!r} is not pinned"


def test_the_stack_uses_postgres_16_and_temporal_1_29() -> None:
    assert re.fullmatch(r"postgres:16\.\d+", SERVICES["postgresql"]["image"])
    assert re.fullmatch(r"temporalio/auto-setup:1\.29\.\d+", SERVICES["temporal"]["image"])
    admin_tools = SERVICES["temporal-admin-tools"]["image"]
    assert re.fullmatch(r"temporalio/admin-tools:1\.29\.\d+(-[\w.-]+)?", admin_tools)
    assert SERVICES["temporal-ui"]["image"].startswith("temporalio/ui:")
    env = environment(SERVICES["temporal"])
    assert env["DB"] == "postgres12"
    assert env["POSTGRES_SEEDS"] == "postgresql"


def test_healthchecks_where_others_wait() -> None:
    def check(name: str) -> str:
        hc = SERVICES[name].get("healthcheck")
        assert hc and hc.get("test"), f"{name} has no healthcheck"
        return " ".join(hc["test"]) if isinstance(hc["test"], list) else hc["test"]

    assert "pg_isready" in check("postgresql")
    assert "temporal operator cluster health" in check("temporal")
    assert "grep -qw SERVING" in check("temporal")  # NOT_SERVING must not pass
    assert "/healthz" in check("api")


def test_depends_on_conditions() -> None:
    def deps(name: str) -> dict[str, str]:
        return {k: v["condition"] for k, v in SERVICES[name].get("depends_on", {}).items()}

    assert deps("temporal") == {"postgresql": "service_healthy"}
    assert deps("temporal-admin-tools") == {"temporal": "service_healthy"}
    assert deps("temporal-ui") == {"temporal": "service_healthy"}
    for app in ("worker", "api"):
        assert deps(app) == {"temporal": "service_healthy",
                             "temporal-admin-tools": "service_completed_successfully",
                             "approval-keys": "service_completed_successfully"}, app
    for name in SERVICES:
        for target, condition in deps(name).items():
            if condition == "service_healthy":
                assert "healthcheck" in SERVICES[target], f"{name} waits for {target}: no healthcheck"
            if condition == "service_completed_successfully":
                assert SERVICES[target].get("restart", "no") == "no", f"{target} must be a one-shot job"


def test_no_secret_literal_in_the_compose_file() -> None:
    for name, svc in SERVICES.items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):  # a *_FILE names where a secret lives
                assert SECRET_REF.match(value), f"{name}: {key} must be a ${{VAR}} reference, not {value!r}"
    for value in DEMO_ENV.values():
        assert value not in COMPOSE_TEXT, "a demo credential is written into docker-compose.yml"
    secret_keys = re.compile(r"^\s*-?\s*[\w-]*(password|passwd|secret|token)[\w-]*\s*[:=]\s*(?!\$\{)\S",
                             re.I | re.M)
    assert not secret_keys.search(COMPOSE_TEXT)


def test_published_ports_bind_to_loopback_by_default() -> None:
    published = 0
    for name, svc in SERVICES.items():
        for port in svc.get("ports", []):
            if isinstance(port, dict):
                host_ip = resolve(str(port.get("host_ip", "")))
            else:
                parts = resolve(str(port)).split(":")
                assert len(parts) == 3, f"{name}: {port!r} publishes on every interface"
                host_ip = parts[0]
            assert host_ip == "127.0.0.1", f"{name}: {port!r} binds to {host_ip!r}"
            published += 1
    assert published >= 4  # temporal, ui, api, simulator
    assert "ports" not in SERVICES["postgresql"], "the database stays on the internal network"
    assert "ports" not in SERVICES["worker"]


def test_api_and_worker_commands() -> None:
    api, worker = SERVICES["api"], SERVICES["worker"]
    assert worker["command"] == ["worker"]
    assert api["command"][:3] == ["api", "--host", "0.0.0.0"]
    assert "8000" in api["command"] and any(resolve(p).endswith(":8000:8000") for p in api["ports"])
    assert int(resolve(str(worker["deploy"]["replicas"]))) == 2
    assert "${WORKER_REPLICAS" in str(worker["deploy"]["replicas"])
    for app in ("worker", "api"):
        assert SERVICES[app]["env_file"] == [".env"]
        assert SERVICES[app]["build"] == "."
        assert environment(SERVICES[app])["SOAR_TEMPORAL_ADDRESS"] == "temporal:7233"


def test_service_commands_exist_in_the_cli() -> None:
    from cli.main import app

    runner = CliRunner()
    for name in APP_SERVICES:
        command = SERVICES[name]["command"]
        result = runner.invoke(app, [*command, "--help"])  # --help is eager: parses, prints, exits
        assert result.exit_code == 0, f"{name}: soar {' '.join(command)} failed to parse: {result.output}"


def test_simulator_only_in_the_demo_profile() -> None:
    assert SERVICES["simulator"]["profiles"] == ["demo"]
    for name, svc in SERVICES.items():
        if name != "simulator":
            assert "profiles" not in svc, f"{name} must start without a profile"
            assert "simulator" not in svc.get("depends_on", {}), f"{name} must not need the simulator"
    assert "env_file" not in SERVICES["simulator"], "the simulator needs no real credentials"


def test_config_is_mounted_read_only_and_mounts_exist() -> None:
    for name, svc in SERVICES.items():
        for volume in svc.get("volumes", []):
            source, target, *mode = resolve(volume).split(":")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
                assert mode == ["ro"], f"{name}: {source} is mounted writable"
            else:
                assert source in COMPOSE["volumes"], f"{name}: unknown volume {source}"
    worker_mounts = [resolve(v) for v in SERVICES["worker"]["volumes"]]
    assert "./config:/app/config:ro" in worker_mounts


def test_soar_variables_in_compose_are_real_settings() -> None:
    fields = {f"SOAR_{name.upper()}" for name in Settings.model_fields}
    for name, svc in SERVICES.items():
        for key in environment(svc):
            if key.startswith("SOAR_"):
                assert key in fields, f"{name}: {key} is not a field of core.settings.Settings"
    for ref in COMPOSE_REFS:
        if ref.startswith("SOAR_"):
            assert ref in fields, ref


def test_admin_tools_registers_every_search_attribute() -> None:
    job = SERVICES["temporal-admin-tools"]
    assert job["entrypoint"] == ["/bin/sh", "/deploy/register-search-attributes.sh"]
    assert "./deploy/register-search-attributes.sh:/deploy/register-search-attributes.sh:ro" in job["volumes"]
    pairs = environment(job)["SEARCH_ATTRIBUTES"].split()
    expected = search_attribute_cli_args()[1::2]  # ["SoarLabel=Keyword", ...]
    assert sorted(pairs) == sorted(expected)
    assert len(expected) == len(SEARCH_ATTRIBUTES)
    assert "temporal operator search-attribute create" in SCRIPT.read_text()
    temporal_env = environment(SERVICES["temporal"])
    assert temporal_env["SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES"] == "true"
    # One namespace and one retention for the server, the job and the apps.
    assert temporal_env["DEFAULT_NAMESPACE"] == environment(job)["TEMPORAL_NAMESPACE"]
    assert temporal_env["DEFAULT_NAMESPACE_RETENTION"] == environment(job)["NAMESPACE_RETENTION"]


def test_ui_codec_endpoint_comes_from_env() -> None:
    env = environment(SERVICES["temporal-ui"])
    assert env["TEMPORAL_CODEC_ENDPOINT"].startswith("${TEMPORAL_CODEC_ENDPOINT")
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_ui_is_read_only_for_workflow_actions() -> None:
    env = environment(SERVICES["temporal-ui"])
    # The switch the UI server enforces (405 on every non-GET it proxies, queries excepted) ...
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    # ... and the per-action ones that hide the buttons (temporalio/ui v2.49.1 server/config/docker.yaml).
    for action in ("WORKFLOW_TERMINATE", "WORKFLOW_CANCEL", "WORKFLOW_SIGNAL", "WORKFLOW_UPDATE", "WORKFLOW_RESET",
                   "WORKFLOW_PAUSE", "BATCH_ACTIONS", "START_WORKFLOW", "ACTIVITY_COMMANDS"):
        assert env[f"TEMPORAL_{action}_DISABLED"] == "true", action
    assert SERVICES["temporal-ui"]["image"] == "temporalio/ui:2.49.1", "re-check the switch names for a new UI"


def test_apps_read_the_guardrails_file_from_the_mounted_config() -> None:
    for app in ("worker", "api"):
        path = environment(SERVICES[app])["SOAR_GUARDRAILS_FILE"]
        assert path == "/app/config/guardrails.json", app
    assert (ROOT / "config" / "guardrails.json").is_file()


def test_dynamic_config_is_mounted_and_valid() -> None:
    env = environment(SERVICES["temporal"])
    target = ":/etc/temporal/config/dynamicconfig:ro"
    mount = next(v for v in SERVICES["temporal"]["volumes"] if v.endswith(target))
    host_dir = ROOT / mount.split(":")[0]
    path = host_dir / Path(env["DYNAMIC_CONFIG_FILE_PATH"]).name
    config = yaml.safe_load(path.read_text())
    assert config["system.enableActivityEagerExecution"] == [{"value": True}]
    for key, entries in config.items():
        assert isinstance(entries, list) and all("value" in e for e in entries), key
    # The compose server matches tasks as the dev server does (severity fair shares on asset queues).
    from core.temporal import SERVER_DYNAMIC_CONFIG
    for key, value in SERVER_DYNAMIC_CONFIG.items():
        assert config.get(key) == [{"value": value}], f"{key} differs between core/temporal.py and {path.name}"


def test_env_example_lists_every_setting() -> None:
    names = env_example_names()
    for field in Settings.model_fields:
        assert f"SOAR_{field.upper()}" in names, f"add SOAR_{field.upper()} (with a comment) to .env.example"
    fields = {f"SOAR_{f.upper()}" for f in Settings.model_fields}
    assert {n for n in names if n.startswith("SOAR_")} <= fields, "stale SOAR_ name in .env.example"
    # Every setting line has a comment right above it (a comment line or another setting's block).
    lines = ENV_EXAMPLE.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^#\s*SOAR_[A-Z_]+=", line):
            assert lines[i - 1].startswith("#"), f"no comment above {line!r}"


def test_env_example_as_dotenv_changes_no_setting() -> None:
    assert Settings(_env_file=ROOT / ".env.example") == Settings(_env_file=None)  # type: ignore[call-arg]


def test_env_example_documents_every_compose_and_asset_variable() -> None:
    names = env_example_names()
    assert {"POSTGRES_PASSWORD", "WORKER_REPLICAS", "TEMPORAL_CODEC_ENDPOINT"} <= COMPOSE_REFS
    for ref in COMPOSE_REFS:
        assert ref in names, f"docker-compose.yml uses ${{{ref}}}; document it in .env.example"
    assets = (ROOT / "config" / "assets.json").read_text()
    for ref in set(re.findall(r'"\$\{([A-Z0-9_]+)\}"', assets)):
        assert ref in names, f"config/assets.json uses ${{{ref}}}; list it in .env.example"


def test_env_example_holds_no_secret_value() -> None:
    secrets = {f"SOAR_{name.upper()}" for name, f in Settings.model_fields.items()
               if "SecretStr" in str(f.annotation)}
    secrets |= set(re.findall(r'"\$\{([A-Z0-9_]+)\}"', (ROOT / "config" / "assets.json").read_text()))
    secrets |= {"POSTGRES_PASSWORD"}
    assert "SOAR_ENCRYPTION_KEY" in secrets and "VT_API_KEY" in secrets
    names = env_example_names()
    for name in secrets:
        assert names.get(name) is not None, name
        assert names[name] == "" or "<" in names[name], f".env.example: {name} must be blank or <placeholder>"


def test_demo_files_match_the_examples() -> None:
    demo = json.loads((ROOT / "deploy" / "demo" / "assets.json").read_text())
    assert demo == example_assets("http://simulator:8100"), (
        "deploy/demo/assets.json is out of date; regenerate it with: .venv/bin/python -c \"import json; "
        "from tests.helpers.config import example_assets; "
        "print(json.dumps(example_assets('http://simulator:8100'), indent=2))\" > deploy/demo/assets.json")
    demo_text = (ROOT / "deploy" / "demo" / "demo.env").read_text()
    demo_env = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", demo_text, re.M))
    assert demo_env.pop("ASSETS_FILE") == "/app/demo/assets.json"
    assert demo_env.pop("COMPOSE_PROFILES") == "demo"
    assert (demo_env.pop("USERS_FILE"), demo_env.pop("SOAR_DEV_MODE")) == ("/app/demo/users.json", "1")
    assert demo_env == DEMO_ENV
    from core.config.users import DEMO_USERS, hash_token, load_users
    users = load_users(ROOT / "deploy" / "demo" / "users.json", dev_mode=True)
    assert {(u.name, hash_token(t)) for u, (_, _, t) in zip(users.users, DEMO_USERS, strict=True)} == {
        (u.name, u.token_sha256) for u in users.users}, "deploy/demo/users.json: the demo users of core/config/users.py"
    assert any(resolve(v).startswith("./deploy/demo:/app/demo") for v in SERVICES["worker"]["volumes"])


def compose_v2() -> list[str] | None:
    """A Docker Compose v2 command: `docker compose`, or a v2 `docker-compose` on PATH or in the venv."""
    venv_compose = Path(sys.executable).parent / "docker-compose"
    for cmd in (["docker", "compose"], ["docker-compose"], [str(venv_compose)]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True, timeout=30)
        if probe.returncode == 0 and "version v2" in probe.stdout:
            return cmd
    return None


COMPOSE_V2 = compose_v2()


@pytest.mark.skipif(COMPOSE_V2 is None, reason="no Docker Compose v2 binary on PATH")
@pytest.mark.parametrize("demo", [False, True], ids=["default", "demo"])
def test_docker_compose_config_accepts_the_stack(tmp_path: Path, demo: bool) -> None:
    assert COMPOSE_V2 is not None
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("deploy", "config"):
        shutil.copytree(ROOT / name, tmp_path / name)
    dotenv = ENV_EXAMPLE.replace("\nPOSTGRES_PASSWORD=\n", "\nPOSTGRES_PASSWORD=only-for-this-test\n")
    if demo:
        dotenv += (ROOT / "deploy" / "demo" / "demo.env").read_text()
    (tmp_path / ".env").write_text(dotenv)
    result = subprocess.run([*COMPOSE_V2, "config", "--format", "json"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    services = config["services"]
    assert ("simulator" in services) is demo
    assert services["worker"]["deploy"]["replicas"] == 2
    for svc in services.values():
        for port in svc.get("ports", []):
            assert port["host_ip"] == "127.0.0.1"
    worker_env = services["worker"]["environment"]
    assert worker_env["SOAR_ASSETS_FILE"] == ("/app/demo/assets.json" if demo else "/app/config/assets.json")
    if demo:
        assert worker_env["VT_API_KEY"] == DEMO_ENV["VT_API_KEY"]



def test_only_the_api_mounts_the_approval_signing_key() -> None:
    def mounts(name: str) -> dict[str, str]:
        out = {}
        for v in SERVICES[name].get("volumes", []):
            source, target, *mode = resolve(v).split(":")
            out[source] = target + (":" + mode[0] if mode else "")
        return out

    assert mounts("api")["approval-private"] == "/keys/private:ro"
    assert mounts("api")["approval-public"] == mounts("worker")["approval-public"] == "/keys/public:ro"
    assert "approval-private" not in mounts("worker")
    keys = SERVICES["approval-keys"]
    assert keys["command"] == ["keys", "init"] and keys.get("restart") == "no"
    env = environment(keys)
    assert env["SOAR_APPROVAL_PRIVATE_KEY_FILE"].startswith("/keys/private/")
    assert env["SOAR_APPROVAL_PUBLIC_KEYS_FILE"] == environment(SERVICES["worker"])["SOAR_APPROVAL_PUBLIC_KEYS_FILE"]
