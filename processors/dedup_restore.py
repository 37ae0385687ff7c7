"""Reading back recent near-duplicate state from Elasticsearch for a restarting worker."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from elasticsearch import NotFoundError, helpers

from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings


def recent_cluster_items(settings: Settings) -> Iterator[tuple[str, str, str, float]]:
    """(id, cluster_id, text, ts) of articles ingested within the dedup window, oldest first."""
    es = elasticsearch_client(settings)
    query = {
        "query": {
            "range": {"ingested_at": {"gte": f"now-{int(settings.dedup_max_age_days * 24)}h"}}
        },
        "_source": ["id", "cluster_id", "body_normalized", "ingested_at"],
        "sort": [{"ingested_at": "asc"}],
    }
    try:
        hits = helpers.scan(
            es, index=settings.es_alias, query=query, preserve_order=True, size=1000
        )
        for n, hit in enumerate(hits):
            if n >= settings.dedup_max_entries:
                break
            src = hit["_source"]
            ts = datetime.fromisoformat(src["ingested_at"]).timestamp()
            yield (
                src["id"],
                src.get("cluster_id") or src["id"],
                src.get("body_normalized") or "",
                ts,
            )
    except NotFoundError:
        return
    finally:
        es.close()
