"""The ``newsflow`` command line. Each command imports its implementation lazily so that
``newsflow --help`` and quick commands stay fast (Faust and camel-tools are slow to import)."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="newsflow",
    help="Arabic-first streaming news ingestion: Kafka -> Faust enrichment -> Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _version(value: bool) -> None:
    if value:
        from newsflow import __version__

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


def _register() -> None:
    # Sub-command modules each own one job; they attach themselves to ``app``.
    from newsflow import commands  # noqa: F401


def _friendly_message(exc: BaseException) -> str | None:
    """A one-line explanation for the errors users meet most: a service that is not there."""
    from elasticsearch import ConnectionError as ESConnectionError
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from newsflow.settings import get_settings

    settings = get_settings()
    hint = "is the stack running? (`newsflow stack up`)"
    if isinstance(exc, KafkaConnectionError) or (
        isinstance(exc, KafkaTimeoutError) and "bootstrap" in str(exc)
    ):
        return (
            f"Kafka at {settings.kafka_bootstrap_servers} is unreachable; {hint} "
            "or set NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    if isinstance(exc, ESConnectionError):
        return f"Elasticsearch at {settings.es_url} is unreachable; {hint} or set NEWSFLOW_ES_URL"
    if type(exc).__name__ in ("TaxonomyError", "CamelDataMissing"):
        return str(exc)  # configuration errors whose messages say what to fix
    return None


def main() -> None:
    _register()
    try:
        app()
    except Exception as exc:
        message = _friendly_message(exc)
        if message is None:
            raise
        typer.echo(f"newsflow: {message}", err=True)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
