"""What ``newsflow setup`` does, callable from ``run``, ``bench`` and tests."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from ingest.es_setup import ensure_index
from ingest.topics import ensure_topics
from newsflow.settings import Settings


def run_setup(settings: Settings) -> list[str]:
    lines = [f"topic {name}: {state}" for name, state in ensure_topics(settings).items()]
    es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
    try:
        done = ensure_index(es, settings)
    finally:
        es.close()
    lines.extend(f"elasticsearch {k}: {v}" for k, v in dict(done).items())
    return lines
