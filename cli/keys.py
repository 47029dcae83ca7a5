"""`soar keys init|show`: the approval key pair (the API signs analysts' decisions, workers verify them)."""

from __future__ import annotations

import json

import typer

from core.settings import get_settings

keys_app = typer.Typer(help="Approval signing keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `keys` command group."""

    @keys_app.command("init")
    def init() -> None:
        """Create the signing key (if missing) and add its public key to the trusted keys file."""
        from core.approvals import init_keys

        s = get_settings()
        signer = init_keys(s.signing_key_path, s.trusted_keys_path, s.approval_key_id)
        typer.echo(f"signing key {s.approval_key_id}: {s.signing_key_path} (keep it on the API only)\n"
                   f"trusted public keys: {s.trusted_keys_path} (give this file to every worker)\n"
                   f"public key {signer.kid}: {signer.public_key()}")

    @keys_app.command("show")
    def show() -> None:
        """Print the trusted public keys."""
        s = get_settings()
        try:
            typer.echo(json.dumps(json.loads(s.trusted_keys_path.read_text()), indent=2))
        except (OSError, ValueError) as e:
            typer.echo(f"cannot read {s.trusted_keys_path}: {e}; run `soar keys init`", err=True)
            raise typer.Exit(2) from None

    app.add_typer(keys_app, name="keys")
