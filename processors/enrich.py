"""The functional core of the stream: a raw article in, an enriched article out.

``Enricher.enrich`` is what the Faust agent, ``newsflow enrich`` and the tests all call. It holds
the compiled gazetteers, the topic lexicon and the near-duplicate index, built once; everything
per article is a pure function of the article plus that state."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np

from newsflow.core.arabic import clean_display, fold_text
from newsflow.core.contract import EnrichedArticle, Entity, Processing, RawArticle, TopicTag
from newsflow.core.identity import article_id, canonical_url
from newsflow.core.settings import Settings, get_settings
from newsflow.core.version import __version__
from processors.clean import html_to_text
from processors.dedup import NearDuplicateIndex
from processors.entities import get_extractor
from processors.language import detect_language, language_model
from processors.topics import TopicTagger

T = TypeVar("T")


class BodyTooLong(ValueError):
    """The article text is longer than ``max_body_chars`` (the contract caps ``body``; this also
    caps text extracted from ``html``)."""


class EmptyArticle(ValueError):
    """Nothing readable is left after cleaning (an empty body, or HTML with no article text)."""


def _timed(stages: dict[str, float], name: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        stages[name] = round((time.perf_counter() - t0) * 1000, 3)


class Enricher:
    def __init__(self, settings: Settings | None = None, *, defer_dedup: bool = False) -> None:
        """``defer_dedup``: compute the MinHash signature but leave ``cluster_id`` for a later
        stage to decide (the worker's near-duplicate stage, ``processors.dedup_stage``)."""
        self.settings = settings or get_settings()
        self.defer_dedup = defer_dedup
        self.entities = get_extractor(self.settings.ner_backend)
        self.topics = TopicTagger.from_settings(self.settings)
        self.dedup = NearDuplicateIndex.from_settings(self.settings)
        # Load the language model now, not on the first non-Arabic article (Arabic text never
        # reaches it): a worker's partitions would all wait for it there.
        language_model()

    def clean(self, raw: RawArticle) -> tuple[str, str, str]:
        """(title, body, body_normalized)."""
        text = raw.body or ""
        if not text.strip() and raw.html:
            text = html_to_text(raw.html, raw.url)
        if len(text) > self.settings.max_body_chars:
            # Also for bodies extracted from html: a 5M-character page would otherwise become a
            # record of tens of MB that no topic takes.
            raise BodyTooLong(
                f"body of {len(text)} characters (from {'html' if not raw.body else 'body'}) "
                f"is over max_body_chars={self.settings.max_body_chars}"
            )
        title = clean_display(raw.title or "")
        body = clean_display(text)
        if not body and not title:
            raise EmptyArticle("no readable text after cleaning")
        return title, body, fold_text(body)

    def extract_entities(self, body: str) -> list[Entity]:
        return self.entities.extract(body)

    def tag_topics(self, title: str, body_normalized: str) -> list[TopicTag]:
        return self.topics.tag(fold_text(title), body_normalized)

    def enrich(self, raw: RawArticle, now: datetime | None = None) -> EnrichedArticle:
        return self.enrich_signed(raw, now)[0]

    def enrich_signed(self, raw: RawArticle, now: datetime | None = None
                      ) -> tuple[EnrichedArticle, np.ndarray | None]:
        """The article and, with ``defer_dedup``, its MinHash signature (None: too short to
        compare, or clustered here already)."""
        stages: dict[str, float] = {}
        ingested = now or datetime.now(UTC)
        title, body, normalized = _timed(stages, "clean", lambda: self.clean(raw))
        language = raw.language or _timed(
            stages, "language", lambda: detect_language(body or title)
        )
        aid = article_id(raw.url)
        entities = _timed(stages, "entities", lambda: self.extract_entities(body))
        topics = _timed(stages, "topics", lambda: self.tag_topics(title, normalized))
        signature, cluster = None, None
        if self.defer_dedup:  # the signature is the costly part; the decision is the stage's
            signature = _timed(stages, "dedup", lambda: self.dedup.signature(normalized))
        else:
            cluster = _timed(
                stages, "dedup", lambda: self.dedup.assign(aid, normalized, ingested.timestamp())
            )
        article = EnrichedArticle(
            id=aid,
            url=canonical_url(raw.url),
            source=raw.source,
            title=title,
            body=body,
            body_normalized=normalized,
            language=language,
            published_at=raw.published_at,
            ingested_at=ingested,
            entities=entities,
            topics=topics,
            cluster_id=cluster,
            processing=Processing(version=__version__, stages=stages),
            metadata=raw.metadata,
        )
        return article, signature
