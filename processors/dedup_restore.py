"""Reading back recent near-duplicate state from Elasticsearch for a restarting worker."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Generator, Iterator
from datetime import datetime
from typing import Any, cast

from elasticsearch import NotFoundError, helpers

from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings
from processors.dedup import NearDuplicateIndex

log = logging.getLogger(__name__)


def recent_cluster_items(settings: Settings) -> Iterator[tuple[str, str, str, float]]:
    """(id, cluster_id, text, ts) of the ``dedup_max_entries`` NEWEST articles ingested within
    the dedup window, oldest first (the order ``NearDuplicateIndex.rebuild`` replays them in).
    Reading newest first is what keeps the newest when the window holds more than the cap."""
    es = elasticsearch_client(settings)
    query = {
        "query": {
            "range": {"ingested_at": {"gte": f"now-{int(settings.dedup_max_age_days * 24)}h"}}
        },
        "_source": ["id", "cluster_id", "body_normalized", "ingested_at"],
        "sort": [{"ingested_at": "desc"}],
    }
    newest: list[tuple[str, str, str, float]] = []
    try:
        # Closed before the client: stopping at the cap leaves a scroll open, and scan clears
        # it on close, which fails on a closed client (the scroll then lives until it expires).
        scan = cast(Generator[dict[str, Any], None, None], helpers.scan(
            es, index=settings.es_alias, query=query, preserve_order=True, size=1000))
        with contextlib.closing(scan) as hits:
            for n, hit in enumerate(hits):
                if n >= settings.dedup_max_entries:
                    break
                src = hit["_source"]
                ts = datetime.fromisoformat(src["ingested_at"]).timestamp()
                cluster = src.get("cluster_id") or src["id"]
                newest.append((src["id"], cluster, src.get("body_normalized") or "", ts))
    except NotFoundError:
        return
    finally:
        es.close()
    yield from reversed(newest)


async def restore_index(index: NearDuplicateIndex, settings: Settings) -> int:
    """Rebuild ``index`` from what is already indexed, so clusters survive a restart or a move
    of the near-duplicate stage to another worker. Returns how many articles it holds after.
    A missing or unreachable Elasticsearch only costs cluster continuity."""
    try:
        items = await asyncio.to_thread(lambda: list(recent_cluster_items(settings)))
    except Exception as exc:
        log.warning("near-duplicate state not restored (%s); starting empty", exc)
        return len(index)
    index.rebuild(items)
    log.info("near-duplicate state restored from %d indexed articles", len(items))
    return len(index)
