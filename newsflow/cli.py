"""The ``newsflow`` command line. Each command imports its implementation lazily so that
``newsflow --help`` and quick commands stay fast (Faust and camel-tools are slow to import)."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="newsflow",
    help="Arabic-first streaming news ingestion: Kafka -> Faust enrichment -> Elasticsearch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


def _register() -> None:
    # Sub-command modules each own one job; they attach themselves to ``app``.
    from newsflow import commands  # noqa: F401


def main() -> None:
    _register()
    app()


if __name__ == "__main__":
    main()
