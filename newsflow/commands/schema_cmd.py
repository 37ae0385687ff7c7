"""``newsflow schema``: export or check the JSON Schema of the article contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from newsflow.cli import app

schema_app = typer.Typer(help="JSON Schema of the article contract.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")


@schema_app.command("export")
def export_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="default: deploy/schemas")] = None,
) -> None:
    """Write raw_article, enriched_article and dead_letter schemas."""
    from newsflow.schema_export import SCHEMA_DIR, export

    for path in export(directory or SCHEMA_DIR):
        typer.echo(path)


@schema_app.command("check")
def check_cmd(
    directory: Annotated[Path | None, typer.Option("--dir", help="default: deploy/schemas")] = None,
) -> None:
    """Exit 1 if the exported files differ from the code."""
    from newsflow.schema_export import SCHEMA_DIR, stale

    bad = stale(directory or SCHEMA_DIR)
    if bad:
        typer.echo(f"out of date: {', '.join(bad)} (run `newsflow schema export`)", err=True)
        raise typer.Exit(1)
    typer.echo("schemas up to date")
