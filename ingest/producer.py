"""Producing raw articles to Kafka: validate against the contract, key by article id, send with
an idempotent, compressed kafka-python producer; rejected records go to the dead-letter topic.

Scrapers call it directly::

    from ingest.producer import ArticleProducer

    with ArticleProducer() as producer:
        producer.send({"url": "https://example.org/a", "title": "...", "body": "..."})

(in a Scrapy item pipeline: create it in ``open_spider``, call ``send(dict(item))`` in
``process_item``, and ``close()`` in ``close_spider``)."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import orjson
from kafka import KafkaProducer
from pydantic import ValidationError

from ingest.readers import SourceRecord
from newsflow.core.clients import kafka_producer_config
from newsflow.core.contract import RawArticle
from newsflow.core.deadletter import dead_letter, encode_dead_letter, validation_reason
from newsflow.core.identity import article_id
from newsflow.core.settings import Settings, get_settings

log = logging.getLogger(__name__)


class RejectedArticle(ValueError):
    def __init__(self, reason: str, error_type: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error_type = error_type


def to_raw_article(data: dict[str, Any] | RawArticle) -> RawArticle:
    if isinstance(data, RawArticle):
        return data
    try:
        return RawArticle.model_validate(data)
    except ValidationError as exc:
        raise RejectedArticle(validation_reason(exc), "ValidationError") from exc


def encode_article(article: RawArticle) -> tuple[bytes, bytes]:
    """(key, value) for news.raw: key = article id so re-sends land on the same partition."""
    key = article_id(article.url).encode()
    value = orjson.dumps(article.model_dump(mode="json", exclude_none=True))
    return key, value


@dataclass
class ProduceSummary:
    sent: int = 0
    rejected: int = 0
    failed: int = 0  # accepted but the broker did not acknowledge
    reasons: Counter[str] = field(default_factory=Counter)
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (origin, reason), capped

    def reject(self, origin: str, reason: str, error_type: str) -> None:
        self.rejected += 1
        self.reasons[error_type] += 1
        if len(self.rejections) < 1000:
            self.rejections.append((origin, reason))

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "rejected": self.rejected,
            "failed": self.failed,
            "reasons": dict(self.reasons),
            "rejections": [{"origin": o, "reason": r} for o, r in self.rejections],
        }


def kafka_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    return KafkaProducer(**kafka_producer_config(settings, **overrides))


class ArticleProducer:
    """Validates and sends articles. ``send`` is thread-safe and asynchronous; ``flush`` waits for
    every acknowledgement and fills in ``summary.failed`` for records the broker refused."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        dead_letters: bool = True,
        producer: KafkaProducer | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.dead_letters = dead_letters
        self.summary = ProduceSummary()
        self._producer = producer or kafka_producer(self.settings)
        self._lock = threading.Lock()

    def __enter__(self) -> ArticleProducer:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _on_error(self, exc: BaseException) -> None:
        with self._lock:
            self.summary.failed += 1
            self.summary.sent -= 1
        log.error("broker did not acknowledge a record: %s", exc)

    def send(
        self, data: dict[str, Any] | RawArticle, origin: str = "api", raw: bytes | None = None
    ) -> str:
        """Validate and send one article; returns its id. Raises ``RejectedArticle`` (after
        dead-lettering it) when the record breaks the contract. ``raw`` is the record as it was
        read, kept in the dead letter instead of a re-serialization."""
        try:
            article = to_raw_article(data)
        except RejectedArticle as exc:
            if raw is None:
                raw = (
                    data.model_dump_json().encode()
                    if isinstance(data, RawArticle)
                    else orjson.dumps(data, default=str)
                )
            self._reject(origin, raw, exc.reason, exc.error_type)
            raise
        key, value = encode_article(article)
        self._producer.send(self.settings.topic_raw, key=key, value=value).add_errback(
            self._on_error
        )
        with self._lock:
            self.summary.sent += 1
        return key.decode()

    def send_record(self, rec: SourceRecord) -> str | None:
        """A record read from a file: bad bytes, bad JSON and contract breaks are rejected with
        their reason; returns the article id when sent."""
        if rec.data is None:
            self._reject(rec.origin, rec.raw, rec.error or "unreadable", rec.error_type or "Error")
            return None
        try:
            return self.send(rec.data, origin=rec.origin, raw=rec.raw)
        except RejectedArticle:
            return None
        except (TypeError, ValueError, RecursionError) as exc:
            # A record the contract let through but that cannot be encoded: rejected with its
            # reason like any other, so one record never ends a file mid-way.
            self._reject(rec.origin, rec.raw, f"cannot encode: {exc}", type(exc).__name__)
            return None

    def send_many(self, records: Iterable[SourceRecord]) -> Iterator[str | None]:
        for rec in records:
            yield self.send_record(rec)

    def _reject(self, origin: str, raw: bytes, reason: str, error_type: str) -> None:
        with self._lock:
            self.summary.reject(origin, reason, error_type)
        if not self.dead_letters:
            return
        dl = dead_letter("produce", reason, error_type, raw, key=origin)
        self._producer.send(
            self.settings.topic_dlq, key=origin.encode(), value=encode_dead_letter(dl)
        ).add_errback(self._on_error_dlq)

    def _on_error_dlq(self, exc: BaseException) -> None:
        with self._lock:
            self.summary.failed += 1  # the rejection is still in the summary; exit non-zero
        log.error("could not dead-letter a rejected record: %s", exc)

    def flush(self, timeout: float | None = None) -> None:
        self._producer.flush(timeout=timeout)

    def close(self, timeout: float | None = 30) -> None:
        self._producer.flush(timeout=timeout)
        self._producer.close(timeout=timeout)
