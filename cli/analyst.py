"""Analyst commands against the API: `soar ingest|prompts|respond|report|metrics`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import typer

from core.settings import get_settings


def _client(token: str | None, api: str | None) -> httpx.Client:
    s = get_settings()
    tok = token or (s.api_token.get_secret_value() if s.api_token else None)
    if not tok:
        typer.echo("No API token: pass --token or set SOAR_API_TOKEN", err=True)
        raise typer.Exit(2)
    return httpx.Client(base_url=api or s.api_url, headers={"Authorization": f"Bearer {tok}"}, timeout=60)


def _check(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail", r.text)
        except ValueError:
            detail = r.text
        typer.echo(f"HTTP {r.status_code}: {detail}", err=True)
        raise typer.Exit(1)
    return r.json() if "json" in r.headers.get("content-type", "") else r.text


def detect_kind(path: Path, head: bytes) -> str:
    """`container`, `splunk` or `email`, from the file's name and first bytes."""
    if path.suffix.lower() in (".eml", ".msg") or not head.lstrip().startswith(b"{"):
        return "email"
    try:
        data = json.loads(path.read_bytes())
    except ValueError:
        return "email"
    if isinstance(data, dict) and "result" in data and ("sid" in data or "search_name" in data):
        return "splunk"
    return "container"


def _table(rows: list[dict[str, Any]], cols: list[tuple[str, str, int]]) -> None:
    typer.echo("  ".join(title.ljust(w) for _, title, w in cols))
    for r in rows:
        typer.echo("  ".join(str(r.get(k, ""))[:w].ljust(w) for k, _, w in cols))


def register(app: typer.Typer) -> None:
    """Attach the analyst commands."""
    token_opt = typer.Option(None, "--token", help="API token (default SOAR_API_TOKEN)")
    api_opt = typer.Option(None, "--api", help="API base URL (default SOAR_API_URL)")

    @app.command()
    def ingest(file: Path, token: str = token_opt, api: str = api_opt) -> None:
        """Ingest a container JSON, a Splunk webhook payload or a raw .eml (detected)."""
        if not file.is_file():
            typer.echo(f"{file}: no such file", err=True)
            raise typer.Exit(2)
        data = file.read_bytes()
        kind = detect_kind(file, data[:64])
        with _client(token, api) as c:
            if kind == "email":
                r = c.post("/api/v1/ingest/email", content=data, headers={"content-type": "message/rfc822"})
            elif kind == "splunk":
                r = c.post("/api/v1/ingest/splunk", content=data, headers={"content-type": "application/json"})
            else:
                r = c.post("/api/v1/containers", content=data, headers={"content-type": "application/json"})
            out = _check(r)
        dup = " (duplicate: existing container)" if out.get("duplicate") else ""
        typer.echo(f"{kind}: container {out['container_id']}{dup}; playbooks: {', '.join(out['playbooks']) or '-'}")

    @app.command()
    def prompts(token: str = token_opt, api: str = api_opt) -> None:
        """List pending analyst prompts."""
        with _client(token, api) as c:
            rows = _check(c.get("/api/v1/prompts"))["data"]
        for r in rows:
            r["options"] = " | ".join(r["options"])
            r["left"] = f"{int(r['time_left_s']) // 60}m{int(r['time_left_s']) % 60:02d}s"
        _table(rows, [("id", "PROMPT ID", 44), ("role", "ROLE", 10), ("left", "LEFT", 7),
                      ("options", "OPTIONS", 50), ("message", "MESSAGE", 60)])

    @app.command()
    def respond(prompt_id: str, option: str, comment: str = typer.Option("", "--comment"),
                token: str = token_opt, api: str = api_opt) -> None:
        """Answer a prompt."""
        with _client(token, api) as c:
            out = _check(c.post(f"/api/v1/prompts/{prompt_id}/response", json={"option": option, "comment": comment}))
        typer.echo(f"Recorded '{out['option']}' for {out['prompt_id']}: {out['next_step']}")

    @app.command()
    def report(container_id: str, as_json: bool = typer.Option(False, "--json"),
               token: str = token_opt, api: str = api_opt) -> None:
        """Print a container's execution report."""
        with _client(token, api) as c:
            hdr = {"Accept": "application/json"} if as_json else {}
            out = _check(c.get(f"/api/v1/containers/{container_id}/report", headers=hdr))
        typer.echo(json.dumps(out, indent=2) if as_json else out)

    @app.command()
    def metrics(since: str = typer.Option(None), playbook: str = typer.Option(None),
                token: str = token_opt, api: str = api_opt) -> None:
        """Automation metrics (runs, durations, auto-resolved share, analyst time saved)."""
        params = {k: v for k, v in {"since": since, "playbook": playbook}.items() if v}
        with _client(token, api) as c:
            out = _check(c.get("/api/v1/metrics/automation", params=params))
        typer.echo(json.dumps(out, indent=2))
