"""The worker's last step: an article whose cluster is decided goes to ``news.enriched`` and to
its per-label streams (``processors.label_router``), as ``processors.delivery`` outputs.

The near-duplicate stage (``processors.dedup_stage``) calls it for every article of every
partition; without the stage (``dedup_stage=false``) the enrich step calls it directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from processors.delivery import Output
from processors.label_router import LabelRouter
from processors.routing import RoutedArticle


@dataclass(frozen=True, slots=True)
class Decided:
    """An enriched article with its cluster id, ready to publish."""

    key: bytes
    value: bytes  # the news.enriched JSON, cluster id included
    article: RoutedArticle
    raw: bytes  # the record this came from, which a dead letter in its place keeps
    where: tuple[str | None, int | None, int | None]  # and where that record was read
    replays: int = 0
    timestamp: float | None = None  # the raw record's produce time (the indexer's latency)


class Publisher:
    def __init__(self, app: Any, enriched_topic: Any, label_router: LabelRouter) -> None:
        self.app = app  # faust.App: declares the per-label topics as they are first needed
        self.enriched_topic = enriched_topic
        self.label_router = label_router
        self._label_topics: dict[str, Any] = {}

    def label_topic(self, name: str) -> Any:
        if name not in self._label_topics:
            self._label_topics[name] = self.app.topic(name, key_type=bytes, value_type=bytes)
        return self._label_topics[name]

    async def outputs(self, decided: Sequence[Decided]) -> list[Output]:
        """news.enriched records, then per-label copies and retractions. They all go out with
        the batch they came from, so they are acknowledged before it is: at-least-once."""
        outputs = [Output(self.enriched_topic, d.key, d.value, d.raw, d.where,
                          replays=d.replays, timestamp=d.timestamp) for d in decided]
        per_article = await self.label_router.records(
            [d.article for d in decided], [d.value for d in decided])
        outputs.extend(
            Output(self.label_topic(topic), key, value, d.raw, d.where, replays=d.replays)
            for d, records in zip(decided, per_article, strict=True)
            for topic, key, value in records)
        return outputs
