"""``newsflow schema``: export or check the JSON Schema of the article contract."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

DirOption = Annotated[
    Path | None, typer.Option("--dir", help="default: deploy/schemas in a checkout, else ./schemas")
]
schema_app = typer.Typer(help="JSON Schema of the article contract.", no_args_is_help=True)


@schema_app.command("export")
def export_cmd(
    directory: DirOption = None,
) -> None:
    """Write raw_article, enriched_article and dead_letter schemas."""
    from newsflow.core.schema import default_schema_dir, export

    for path in export(directory or default_schema_dir()):
        typer.echo(path)


@schema_app.command("check")
def check_cmd(
    directory: DirOption = None,
) -> None:
    """Exit 1 if the exported files differ from the code."""
    from newsflow.core.schema import default_schema_dir, stale

    bad = stale(directory or default_schema_dir())
    if bad:
        typer.echo(f"out of date: {', '.join(bad)} (run `newsflow schema export`)", err=True)
        raise typer.Exit(1)
    typer.echo("schemas up to date")
