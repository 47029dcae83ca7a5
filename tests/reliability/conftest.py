"""Reliability rig: the Temporal dev server, the worker and (optionally) the API as REAL subprocesses
that tests kill -9, stop and restart, the vendor simulator on a real port, and a Temporal client.

Every process is started by this test and stopped by its pid in the fixture's `finally`.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from temporalio.client import Client

from core.models import Artifact, Container, Severity
from core.settings import Settings
from core.temporal import connect
from tests.conftest import Sim
from tests.helpers.config import example_assets, write_assets
from tests.helpers.procs import ApiProc, TemporalServer, WorkerProc, soar_env
from tests.helpers.stack import Containers
from tests.helpers.wait import assert_eventually
from workflows.messages import ContainerView

MAL_HASH = "deadbeef" + "7" * 56


class Rig(Containers):
    """One isolated SOAR installation made of real processes."""

    def __init__(self, root: Path, sim: Sim, task_queue: str, triggers: list[dict[str, Any]] | None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.sim, self.task_queue = root, sim, task_queue
        self.assets_file = write_assets(root / "assets.json", example_assets(sim.url))
        self.triggers_file: Path | None = None
        if triggers is not None:
            self.triggers_file = root / "triggers.json"
            self.triggers_file.write_text(json.dumps(triggers))
        self.temporal = TemporalServer(root / "temporal.db", root / "temporal.log")
        env = soar_env(temporal_address=self.temporal.address, assets_file=self.assets_file,
                       task_queue=task_queue, data_dir=root / "data", triggers_file=self.triggers_file)
        self.worker = WorkerProc(env, root / "worker.log")
        self.api: ApiProc | None = None
        self._env = env
        self._client: Client | None = None

    async def up(self, *, api: bool = False) -> Rig:
        """Start the dev server, connect, start the worker (and the API)."""
        await asyncio.to_thread(self.temporal.start)
        self._client = await self.connect()
        await asyncio.to_thread(self.worker.start)
        if api:
            self.api = ApiProc(self._env, self.root / "api.log")
            await asyncio.to_thread(self.api.start)
        return self

    async def connect(self, within: float = 60) -> Client:
        """A client of the dev server, retried while it comes up."""
        settings = Settings(temporal_address=self.temporal.address)

        async def attempt() -> Client:
            c = await connect(settings)
            await c.count_workflows("WorkflowType='ContainerWorkflow'")  # namespace + visibility ready
            return c

        return await assert_eventually(attempt, within, f"Temporal at {self.temporal.address}", interval=0.5)  # type: ignore[no-any-return]

    @property
    def client(self) -> Client:
        """The test's Temporal client."""
        assert self._client is not None
        return self._client

    def down(self) -> None:
        """Kill every process this rig started (by pid)."""
        for p in (self.api, self.worker, self.temporal):
            if p is not None:
                p.kill()

    async def wait_for(self, container_id: str, pred: Callable[[ContainerView], Any], timeout: float = 90,
                       what: str = "") -> ContainerView:
        """As `Containers.wait_for`, with the longer default these processes need."""
        return await super().wait_for(container_id, pred, timeout, what)


@pytest_asyncio.fixture
async def make_rig(tmp_path: Path, sim: Sim, task_queue: str) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    """`await make_rig(api=False, triggers=None)` -> a running Rig; every process is killed afterwards."""
    rigs: list[Rig] = []

    async def make(*, api: bool = False, triggers: list[dict[str, Any]] | None = None) -> Rig:
        rig = Rig(tmp_path / f"rig{len(rigs)}", sim, task_queue, triggers)
        rigs.append(rig)
        try:
            await rig.up(api=api)
        except BaseException:
            rig.down()
            raise
        return rig

    try:
        yield make
    finally:
        for r in rigs:
            r.down()


@pytest.fixture
def figures(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]) -> Any:
    """A dict of measured figures, printed (`RELIABILITY {...}`) and recorded as junit properties."""
    out: dict[str, Any] = {}
    t0 = time.monotonic()
    yield out
    out["test_wall_s"] = round(time.monotonic() - t0, 1)
    for k, v in out.items():
        record_property(k, v)
    print(f"\nRELIABILITY {request.node.name} {json.dumps(out, default=str)}")


def tag() -> str:
    """A short unique tag for ids, URLs and labels."""
    return uuid.uuid4().hex[:8]


def phishing(*cefs: dict[str, str], severity: Severity = Severity.MEDIUM,
             label: str = "phishing") -> Container:
    """A reported-phishing container with one artifact per CEF dict."""
    return Container(name="Reported phishing", label=label, severity=severity,
                     source_data_identifier=f"rel-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name=f"a{i}", cef=c) for i, c in enumerate(cefs)])


def edr(host: str, user: str) -> Container:
    """A high-severity EDR detection: the containment decision prompts Tier 2."""
    return Container(name="EDR: credential dumping", label="edr", severity=Severity.HIGH,
                     source_data_identifier=f"rel-edr-{uuid.uuid4().hex}",
                     artifacts=[Artifact(name="endpoint",
                                         cef={"sourceHostName": host, "sourceUserName": user})])


def comments(v: ContainerView) -> list[str]:
    """The container's comment texts."""
    return [c.text for c in v.state.comments]


def runs_done(v: ContainerView) -> bool:
    """Every playbook run of the container has finished."""
    return bool(v.state.runs) and all(r.status != "running" for r in v.state.runs)


def in_flight(sim: Sim, vendor: str) -> int:
    """Requests to `vendor` the simulator has accepted but not yet answered (counted at the gate, logged
    when the response leaves)."""
    st = sim.server.app.state.sim
    return int(st.calls[vendor]) - sum(1 for e in list(st.call_log) if e["vendor"] == vendor)


def call_log(sim: Sim, vendor: str) -> list[dict[str, Any]]:
    """The simulator's answered calls to `vendor` (path, status, time), oldest first."""
    return [e for e in list(sim.server.app.state.sim.call_log) if e["vendor"] == vendor]
