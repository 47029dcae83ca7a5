"""`soar action run` and `soar asset test`: run connector actions outside Temporal, like a manual run."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from core.errors import ApprovalRequired, ConfigError, ConnectorError, InvalidParameter, SoarError
from core.models import ActionInput, ActionResult, Approval
from core.settings import get_settings

action_app = typer.Typer(help="Run connector actions.", no_args_is_help=True)
asset_app = typer.Typer(help="Inspect and test assets.", no_args_is_help=True)


def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise typer.BadParameter(f"--param {p!r} must look like key=value")
        k, v = p.split("=", 1)
        out[k.strip()] = v
    return out


async def run_action(asset_name: str, action_name: str, params: dict[str, str], assets_file: Path | None,
                     approve_as: str | None = None) -> ActionResult:
    """Run one action on an asset in this process.

    Raises:
        ConfigError, InvalidParameter, ApprovalRequired, ConnectorError.
    """
    from core.runtime import AssetStore

    s = get_settings()
    store = AssetStore.from_file(assets_file or s.assets_file)
    asset = store.get(asset_name)
    connector = store.connectors[asset.connector]
    spec = connector.find(action_name)
    approval = None
    if approve_as:
        approval = Approval(prompt_id="cli", responder=approve_as, option="manual run",
                            approved_at=datetime.now(UTC))
    try:
        return await store.run(connector, spec, ActionInput(asset=asset_name, params=params, approval=approval))
    finally:
        client = store.state(asset_name).get("client")
        if client is not None and hasattr(client, "aclose"):
            await client.aclose()


def _emit_error(e: SoarError, code: int) -> None:
    typer.echo(json.dumps({"status": "failed", "error": type(e).__name__, "message": str(e)}, indent=2))
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Attach `action` and `asset` command groups."""

    @action_app.command("run")
    def run(
        asset: str = typer.Argument(..., help="asset_name from the assets file"),
        action: str = typer.Argument(..., help='Action name, e.g. "url reputation"'),
        param: list[str] = typer.Option([], "--param", "-p", help="key=value (repeatable)"),
        assets: Path = typer.Option(None, "--assets", help="Assets file (default SOAR_ASSETS_FILE)"),
        approve_as: str = typer.Option(None, "--approve-as", help="Analyst approving a high-impact action"),
    ) -> None:
        """Run one action and print its ActionResult as JSON (exit 0 ok, 1 failed, 2 usage/config)."""
        try:
            result = asyncio.run(run_action(asset, action, _parse_params(param), assets, approve_as))
        except (ConfigError, InvalidParameter, ApprovalRequired) as e:
            _emit_error(e, 2)
        except ConnectorError as e:
            _emit_error(e, 1)
        typer.echo(result.model_dump_json(indent=2))
        raise typer.Exit(0 if result.status == "success" else 1)

    @asset_app.command("test")
    def test(
        asset: str = typer.Argument(...),
        assets: Path = typer.Option(None, "--assets"),
    ) -> None:
        """Run `test connectivity` on an asset and say what is wrong."""
        try:
            result = asyncio.run(run_action(asset, "test connectivity", {}, assets))
        except ConfigError as e:
            typer.echo(f"Configuration problem: {e}", err=True)
            raise typer.Exit(2) from None
        except ConnectorError as e:
            kind = {"AuthError": "bad credentials or missing scope", "VendorUnavailable": "unreachable",
                    "RateLimited": "rate limited"}.get(type(e).__name__, "failed")
            typer.echo(f"Asset '{asset}': {kind}: {e}", err=True)
            raise typer.Exit(1) from None
        typer.echo(f"Asset '{asset}': connectivity OK - {result.message}")

    @asset_app.command("list")
    def list_assets(assets: Path = typer.Option(None, "--assets")) -> None:
        """List configured assets (secrets redacted)."""
        from core.runtime import AssetStore

        try:
            store = AssetStore.from_file(assets or get_settings().assets_file)
        except ConfigError as e:
            typer.echo(str(e), err=True)
            raise typer.Exit(2) from None
        for a in store.assets.values():
            q = store.task_queue(a)
            typer.echo(f"{a.asset_name:30} {a.app:30} queue={q}")

    app.add_typer(action_app, name="action")
    app.add_typer(asset_app, name="asset")
