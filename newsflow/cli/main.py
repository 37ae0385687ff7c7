"""The ``newsflow`` Typer app: every command registered here, in data-flow order."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.main

from newsflow.cli.base import checked_first, friendly_message
from newsflow.cli.commands import (
    bench_cmd,
    chaos_cmd,
    dlq_cmd,
    enrich_cmd,
    eval_cmd,
    eval_search_cmd,
    eval_topics_cmd,
    index_cmd,
    lag_cmd,
    produce_cmd,
    reindex_cmd,
    run_cmd,
    schema_cmd,
    search_cmd,
    serve_cmd,
    setup_cmd,
    stack_cmd,
    status_cmd,
    subscribe_cmd,
    train_cmd,
    worker_cmd,
)
from newsflow.cli.help_format import tidy

app = typer.Typer(
    name="newsflow",
    help="Arabic-first streaming news ingestion: Kafka -> Faust enrichment -> Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from newsflow.core.version import __version__

        typer.echo(f"newsflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
) -> None:
    """Arabic-first streaming news ingestion: Kafka -> Faust enrichment -> Elasticsearch."""


app.add_typer(stack_cmd.stack_app, name="stack")
app.command("setup")(checked_first("setup", setup_cmd.setup))
app.add_typer(schema_cmd.schema_app, name="schema")
app.command("produce")(checked_first("produce", produce_cmd.produce))
app.command("worker")(checked_first("worker", worker_cmd.worker))
app.command("index")(checked_first("index", index_cmd.index))
app.command("lag")(checked_first("lag", lag_cmd.lag))
app.command("status")(status_cmd.status)
app.add_typer(dlq_cmd.dlq_app, name="dlq")
app.command("reindex")(checked_first("reindex", reindex_cmd.reindex))
app.command("run")(checked_first("run", run_cmd.run))
app.command("search")(checked_first("search", search_cmd.search))
app.command("subscribe")(checked_first("subscribe", subscribe_cmd.subscribe))
app.command("serve")(checked_first("serve", serve_cmd.serve))
app.command("serve-bench")(checked_first("serve-bench", serve_cmd.serve_bench))
app.command("enrich")(enrich_cmd.enrich)
eval_cmd.eval_app.command("topics")(eval_topics_cmd.topics)
eval_cmd.eval_app.command("search")(eval_search_cmd.search)
app.add_typer(eval_cmd.eval_app, name="eval")
app.add_typer(train_cmd.train_app, name="train")
app.command("bench")(checked_first("bench", bench_cmd.bench))
app.command("chaos")(chaos_cmd.chaos)


def cli() -> Any:
    """The click command behind ``app`` with prose help pages (newsflow.cli.help_format)."""
    return tidy(typer.main.get_command(app))


def main() -> None:
    try:
        cli()(prog_name="newsflow")
    except Exception as exc:
        message = friendly_message(exc)
        if message is None:
            raise
        typer.echo(f"newsflow: {message}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
