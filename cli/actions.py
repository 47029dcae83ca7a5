"""`soar action run` and `soar asset test|list`: run connector actions outside Temporal, like a manual run.

`soar action run` prints one ActionResult as JSON whatever happens (`status`, `message`, `summary`,
`data`, plus `error` on failure) and retries a transient failure the way the activity does: a 429 waits
the vendor's delay, a 5xx backs off (1 s doubling, at most 30 s), for up to `MAX_ATTEMPTS` attempts and
`MAX_WAIT_S` seconds in all; `--no-retry` gives the first answer.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from core.approvals import SignedApproval
from core.errors import ConfigError, ConnectorError, RetryableError, SoarError
from core.models import ActionInput, ActionResult
from core.settings import get_settings

action_app = typer.Typer(help="Run connector actions.", no_args_is_help=True)
asset_app = typer.Typer(help="Inspect and test assets.", no_args_is_help=True)

MAX_ATTEMPTS = 6
MAX_WAIT_S = 120.0
BACKOFF_MAX_S = 30.0
USAGE_ERRORS = ("ConfigError", "AssetUnavailable", "InvalidParameter", "ApprovalRequired", "ApprovalInvalid")
OPERATOR_CONTAINER = "operator"  # the container id an operator approval (and its action) is bound to


def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise typer.BadParameter(f"--param {p!r} must look like key=value")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


def _store(assets_file: Path | None) -> Any:
    from activities import discover_connectors
    from core.approvals import load_keyring
    from core.runtime import AssetStore

    s = get_settings()
    keyring = load_keyring(s.trusted_keys_path) if s.trusted_keys_path.exists() else None
    return AssetStore.load(assets_file or s.assets_file, discover_connectors(), keyring=keyring)


def operator_approval(asset: Any, spec: Any, params: dict[str, str], approve_as: str,
                      reason: str) -> SignedApproval:
    """Sign an audited operator approval for exactly this action on this target (needs the signing key).

    Raises:
        ConfigError: no signing key on this machine, or no reason given.
    """
    from core.approvals import AuthorizedAction, claims_for, load_signer
    from core.connector import raw_target

    s = get_settings()
    if not reason.strip():
        raise ConfigError("command line", None, "--operator-reason", "an operator approval needs a reason",
                          'add --operator-reason "why this runs without an analyst prompt"')
    target = raw_target(spec, params)
    claims = claims_for(prompt_id="operator", workflow_id="cli", container_id=OPERATOR_CONTAINER,
                        option=f"operator: {reason.strip()[:200]}", kind="operator",
                        actions=[AuthorizedAction(action=spec.name, target=target, connector=asset.connector)],
                        responder=approve_as, roles=["operator"], now=datetime.now(UTC),
                        valid_for=timedelta(minutes=10), source=f"{getpass.getuser()}@{socket.gethostname()}")
    signed = load_signer(s.signing_key_path, s.approval_key_id).sign(claims)
    audit = s.data_dir / "audit" / "operator-approvals.jsonl"
    audit.parent.mkdir(parents=True, exist_ok=True)
    with audit.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"time": claims.issued_at.isoformat(), "kind": "operator_approval",
                            "responder": approve_as, "os_user": claims.source, "asset": asset.asset_name,
                            "action": spec.name, "target": target, "reason": reason.strip()[:1000]}) + "\n")
    typer.echo(f"operator approval by {approve_as} for '{spec.name}' on {target!r} recorded in {audit}", err=True)
    return signed


async def run_action(asset_name: str, action_name: str, params: dict[str, str], assets_file: Path | None,
                     approve_as: str | None = None, retry: bool = True, reason: str = "") -> ActionResult:
    """Run one action on an asset in this process, retrying transient failures unless `retry` is False.

    Raises:
        ConfigError, AssetUnavailable, InvalidParameter, ApprovalRequired, ApprovalInvalid, ConnectorError.
    """
    store = _store(assets_file)
    try:
        asset = store.get(asset_name)
        spec = store.connector_of(asset).find(action_name)
        approval = operator_approval(asset, spec, params, approve_as, reason) if approve_as else None
        inp = ActionInput(asset=asset_name, params=params, approval=approval,
                          container_id=OPERATOR_CONTAINER if approval else None)
        waited, backoff = 0.0, 1.0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return await store.run(spec, inp)  # type: ignore[no-any-return]
            except RetryableError as e:
                delay = e.retry_after.total_seconds() if e.retry_after is not None else backoff
                if not retry or attempt == MAX_ATTEMPTS or waited + delay > MAX_WAIT_S:
                    raise
                typer.echo(f"attempt {attempt}: {e}; retrying in {delay:.0f}s", err=True)
                await asyncio.sleep(delay)
                waited, backoff = waited + delay, min(backoff * 2, BACKOFF_MAX_S)
        raise AssertionError("unreachable")
    finally:
        await store.aclose()


def failed_result(e: SoarError) -> dict[str, Any]:
    """An error as an ActionResult with its `error` type: one shape on every outcome."""
    return {**ActionResult(status="failed", message=str(e)).model_dump(mode="json"), "error": type(e).__name__}


def register(app: typer.Typer) -> None:
    """Attach `action` and `asset` command groups."""

    @action_app.command("run")
    def run(
        asset: str = typer.Argument(..., help="asset_name from the assets file"),
        action: str = typer.Argument(..., help='Action name, e.g. "url reputation" (Splunk app names work too)'),
        param: list[str] = typer.Option([], "--param", "-p", help="key=value (repeatable)"),
        assets: Path = typer.Option(None, "--assets", help="Assets file (default SOAR_ASSETS_FILE)"),
        approve_as: str = typer.Option(None, "--approve-as",
                                       help="Operator approving a high-impact action (audited; needs --operator-reason "
                                            "and the API's signing key on this machine)"),
        operator_reason: str = typer.Option("", "--operator-reason", help="Why this runs without an analyst prompt"),
        no_retry: bool = typer.Option(False, "--no-retry", help="Do not retry 429s and 5xx"),
    ) -> None:
        """Run one action and print its ActionResult as JSON (exit 0 ok, 1 failed, 2 usage/config)."""
        try:
            result = asyncio.run(run_action(asset, action, _parse_params(param), assets, approve_as,
                                            retry=not no_retry, reason=operator_reason))
        except SoarError as e:
            typer.echo(json.dumps(failed_result(e), indent=2))
            raise typer.Exit(2 if type(e).__name__ in USAGE_ERRORS else 1) from None
        # One shape on every outcome (status, message, summary, data; + error on failure): the worker's cache
        # bookkeeping (`cache`) means nothing to a one-off call from the command line.
        typer.echo(result.model_dump_json(indent=2, exclude={"cache"}))
        raise typer.Exit(0 if result.status == "success" else 1)

    @asset_app.command("test")
    def test(
        asset: str = typer.Argument(...),
        assets: Path = typer.Option(None, "--assets"),
    ) -> None:
        """Run `test connectivity` on an asset and say what is wrong."""
        try:
            result = asyncio.run(run_action(asset, "test connectivity", {}, assets, retry=False))
        except ConnectorError as e:
            kind = {"AuthError": "bad credentials or missing scope", "VendorUnavailable": "unreachable",
                    "RateLimited": "rate limited"}.get(type(e).__name__, "failed")
            typer.echo(f"Asset '{asset}': {kind}: {e}", err=True)
            raise typer.Exit(1) from None
        except SoarError as e:
            typer.echo(f"Configuration problem: {e}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"Asset '{asset}': connectivity OK - {result.message}")

    @asset_app.command("list")
    def list_assets(assets: Path = typer.Option(None, "--assets")) -> None:
        """List configured assets (secrets redacted) and the unavailable ones with their reasons."""
        try:
            store = _store(assets)
        except ConfigError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None
        for a in store.assets.values():
            typer.echo(f"{a.asset_name:30} {a.app:30} queue={store.task_queue(a)}")
        for u in store.unavailable.values():
            typer.echo(f"{u.asset_name:30} {u.app[:30]:30} UNAVAILABLE: {u.reason}")
        if store.unavailable:
            print(f"{len(store.unavailable)} asset(s) unavailable; fix them in the assets file", file=sys.stderr)

    app.add_typer(action_app, name="action")
    app.add_typer(asset_app, name="asset")
