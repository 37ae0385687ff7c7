"""``newsflow status``: one screen about the running pipeline (metrics, stack, lag, DLQ)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def status(
    worker_url: Annotated[list[str] | None, typer.Option(
        help="a worker's /metrics URL (repeat for several; default: the local one)")] = None,
    indexer_url: Annotated[list[str] | None, typer.Option(
        help="an indexer's /metrics URL (repeat; default: the local one)")] = None,
    interval: Annotated[float, typer.Option(
        min=0.1, help="seconds between the two scrapes that give the rates")] = 2.0,
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Stack health, rates, lag, dead letters, memory and latency of a running pipeline."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    from newsflow.core.settings import get_settings
    from newsflow.status import Endpoint, as_dict, collect, default_endpoints, endpoint_rows

    settings = get_settings()
    endpoints = default_endpoints(settings)
    if worker_url or indexer_url:
        endpoints = [Endpoint("worker", u) for u in worker_url or []] + [
            Endpoint("indexer", u) for u in indexer_url or []]
    state = collect(settings, endpoints, interval)
    if as_json:
        sys.stdout.write(orjson.dumps(as_dict(state)).decode() + "\n")
        return
    table = Table(title="newsflow status", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("Kafka", state.kafka)
    table.add_row("Elasticsearch", state.elasticsearch)
    table.add_row(f"documents in {settings.es_alias}", "-" if state.documents is None
                  else f"{state.documents:,}")
    for group, lag in state.lag.items():
        table.add_row(f"lag {group}", f"{lag:,}")
    table.add_row(f"dead letters on {settings.topic_dlq}", "-" if state.dead_letters is None
                  else f"{state.dead_letters:,}")
    for ep in state.endpoints:
        table.add_section()
        for label, value in endpoint_rows(ep):
            table.add_row(f"{ep.station}: {label}", value)
    Console().print(table)
