"""The simulator app: every vendor module under `simulator/` with a `router` is mounted at its PREFIX.

With `ldap_port`, the app also runs the simulated Active Directory's LDAPS listener
(simulator/active_directory.py) on the same event loop for as long as it serves; `GET /_sim/ldap` says where.
With `smtp_port`, likewise the SMTP sink for e-mail notifications (simulator/smtp_server.py; `GET /_sim/smtp`).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

import simulator
from simulator.active_directory import start_ldap
from simulator.core import Fault, FaultResponse, SimState
from simulator.smtp_server import start_smtp

INFRA_MODULES = {"core", "app", "verdicts", "smtp_server"}


def vendor_modules() -> list[Any]:
    """Every vendor module (it defines `router` and `PREFIX`)."""
    out = []
    for mod in pkgutil.iter_modules(simulator.__path__):
        if mod.name in INFRA_MODULES or mod.name.startswith("_"):
            continue
        m = importlib.import_module(f"simulator.{mod.name}")
        if hasattr(m, "router") and hasattr(m, "PREFIX"):
            out.append(m)
    return out


def create_app(*, ldap_host: str = "127.0.0.1", ldap_port: int | None = None,
               smtp_port: int | None = None) -> FastAPI:
    """Build the simulator with fresh state.

    Args:
        ldap_host: where the LDAPS listener (and the SMTP sink) binds.
        ldap_port: its port (0: any free one, see `app.state.ldap.port`); None: no LDAP listener.
        smtp_port: the SMTP sink's port (0: any free one, see `app.state.smtp.port`); None: none.
    """
    sim = SimState()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ldap = None if ldap_port is None else await start_ldap(sim, ldap_host, ldap_port)
        app.state.smtp = None if smtp_port is None else await start_smtp(sim, ldap_host, smtp_port)
        try:
            yield
        finally:
            if app.state.ldap is not None:
                await app.state.ldap.close()
            if app.state.smtp is not None:
                await app.state.smtp.close()

    app = FastAPI(title="SOAR vendor simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json",
                  lifespan=lifespan)
    app.state.sim = sim
    app.state.ldap = None
    app.state.smtp = None

    @app.exception_handler(FaultResponse)
    async def _fault(_: Request, exc: FaultResponse):  # type: ignore[no-untyped-def]
        return exc.response

    @app.get("/_sim/state")
    async def state(request: Request) -> JSONResponse:
        return JSONResponse(request.app.state.sim.snapshot())

    @app.get("/_sim/calls")
    async def calls(request: Request, vendor: str | None = None) -> JSONResponse:
        """Every call answered so far, in order (vendor, HTTP status, path, time), optionally of one vendor."""
        log = request.app.state.sim.call_log
        return JSONResponse([c for c in log if vendor is None or c["vendor"] == vendor])

    @app.post("/_sim/faults")
    async def add_fault(fault: Fault, request: Request) -> dict[str, str]:
        request.app.state.sim.add_fault(fault)
        return {"status": "queued"}

    @app.post("/_sim/latency")
    async def set_latency(latency: dict[str, float], request: Request) -> dict[str, float]:
        request.app.state.sim.latency_ms.update(latency)
        return request.app.state.sim.latency_ms  # type: ignore[no-any-return]

    @app.post("/_sim/quota")
    async def set_quota(quota: dict[str, int], request: Request) -> dict[str, int]:
        """Per-vendor requests per minute (sliding window); beyond it the vendor answers its own 429."""
        request.app.state.sim.quota_per_minute.update(quota)
        return request.app.state.sim.quota_per_minute  # type: ignore[no-any-return]

    @app.post("/_sim/jobs")
    async def set_job_seconds(seconds: dict[str, float], request: Request) -> dict[str, float]:
        """Per-vendor duration of asynchronous jobs (a PAN-OS commit stays ACT this long, polled or not)."""
        bad = {k: v for k, v in seconds.items() if not 0 <= v <= 3600}
        if bad:
            raise HTTPException(422, f"job seconds must be 0..3600: {bad}")
        request.app.state.sim.job_seconds.update(seconds)
        return request.app.state.sim.job_seconds  # type: ignore[no-any-return]

    @app.post("/_sim/reset")
    async def reset(request: Request) -> dict[str, str]:
        request.app.state.sim.reset()
        return {"status": "reset"}

    @app.get("/_sim/ldap")
    async def ldap(request: Request) -> JSONResponse:
        """The simulated Active Directory's LDAPS endpoint (404 when this simulator runs none)."""
        endpoint = request.app.state.ldap
        if endpoint is None:
            return JSONResponse({"detail": "no LDAP listener (start with `soar simulator`)"}, status_code=404)
        return JSONResponse(endpoint.info())

    @app.get("/_sim/smtp")
    async def smtp(request: Request) -> JSONResponse:
        """The SMTP sink's endpoint and the certificate its STARTTLS presents (404 when none runs)."""
        endpoint = request.app.state.smtp
        if endpoint is None:
            return JSONResponse({"detail": "no SMTP sink (start with `soar simulator`)"}, status_code=404)
        return JSONResponse(endpoint.info())

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    prefixes = []
    for m in vendor_modules():
        app.include_router(m.router, prefix=m.PREFIX)  # type: ignore[attr-defined]
        prefixes.append((m.PREFIX, getattr(m, "VENDOR", m.PREFIX.strip("/"))))  # type: ignore[attr-defined]

    @app.middleware("http")
    async def _record(request: Request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        path = request.url.path
        for prefix, vendor in prefixes:
            if path.startswith(prefix + "/") or path == prefix:
                request.app.state.sim.record(vendor, response.status_code, path)
                break
        return response

    return app
