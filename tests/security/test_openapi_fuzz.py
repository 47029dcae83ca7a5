"""Property-based fuzzing of every operation of the OpenAPI description (schemathesis 4) against the real
API over HTTP, with an admin token so generated input reaches each route's own validation: no 5xx.

The API runs in a Temporal namespace of its own on the session dev server, so the containers the fuzzer
creates (no worker runs them) never appear in other tests' listings, counts or secret scans.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from core.settings import Settings
from tests.helpers.config import example_assets, write_assets
from tests.helpers.namespaces import own_namespace
from tests.helpers.procs import WorkerProc, soar_env
from tests.helpers.servers import ServerThread
from tests.security.conftest import EXTRA_TOKENS, KEY_B64, KEY_ID, enc_settings, write_users

# Raw emails are text on the wire (POST /api/v1/ingest/email takes message/rfc822).
schemathesis.serializer.alias("message/rfc822", "text/plain")

MAX_EXAMPLES = 12  # per operation; the whole module stays well under two minutes
HEADERS = {"Authorization": f"Bearer {EXTRA_TOKENS['admin']}"}


@pytest.fixture(scope="module")
async def fuzz_namespace(dev_env: WorkflowEnvironment) -> str:
    return await own_namespace(dev_env)


@pytest.fixture(scope="module")
def live_api(dev_env: WorkflowEnvironment, fuzz_namespace: str, simulator_server: ServerThread,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real API on a loopback port (it connects its own Temporal client, in its own loop)."""
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    address, queue = dev_env.client.service_client.config.target_host, f"fuzz-{uuid.uuid4().hex[:8]}"
    assets = write_assets(tmp / "assets.json", example_assets(simulator_server.url))
    s = enc_settings(Settings(), temporal_address=address, temporal_namespace=fuzz_namespace,
                     users_file=write_users(tmp / "users.json"), assets_file=assets, data_dir=tmp / "data",
                     playbook_task_queue=queue)
    # a real worker in the namespace: the asset routes ask one (the API holds no vendor secret)
    env = soar_env(temporal_address=address, assets_file=assets, task_queue=queue, data_dir=tmp / "data") | {
        "SOAR_TEMPORAL_NAMESPACE": fuzz_namespace, "SOAR_ENCRYPTION_KEY": KEY_B64, "SOAR_ENCRYPTION_KEY_ID": KEY_ID}
    worker = WorkerProc(env, tmp / "worker.log").start()
    srv = ServerThread(create_app(s)).start()  # encryption on: the codec routes do real work
    try:
        yield srv.url
    finally:
        srv.stop()
        worker.terminate()


# The description is read from the app at collection (one test per operation); requests go over HTTP to
# `live_api`. (`schemathesis.pytest.from_fixture` would load it from the live server, but schemathesis
# 4.32 sets `request.node._nodeid`, which pytest 9 no longer has.)
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error(case: schemathesis.Case, live_api: str) -> None:
    """Any input the schema allows (and near misses) gets a 2xx/4xx, never a 5xx."""
    case.call_and_validate(base_url=live_api, headers=HEADERS, checks=[not_a_server_error], timeout=30)
