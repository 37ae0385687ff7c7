"""Per-label streams: which Kafka records the worker writes for one enriched article.

Pure (no I/O, no Faust): given the article, its ``news.enriched`` bytes and the labels it had
when it was last routed, it returns ``(topic, key, value)`` records:

* the article, unchanged, on ``<prefix><label>`` for each of its labels that has a stream;
* a ``LabelRetraction`` on ``<prefix><label>`` for each streamed label it had before and has
  lost, so that a subscriber of that label can drop it.

Keys are the article id, like ``news.enriched``, so every version of an article and its
retraction land on the same partition, in order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import orjson

from newsflow.core.contract import EnrichedArticle, LabelRetraction
from newsflow.core.settings import Settings

LabelRecord = tuple[str, bytes, bytes]


def parse_label_streams(value: str) -> frozenset[str] | None:
    """``"*"`` -> None (every label); ``""`` -> no label; ``"sport, politics"`` -> those."""
    text = value.strip()
    if text == "*":
        return None
    return frozenset(part.strip() for part in text.split(",") if part.strip())


@dataclass(frozen=True)
class LabelRouting:
    prefix: str
    streams: frozenset[str] | None  # None: every label of the taxonomy (and any added later)

    @classmethod
    def from_settings(cls, settings: Settings) -> LabelRouting:
        return cls(settings.topic_label_prefix, parse_label_streams(settings.label_streams))

    @property
    def enabled(self) -> bool:
        return self.streams is None or bool(self.streams)

    def has_stream(self, label: str) -> bool:
        return self.streams is None or label in self.streams

    def topic(self, label: str) -> str:
        return f"{self.prefix}{label}"

    def topics(self, labels: Iterable[str]) -> list[str]:
        """Topic names for those of ``labels`` that have a stream (for ``newsflow setup``)."""
        return [self.topic(label) for label in dict.fromkeys(labels) if self.has_stream(label)]


@dataclass(frozen=True, slots=True)
class RoutedArticle:
    """What routing reads of an article. The near-duplicate stage (processors.dedup_stage)
    routes from this summary, carried in its envelope, rather than decoding the whole article."""

    id: str
    url: str
    labels: tuple[str, ...]


def article_labels(article: EnrichedArticle | RoutedArticle) -> tuple[str, ...]:
    if isinstance(article, RoutedArticle):
        return article.labels
    return tuple(dict.fromkeys(t.label for t in article.topics))


def routed(article: EnrichedArticle) -> RoutedArticle:
    return RoutedArticle(article.id, article.url, article_labels(article))


def label_records(
    routing: LabelRouting,
    article: EnrichedArticle | RoutedArticle,
    value: bytes,
    previous: Iterable[str] | None,
) -> list[LabelRecord]:
    """Records for one article version. ``previous`` is None when the earlier labels are
    unknown: then nothing can be retracted (the caller counts that)."""
    if not routing.enabled:
        return []
    key = article.id.encode()
    now = article_labels(article)
    records: list[LabelRecord] = [
        (routing.topic(label), key, value) for label in now if routing.has_stream(label)
    ]
    lost = [label for label in dict.fromkeys(previous or ()) if label not in now]
    for label in lost:
        if routing.has_stream(label):
            retraction = LabelRetraction(id=article.id, label=label, labels=list(now),
                                         url=article.url)
            records.append(
                (routing.topic(label), key, orjson.dumps(retraction.model_dump(mode="json")))
            )
    return records
