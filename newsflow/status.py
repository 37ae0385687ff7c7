"""``newsflow status``: one screen about a running pipeline, from what it exposes -- the worker's
and the indexer's ``/metrics`` (two scrapes ``interval`` apart give rates), Kafka (lag, the
dead-letter topic's size) and Elasticsearch (cluster health, documents in the alias)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from newsflow.core.metrics import histogram_quantile, parse_exposition, total
from newsflow.core.settings import Settings

Samples = dict[str, list[tuple[dict[str, str], float]]]


@dataclass
class Endpoint:
    station: str
    url: str
    before: Samples | None = None
    after: Samples | None = None
    error: str | None = None
    seconds: float = 0.0


@dataclass
class Status:
    endpoints: list[Endpoint] = field(default_factory=list)
    kafka: str = "?"
    elasticsearch: str = "?"
    documents: int | None = None
    lag: dict[str, int] = field(default_factory=dict)
    dead_letters: int | None = None


def scrape(url: str, timeout: float = 3.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return parse_exposition(resp.read().decode("utf-8"))


def default_endpoints(settings: Settings) -> list[Endpoint]:
    return [
        Endpoint("worker", f"http://127.0.0.1:{settings.worker_web_port}/metrics"),
        Endpoint("indexer", f"http://127.0.0.1:{settings.indexer_metrics_port}/metrics"),
    ]


def scrape_twice(endpoints: Sequence[Endpoint], interval: float) -> None:
    t0 = time.monotonic()
    for ep in endpoints:
        try:
            ep.before = scrape(ep.url)
        except Exception as exc:
            ep.error = f"{type(exc).__name__}: {exc}"
    time.sleep(interval)
    for ep in endpoints:
        if ep.error is None:
            try:
                ep.after = scrape(ep.url)
            except Exception as exc:
                ep.error = f"{type(exc).__name__}: {exc}"
        ep.seconds = time.monotonic() - t0


def _kafka_facts(settings: Settings, status: Status) -> None:
    from kafka import KafkaConsumer, TopicPartition

    from ingest.lag import consumer_lag
    from newsflow.core.clients import kafka_config

    try:
        for row in consumer_lag(settings):
            status.lag[row.group] = status.lag.get(row.group, 0) + row.lag
        consumer = KafkaConsumer(**kafka_config(settings), group_id=None)
        try:
            parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
            tps = [TopicPartition(settings.topic_dlq, p) for p in parts]
            starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
            status.dead_letters = sum(ends[tp] - starts[tp] for tp in tps)
        finally:
            consumer.close()
        status.kafka = "up"
    except Exception as exc:
        status.kafka = f"unreachable ({type(exc).__name__})"


def _es_facts(settings: Settings, status: Status) -> None:
    from newsflow.core.clients import elasticsearch_client

    try:
        es = elasticsearch_client(settings, request_timeout=5)
        try:
            status.elasticsearch = str(es.cluster.health()["status"])
            status.documents = int(es.count(index=settings.es_alias)["count"])
        finally:
            es.close()
    except Exception as exc:
        status.elasticsearch = f"unreachable ({type(exc).__name__})"


def collect(settings: Settings, endpoints: list[Endpoint], interval: float = 2.0) -> Status:
    status = Status(endpoints=endpoints)
    scrape_twice(endpoints, interval)
    _kafka_facts(settings, status)
    _es_facts(settings, status)
    return status


def rate(ep: Endpoint, name: str, **match: str) -> float | None:
    if ep.before is None or ep.after is None or ep.seconds <= 0:
        return None
    a, b = total(ep.before, name, **match), total(ep.after, name, **match)
    return None if a is None or b is None else (b - a) / ep.seconds


def endpoint_rows(ep: Endpoint) -> list[tuple[str, str]]:
    """(label, value) lines for one station: rates, lag, dead letters, RSS, latency."""
    if ep.error is not None or ep.after is None:
        return [("metrics", f"unreachable at {ep.url} ({ep.error})")]
    s, st = ep.after, ep.station
    rows = [
        ("records in /s", _num(rate(ep, "newsflow_records_in_total", station=st))),
        ("records out /s", _num(rate(ep, "newsflow_records_out_total", station=st))),
        ("consumed (total)", _num(total(s, "newsflow_records_in_total", station=st))),
        ("consumer lag", _num(total(s, "newsflow_consumer_lag", station=st))),
        ("dead letters (since start)", _num(total(s, "newsflow_dead_letters_total",
                                                  station=st) or 0.0)),
        ("RSS", _mb(total(s, "process_resident_memory_bytes"))),
    ]
    if st == "indexer":
        for q in (0.5, 0.99):
            value = histogram_quantile(s, "newsflow_produce_to_indexed_seconds", q)
            rows.append((f"produce→indexed p{int(q * 100)}", _sec(value)))
        rows.append(("bulk p99", _sec(histogram_quantile(s, "newsflow_es_bulk_seconds", 0.99))))
    else:
        for stage in ("entities", "topics", "dedup"):
            value = histogram_quantile(s, "newsflow_stage_seconds", 0.99, station=st,
                                       stage=stage)
            rows.append((f"{stage} p99", _sec(value)))
        rows.extend(dedup_stage_rows(ep))
    return rows


def dedup_stage_rows(ep: Endpoint) -> list[tuple[str, str]]:
    """The near-duplicate stage (station ``dedup``), shown by the one worker that runs it."""
    s = ep.after
    if s is None or not total(s, "newsflow_records_in_total", station="dedup"):
        return []
    decide = histogram_quantile(s, "newsflow_stage_seconds", 0.99, station="dedup",
                                stage="decide")
    return [
        ("near-duplicate stage out /s", _num(rate(ep, "newsflow_records_out_total",
                                                  station="dedup"))),
        ("near-duplicate stage lag", _num(total(s, "newsflow_consumer_lag", station="dedup"))),
        ("near-duplicate decide p99", _sec(decide)),
    ]


def _num(v: float | None) -> str:
    return "-" if v is None else (f"{v:,.1f}" if v % 1 else f"{int(v):,}")


def _mb(v: float | None) -> str:
    return "-" if v is None else f"{v / 2**20:,.0f} MB"


def _sec(v: float | None) -> str:
    return "-" if v is None else (f"{v * 1000:,.1f} ms" if v < 1 else f"{v:,.2f} s")


def as_dict(status: Status) -> dict[str, Any]:
    return {
        "kafka": status.kafka, "elasticsearch": status.elasticsearch,
        "documents": status.documents, "lag": status.lag, "dead_letters": status.dead_letters,
        "stations": {f"{ep.station} {ep.url}": dict(endpoint_rows(ep))
                     for ep in status.endpoints},
    }
