"""The indexer's Prometheus metrics (definitions in ``newsflow.core.metrics``), served on
``settings.indexer_metrics_port`` (``/metrics``; 0 disables) from a daemon thread."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from newsflow.core.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    ES_BULK_DOCS,
    ES_BULK_SECONDS,
    ES_ITEM_ERRORS,
    PRODUCE_TO_INDEXED,
    RECORDS_IN,
    RECORDS_OUT,
    serve,
)
from newsflow.core.settings import Settings

log = logging.getLogger("newsflow.indexer")
STATION = "indexer"


class _Timestamped(Protocol):
    @property
    def timestamp_ms(self) -> int | None: ...


class IndexerMetrics:
    def __init__(self, port: int = 0) -> None:
        self.port = port
        self._in = RECORDS_IN.labels(STATION)
        self._out = RECORDS_OUT.labels(STATION, "elasticsearch")
        self._dlq = RECORDS_OUT.labels(STATION, "dlq")

    @classmethod
    def start(cls, settings: Settings) -> IndexerMetrics:
        port = settings.indexer_metrics_port
        try:
            port = serve(port)
        except OSError as exc:  # a second indexer on this host: metrics off, indexing goes on
            log.warning("metrics not served on port %d (%s)", port, exc)
            port = 0
        if port:
            log.info("metrics on http://127.0.0.1:%d/metrics", port)
        return cls(port)

    def consumed(self, n: int) -> None:
        if n:
            self._in.inc(n)

    def bulk(self, seconds: float, docs: int) -> None:
        ES_BULK_SECONDS.observe(seconds)
        ES_BULK_DOCS.observe(docs)

    def item_errors(self, items: Sequence[dict[str, Any]]) -> None:
        for item in items:
            result: dict[str, Any] = next(iter(item.values()), {}) if item else {}
            status = result.get("status")
            if status == 409:  # a same-or-newer version is indexed: superseded, not an error
                continue
            if not (isinstance(status, int) and 200 <= status < 300 and "error" not in result):
                ES_ITEM_ERRORS.labels(str(status)).inc()

    def request_error(self, status: int | None) -> None:
        ES_ITEM_ERRORS.labels(str(status) if status is not None else "no_response").inc()

    def indexed(self, records: Iterable[_Timestamped]) -> None:
        """Documents acknowledged by Elasticsearch; the latency clock starts at the record's
        timestamp, which the worker sets to the raw record's produce time."""
        now_ms = time.time() * 1000
        n = 0
        for rec in records:
            n += 1
            if rec.timestamp_ms:
                PRODUCE_TO_INDEXED.observe(max(0.0, now_ms - rec.timestamp_ms) / 1000)
        self._out.inc(n)

    def dead_lettered(self, stage: str, reasons: Iterable[str]) -> None:
        for reason in reasons:
            self._dlq.inc()
            DEAD_LETTERS.labels(STATION, stage, reason).inc()

    def lag(self, records: int) -> None:
        CONSUMER_LAG.labels(STATION).set(records)

    def update_lag(self, consumer: Any) -> None:
        """From the high-water marks kafka-python caches from fetch responses (no request)."""
        try:
            total = 0
            for tp in consumer.assignment():
                high = consumer.highwater(tp)
                if high is None:
                    return
                total += max(0, high - consumer.position(tp))
        except Exception:  # informative only; a rebalance may be under way
            return
        self.lag(total)
