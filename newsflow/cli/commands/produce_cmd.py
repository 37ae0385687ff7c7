"""``newsflow produce``: files or stdin to ``news.raw``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console

err = Console(stderr=True)


def produce(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="JSONL / JSON array files, SaudiNewsNet .zip files, directories, or - for stdin"
        ),
    ],
    limit: Annotated[int | None, typer.Option(help="stop after N records")] = None,
    dlq: Annotated[bool, typer.Option(help="also send rejected records to the DLQ topic")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Validate articles and send them to Kafka, keyed by article id."""
    from ingest.producer import ArticleProducer
    from ingest.readers import count_hint, iter_records
    from newsflow.core.settings import get_settings
    from newsflow.progress import progress_bar

    for p in paths:
        if p != "-" and not Path(p).exists():
            raise typer.BadParameter(f"no such file or directory: {p}", param_hint="PATHS")
    settings = get_settings()
    total = count_hint(paths)
    with (
        ArticleProducer(settings, dead_letters=dlq) as producer,
        progress_bar("producing", total=limit or total, disable=quiet or as_json) as advance,
    ):
        for _ in producer.send_many(iter_records(paths, limit=limit)):
            advance(1)
    summary = producer.summary
    if as_json:
        sys.stdout.write(
            orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
        )
    else:
        err.print(
            f"sent [bold]{summary.sent}[/], rejected [bold]{summary.rejected}[/]"
            + (f", failed [bold red]{summary.failed}[/]" if summary.failed else "")
            + f" -> {settings.topic_raw}"
        )
        for origin, reason in summary.rejections[:20]:
            err.print(f"  [yellow]rejected[/] {origin}: {reason}", markup=True, highlight=False)
        if summary.rejected > 20:
            err.print(f"  … {summary.rejected - 20} more ({dict(summary.reasons)})")
    if summary.failed:
        raise typer.Exit(1)
