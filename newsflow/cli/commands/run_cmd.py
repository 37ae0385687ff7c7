"""``newsflow run``: the main job, end to end on the bundled samples."""

from __future__ import annotations

from typing import Annotated

import typer


def run(
    once: Annotated[
        bool, typer.Option("--once", help="stop everything and exit after the first search")
    ] = False,
    query: Annotated[str, typer.Option(help="the search to show")] = "بوتين",
    timeout: Annotated[float, typer.Option(help="seconds to wait for the samples")] = 180.0,
) -> None:
    """Start the local stack if needed, set up topics and index, start the worker and the
    indexer, produce the bundled sample articles, wait until they are searchable and search."""
    from rich.console import Console

    from newsflow.core.settings import get_settings
    from newsflow.runner import run_pipeline

    console = Console(stderr=True)

    def say(message: str) -> None:
        console.print(f"[bold cyan]newsflow[/] {message}", highlight=False)

    raise typer.Exit(run_pipeline(get_settings(), once=once, query=query, timeout=timeout, say=say))
