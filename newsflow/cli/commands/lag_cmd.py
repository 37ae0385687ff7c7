"""``newsflow lag``: how far the worker and the indexer are behind."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer


def lag(
    as_json: Annotated[bool, typer.Option("--json", help="print as JSON")] = False,
) -> None:
    """Consumer lag per partition of the worker (news.raw and its near-duplicate stage topic) and
    the indexer (news.enriched).
    Lag that only grows while the worker or indexer runs means it has stopped consuming."""
    from rich.console import Console
    from rich.table import Table

    from ingest.lag import consumer_lag
    from newsflow.core.settings import get_settings

    rows = consumer_lag(get_settings())
    if as_json:
        sys.stdout.write(orjson.dumps([r.as_dict() for r in rows]).decode() + "\n")
        return
    table = Table(title="consumer lag")
    for col in ("group", "topic", "partition", "committed", "end", "lag"):
        table.add_column(col, justify="left" if col in ("group", "topic") else "right")
    for r in rows:
        table.add_row(
            r.group,
            r.topic,
            str(r.partition),
            "-" if r.committed is None else str(r.committed),
            str(r.end),
            str(r.lag),
        )
    Console().print(table)
