"""deploy/register-search-attributes.sh (the compose stack's temporal-admin-tools job), run for real:
the venv's `temporal` CLI against the Temporal dev server, with the job's environment from
docker-compose.yml."""

from __future__ import annotations

import asyncio
import os

import pytest
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.testing import WorkflowEnvironment

from core.temporal import SEARCH_ATTRIBUTES, dev_server_path
from tests.ops.compose_file import SCRIPT, SERVICES, environment, resolve


async def run_script(env: dict[str, str], limit_s: float = 120) -> tuple[int, str]:
    """Run deploy/register-search-attributes.sh with the venv's `temporal` CLI first on PATH."""
    full = {"PATH": f"{dev_server_path().parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": os.environ.get("HOME", "/tmp"), **env}
    proc = await asyncio.create_subprocess_exec("sh", str(SCRIPT), env=full, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), limit_s)
    return proc.returncode or 0, out.decode()


def job_env(dev_env: WorkflowEnvironment, namespace: str) -> dict[str, str]:
    """The job's environment from docker-compose.yml, pointed at the dev server and `namespace`."""
    env = {k: resolve(v) for k, v in environment(SERVICES["temporal-admin-tools"]).items()}
    env.update(TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
               TEMPORAL_NAMESPACE=namespace, NAMESPACE_WAIT_SECONDS="0", HEALTH_WAIT_SECONDS="10")
    return env


async def test_job_creates_namespace_and_attributes_and_is_idempotent(dev_env: WorkflowEnvironment) -> None:
    ns = f"compose-{os.urandom(4).hex()}"
    code, out = await run_script(job_env(dev_env, ns))
    assert code == 0, out
    assert f"namespace {ns} not found; creating it" in out

    client = dev_env.client
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
    for key in SEARCH_ATTRIBUTES:
        assert listed.custom_attributes.get(key.name) == int(key.indexed_value_type), key.name
    described = await client.workflow_service.describe_namespace(DescribeNamespaceRequest(namespace=ns))
    assert described.config.workflow_execution_retention_ttl.ToSeconds() == 30 * 24 * 3600

    code, out = await run_script(job_env(dev_env, ns))  # every `docker compose up` runs it again
    assert code == 0, out
    assert out.count("already registered") == len(SEARCH_ATTRIBUTES)
    assert "created" not in out


async def test_job_refuses_a_type_clash(dev_env: WorkflowEnvironment) -> None:
    ns = f"compose-{os.urandom(4).hex()}"
    env = job_env(dev_env, ns) | {"SEARCH_ATTRIBUTES": "SoarLabel=Keyword"}
    assert (await run_script(env))[0] == 0
    code, out = await run_script(env | {"SEARCH_ATTRIBUTES": "SoarLabel=Bool"})
    assert code != 0
    assert "SoarLabel is registered as Keyword, not Bool" in out


@pytest.mark.parametrize("pairs", ["SoarLabel", "=Keyword", "SoarLabel=", "SoarKind=Keyword SoarLabel"])
async def test_job_rejects_malformed_pairs_before_touching_the_server(pairs: str) -> None:
    env = {"SEARCH_ATTRIBUTES": pairs, "TEMPORAL_ADDRESS": "127.0.0.1:1", "HEALTH_WAIT_SECONDS": "60"}
    code, out = await run_script(env, limit_s=10)
    assert code != 0 and "malformed pair" in out and "not serving" not in out


async def test_job_fails_when_temporal_never_serves() -> None:
    env = {k: resolve(v) for k, v in environment(SERVICES["temporal-admin-tools"]).items()}
    env.update(TEMPORAL_ADDRESS="127.0.0.1:1", HEALTH_WAIT_SECONDS="2")
    code, out = await run_script(env, limit_s=60)
    assert code != 0
    assert "Temporal at 127.0.0.1:1 is not serving after 2s" in out
