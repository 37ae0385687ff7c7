"""What ``newsflow setup`` does, callable from ``run``, ``bench`` and tests."""

from __future__ import annotations

from ingest.es_setup import ensure_index
from ingest.topics import ensure_topics
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings


def label_stream_topics(settings: Settings) -> list[str]:
    """``news.topic.<label>`` for every taxonomy label (bundled + user-added) with a stream."""
    from processors.routing import LabelRouting
    from processors.taxonomy import BUNDLED_TAXONOMY, load_taxonomy_file, merge_taxonomies

    base = load_taxonomy_file(settings.topics_file or BUNDLED_TAXONOMY)
    extra = load_taxonomy_file(settings.topics_extra_file) if settings.topics_extra_file else None
    return LabelRouting.from_settings(settings).topics(merge_taxonomies(base, extra).labels)


def run_setup(settings: Settings) -> list[str]:
    created = ensure_topics(settings, label_stream_topics(settings))
    lines = [f"topic {name}: {state}" for name, state in created.items()]
    es = elasticsearch_client(settings)
    try:
        done = ensure_index(es, settings)
    finally:
        es.close()
    lines.extend(f"elasticsearch {k}: {v}" for k, v in dict(done).items())
    return lines
