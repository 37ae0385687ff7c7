"""What ``newsflow setup`` does, callable from ``run``, ``bench`` and tests."""

from __future__ import annotations

from ingest.es_setup import ensure_index
from ingest.topics import ensure_topics
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings


def run_setup(settings: Settings) -> list[str]:
    lines = [f"topic {name}: {state}" for name, state in ensure_topics(settings).items()]
    es = elasticsearch_client(settings)
    try:
        done = ensure_index(es, settings)
    finally:
        es.close()
    lines.extend(f"elasticsearch {k}: {v}" for k, v in dict(done).items())
    return lines
