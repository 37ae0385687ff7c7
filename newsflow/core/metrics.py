"""Prometheus metrics shared by both stations (worker and indexer), defined once so that names,
labels and buckets agree and one Grafana dashboard reads both. Each station runs in its own
process and labels its series with ``station``; the process collector of prometheus-client adds
``process_resident_memory_bytes`` (RSS) and CPU seconds to every exposition.

Stations import these objects; ``newsflow status`` parses what ``/metrics`` serves with
``parse_exposition``."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

# Per-article stage times span ~10 µs (language check) to ~1 s (an outsized article's NER).
STAGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                 0.5, 1.0, 2.5)
# Produce -> indexed and bulk requests: tens of ms to minutes (an outage, a backlog).
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
                   300.0)

RECORDS_IN = Counter("newsflow_records_in", "records consumed", ["station"])
RECORDS_OUT = Counter("newsflow_records_out", "records written (topic, or elasticsearch)",
                      ["station", "destination"])
DEAD_LETTERS = Counter("newsflow_dead_letters", "records sent to the dead-letter topic",
                       ["station", "stage", "reason"])
STAGE_SECONDS = Histogram("newsflow_stage_seconds", "processing time per article and stage",
                          ["station", "stage"], buckets=STAGE_BUCKETS)
CONSUMER_LAG = Gauge("newsflow_consumer_lag", "records behind the end of the input topic",
                     ["station"])
PRODUCE_TO_INDEXED = Histogram(
    "newsflow_produce_to_indexed_seconds",
    "from the raw record's produce time to its bulk acknowledgement by Elasticsearch",
    buckets=LATENCY_BUCKETS)
ES_BULK_SECONDS = Histogram("newsflow_es_bulk_seconds", "one Elasticsearch bulk request",
                            buckets=LATENCY_BUCKETS)
ES_BULK_DOCS = Histogram("newsflow_es_bulk_docs", "documents per bulk request",
                         buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2000))
ES_ITEM_ERRORS = Counter("newsflow_es_bulk_item_errors", "bulk items that failed, by status",
                         ["status"])

_server_lock = threading.Lock()
_served: set[int] = set()


def observe_stages(station: str, stages_ms: Mapping[str, float]) -> None:
    """The per-article stage timings an EnrichedArticle carries (milliseconds)."""
    for stage, ms in stages_ms.items():
        STAGE_SECONDS.labels(station, stage).observe(ms / 1000.0)


def exposition() -> tuple[bytes, str]:
    """(body, content type) of the default registry, for a web framework's handler."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int, addr: str = "127.0.0.1") -> int:
    """Serve /metrics on ``port`` from a daemon thread (once per port); 0 disables. Returns the
    port."""
    if port <= 0:
        return 0
    with _server_lock:
        if port not in _served:
            start_http_server(port, addr=addr)
            _served.add(port)
    return port


def parse_exposition(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Sample name -> [(labels, value)] of a Prometheus text exposition."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    return out


def total(samples: Mapping[str, list[tuple[dict[str, str], float]]], name: str,
          **match: str) -> float | None:
    """Sum of the samples of ``name`` whose labels include ``match``; None when absent."""
    rows = [v for labels, v in samples.get(name, []) if _matches(labels, match)]
    return sum(rows) if rows else None


def _matches(labels: Mapping[str, str], match: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in match.items())


def histogram_quantile(samples: Mapping[str, list[tuple[dict[str, str], float]]], name: str,
                       q: float, **match: str) -> float | None:
    """The ``q`` quantile (0..1) of a histogram from its cumulative buckets, interpolated
    linearly inside the bucket as PromQL's ``histogram_quantile`` does."""
    buckets: dict[float, float] = {}
    for labels, v in samples.get(f"{name}_bucket", []):
        if _matches(labels, match):
            le = float(labels["le"])
            buckets[le] = buckets.get(le, 0.0) + v
    return quantile_from_buckets(sorted(buckets.items()), q)


def quantile_from_buckets(buckets: Iterable[tuple[float, float]], q: float) -> float | None:
    rows: list[Any] = list(buckets)
    if not rows or rows[-1][1] <= 0:
        return None
    rank = q * rows[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in rows:
        if count >= rank:
            if le == float("inf"):
                return prev_le
            width = count - prev_count
            return prev_le + (le - prev_le) * ((rank - prev_count) / width if width else 1.0)
        prev_le, prev_count = le, count
    return prev_le
