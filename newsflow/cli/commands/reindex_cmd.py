"""``newsflow reindex``: rebuild the index as <alias>-v<N+1> and switch the alias atomically."""

from __future__ import annotations

import sys
from typing import Annotated

import orjson
import typer


def reindex(
    delete_old: Annotated[
        bool, typer.Option("--delete-old", help="delete the old index after the switch")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Copy every document of the alias's write index into the next version (external versions:
    nothing newer is overwritten), switch the alias in one atomic call, then catch up on what the
    indexer wrote meanwhile. Safe while the pipeline runs."""
    from ingest.es_setup import put_template
    from ingest.reindex import reindex as run_reindex
    from newsflow.core.clients import elasticsearch_client
    from newsflow.core.settings import get_settings

    settings = get_settings()
    es = elasticsearch_client(settings)
    try:
        # The template must be current before the new index is created from it.
        put_template(es, settings)
        say = (lambda m: None) if as_json else typer.echo
        report = run_reindex(settings, es, delete_old=delete_old, say=say)
    finally:
        es.close()
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
        return
    version = report.new_index.rsplit("-v", 1)[-1]
    typer.echo(f"done: {report.new_index} serves {settings.es_alias}; "
               f"set NEWSFLOW_ES_INDEX_VERSION={version} for later `newsflow setup` runs")
