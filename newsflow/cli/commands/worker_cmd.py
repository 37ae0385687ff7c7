"""``newsflow worker``: the Faust stream processor (clean, enrich, route)."""

from __future__ import annotations

from typing import Annotated

import typer


def worker(
    web_port: Annotated[
        int, typer.Option(help="port for /health and Faust's web views; 0 disables them")
    ] = 6066,
    loglevel: Annotated[str, typer.Option(help="log level")] = "info",
) -> None:
    """Run the enrichment worker until SIGTERM or Ctrl-C (commits before exiting)."""
    from faust.worker import Worker

    from newsflow.cli.base import limit_malloc_arenas
    from processors.worker import create_app

    limit_malloc_arenas()

    faust_app = create_app(web_port=web_port)  # raises on bad settings before Faust starts
    Worker(faust_app, loglevel=loglevel).execute_from_commandline()
