"""The worker's routing step: per-label records for a batch of enriched articles.

Where the *previous* labels of an article come from (needed for retractions):

1. a bounded in-process memory of what this router sent last (article id -> labels). With the
   near-duplicate stage (the default) one router, the stage's, sees every article of every
   partition; without it, articles are keyed by id on ``news.raw``, so re-sends of one article
   come back to the same partition and, between rebalances, to the same worker. Either way the
   memory answers the common case at once, including a re-send seconds after the first version
   (before the indexer has caught up). It is emptied when the stage moves to another worker;
2. on a miss (new article, restart, a partition that moved here), one ``mget`` per batch of
   ``topic_labels`` from Elasticsearch, which holds the last indexed version of every article.

Why not a Faust table: it would have to hold one entry per article ever seen (not small), be
recovered from its changelog on every start and rebalance (faust-streaming's table recovery has
open hang/race issues), and writes from inside ``take_events``
batches have no single current event to attach the changelog partition to. Elasticsearch is
already the store of record of labels, and the worker already reads it at start-up.

What this gives up: a retraction is missed only if an article is re-enriched on a worker that
has not routed it before *and* before its previous version was indexed (about a second), or
while Elasticsearch is unreachable; both are counted (``previous_unknown``) and logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from newsflow.core.contract import EnrichedArticle
from newsflow.core.settings import Settings
from processors.routing import (
    LabelRecord,
    LabelRouting,
    RoutedArticle,
    article_labels,
    label_records,
)

log = logging.getLogger(__name__)
MEMORY_CAPACITY = 200_000  # ids; ~30 MB at worst, about a day of a large newsroom's intake
LOOKUP_TIMEOUT = 5.0  # seconds: a slow Elasticsearch must not stall the stream for long

Lookup = Callable[[list[str]], dict[str, tuple[str, ...]]]


class PreviousLabels:
    """Article id -> labels last routed, least recently used evicted first."""

    def __init__(self, capacity: int = MEMORY_CAPACITY) -> None:
        self.capacity = capacity
        self._labels: OrderedDict[str, tuple[str, ...]] = OrderedDict()

    def __contains__(self, article_id: str) -> bool:
        return article_id in self._labels

    def __len__(self) -> int:
        return len(self._labels)

    def get(self, article_id: str) -> tuple[str, ...] | None:
        labels = self._labels.get(article_id)
        if labels is not None:
            self._labels.move_to_end(article_id)
        return labels

    def remember(self, article_id: str, labels: tuple[str, ...]) -> None:
        self._labels[article_id] = labels
        self._labels.move_to_end(article_id)
        while len(self._labels) > self.capacity:
            self._labels.popitem(last=False)


def elasticsearch_lookup(settings: Settings) -> Lookup:
    """Labels of the indexed versions of ``ids``; an id that is not indexed has none."""
    from elasticsearch import NotFoundError

    from newsflow.core.clients import elasticsearch_client

    es = elasticsearch_client(settings)

    def lookup(ids: list[str]) -> dict[str, tuple[str, ...]]:
        try:
            resp = es.options(request_timeout=LOOKUP_TIMEOUT).mget(
                index=settings.es_alias, ids=ids, source=["topic_labels"]
            )
        except NotFoundError:  # no index yet: nothing was ever routed and indexed
            return dict.fromkeys(ids, ())
        out: dict[str, tuple[str, ...]] = {}
        for doc in resp.body.get("docs", []):
            if doc.get("found"):
                out[doc["_id"]] = tuple((doc.get("_source") or {}).get("topic_labels") or ())
            elif "error" not in doc:
                out[doc["_id"]] = ()
        return out

    return lookup


@dataclass
class RouterStats:
    routed: int = 0
    retractions: int = 0
    previous_unknown: int = 0
    lookups_failed: int = 0
    by_label: dict[str, int] = field(default_factory=dict)


class LabelRouter:
    """Routing for the worker's output step; ``records`` is awaited once per batch."""

    def __init__(
        self, routing: LabelRouting, lookup: Lookup | None, capacity: int = MEMORY_CAPACITY
    ) -> None:
        self.routing = routing
        self.lookup = lookup
        self.memory = PreviousLabels(capacity)
        self.stats = RouterStats()

    @classmethod
    def from_settings(cls, settings: Settings) -> LabelRouter:
        routing = LabelRouting.from_settings(settings)
        return cls(routing, elasticsearch_lookup(settings) if routing.enabled else None)

    async def _recall(self, articles: Sequence[EnrichedArticle | RoutedArticle]
                      ) -> dict[str, tuple[str, ...]]:
        missing = list(dict.fromkeys(a.id for a in articles if a.id not in self.memory))
        if not missing or self.lookup is None:
            return {}
        try:
            return await asyncio.to_thread(self.lookup, missing)
        except Exception as exc:  # Elasticsearch down: route without retractions, say so
            self.stats.lookups_failed += 1
            log.warning("previous labels of %d articles unknown (%s)", len(missing), exc)
            return {}

    async def records(self, articles: Sequence[EnrichedArticle | RoutedArticle],
                      values: Sequence[bytes]) -> list[list[LabelRecord]]:
        """Per-label records of each article of the batch, in batch order (a second version of
        an article in the same batch sees the first one's labels)."""
        if not self.routing.enabled or not articles:
            return [[] for _ in articles]
        recalled = await self._recall(articles)
        out: list[list[LabelRecord]] = []
        for article, value in zip(articles, values, strict=True):
            previous = self.memory.get(article.id)
            if previous is None:
                previous = recalled.get(article.id)
            if previous is None:
                self.stats.previous_unknown += 1
            records = label_records(self.routing, article, value, previous)
            self._count(records)
            out.append(records)
            self.memory.remember(article.id, article_labels(article))
        return out

    def forget(self) -> None:
        """Drop the memory: another router may have sent newer versions meanwhile."""
        self.memory = PreviousLabels(self.memory.capacity)

    def _count(self, records: list[LabelRecord]) -> None:
        for topic, _key, value in records:
            if value.startswith(b'{"retracted"'):
                self.stats.retractions += 1
            else:
                self.stats.routed += 1
                label = topic[len(self.routing.prefix):]
                self.stats.by_label[label] = self.stats.by_label.get(label, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        s = self.stats
        return {"routed": s.routed, "retractions": s.retractions,
                "previous_unknown": s.previous_unknown, "lookups_failed": s.lookups_failed,
                "memory": len(self.memory)}
