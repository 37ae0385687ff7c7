"""``newsflow index``: the long-running Kafka -> Elasticsearch indexer."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer


def index(
    idle_seconds: Annotated[
        float | None,
        typer.Option(help="exit once idle this many seconds (default: run until stopped)"),
    ] = None,
) -> None:
    """Index news.enriched into Elasticsearch until SIGTERM or Ctrl-C.

    The batch in hand is indexed and committed before exiting."""
    import logging

    from ingest.indexer import run_indexer
    from newsflow.cli.base import limit_malloc_arenas
    from newsflow.core.settings import get_settings

    limit_malloc_arenas()

    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if settings.log_level.upper() != "DEBUG":
        # Both clients log every connection and request at INFO: that would drown the stats.
        for noisy in ("kafka", "elastic_transport"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        if stop.is_set():  # second signal: the operator insists
            raise KeyboardInterrupt
        logging.getLogger("newsflow.indexer").info(
            "%s received: finishing the current batch", signal.Signals(signum).name
        )
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stats = run_indexer(settings, stop_event=stop, max_idle_seconds=idle_seconds)
    typer.echo(
        f"indexed {stats.indexed}, dead-lettered {stats.dead_lettered}, retries {stats.retries}, "
        f"batches {stats.batches}"
    )
