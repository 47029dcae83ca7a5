"""`soar`: the one command line (Typer). Subcommands live in sibling modules."""

from __future__ import annotations

import typer

from cli import actions, docs, keys, serve

app = typer.Typer(help="Durable SOAR playbooks on Temporal.", no_args_is_help=True, add_completion=False)
serve.register(app)
actions.register(app)
keys.register(app)
docs.register(app)

try:  # analyst commands arrive with the API
    from cli import analyst

    analyst.register(app)
except ImportError:  # pragma: no cover
    pass

if __name__ == "__main__":
    app()
