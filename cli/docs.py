"""`soar docs`: documentation generated from the code (the README's connector tables)."""

from __future__ import annotations

from pathlib import Path

import typer

docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach the `docs` command group."""

    @docs_app.command("connectors")
    def docs_connectors(
        write: Path = typer.Option(None, "--write", help="Replace the tables in this README (e.g. README.md)"),
        check: Path = typer.Option(None, "--check", help="Exit 1 when this README's tables are out of date"),
    ) -> None:
        """Print the connector tables generated from the connectors' declarations."""
        from activities import discover_connectors
        from activities.catalogue import connector_tables, replace_tables

        tables = connector_tables(discover_connectors())
        target = write or check
        if target is None:
            typer.echo(tables)
            return
        try:
            old = target.read_text(encoding="utf-8")
            new = replace_tables(old, tables)
        except (OSError, ValueError) as e:
            typer.echo(f"{target}: {e}", err=True)
            raise typer.Exit(2) from None
        if check is not None:
            if new != old:
                typer.echo(f"{target}: the connector tables are out of date; run `soar docs connectors --write "
                           f"{target}`", err=True)
                raise typer.Exit(1)
            return
        target.write_text(new, encoding="utf-8")
        typer.echo(f"{target}: connector tables written")

    app.add_typer(docs_app, name="docs")
