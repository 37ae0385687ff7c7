"""``newsflow setup``: Kafka topics, the index template, the versioned index and its alias."""

from __future__ import annotations

from typing import Annotated

import typer


def setup(
    partitions: Annotated[
        int | None,
        typer.Option(help="partitions for new topics (default NEWSFLOW_TOPIC_PARTITIONS, 3)"),
    ] = None,
) -> None:
    """Create what the pipeline needs. Safe to run again: existing things are left alone."""
    from newsflow.core.settings import get_settings
    from newsflow.provision import run_setup

    settings = get_settings()
    if partitions is not None:
        settings = settings.model_copy(update={"topic_partitions": partitions})
    for line in run_setup(settings):
        typer.echo(line)
