"""Helpers for the indexer's integration tests (tests/integration/test_indexer*.py): a test's own
topics, group and alias on the real stack, records to produce, and what Kafka and
Elasticsearch hold afterwards."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.contract import EnrichedArticle, Entity, Processing, TopicTag
from newsflow.core.settings import Settings, get_settings

PARTITIONS = 2


def reachable(settings: Settings) -> str | None:
    """Why the stack cannot be used, or None when both services answer."""
    from kafka import KafkaAdminClient

    es = elasticsearch_client(settings)
    try:
        es.options(request_timeout=3).info()
    except Exception as exc:
        return f"Elasticsearch at {settings.es_url} unreachable ({type(exc).__name__})"
    finally:
        es.close()
    try:
        admin = KafkaAdminClient(**kafka_config(settings), request_timeout_ms=5000)
        admin.close()
    except Exception as exc:
        return f"Kafka at {settings.kafka_bootstrap_servers} unreachable ({type(exc).__name__})"
    return None


@contextlib.contextmanager
def private_settings() -> Iterator[Settings]:
    """Settings with a test's own topics, group and alias (index/template), cleaned after."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    base = get_settings()
    why = reachable(base)
    if why:
        pytest.skip(f"{why}: start the stack with `newsflow stack up`")
    uid = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "topic_enriched": f"t{uid}.enriched", "topic_dlq": f"t{uid}.dlq",
        "es_alias": f"t{uid}-news", "indexer_group": f"newsflow-indexer-t{uid}",
        "indexer_batch_size": 4, "indexer_batch_seconds": 0.3,
        "indexer_max_retry_seconds": 2.0,
    })
    admin = KafkaAdminClient(**kafka_config(settings))
    admin.create_topics([NewTopic(settings.topic_enriched, PARTITIONS, 1),
                         NewTopic(settings.topic_dlq, 1, 1)])
    try:
        yield settings
    finally:
        with contextlib.suppress(Exception):  # best effort: a leftover topic harms nothing
            admin.delete_topics([settings.topic_enriched, settings.topic_dlq])
        admin.close()
        drop_index(settings)


def drop_index(settings: Settings) -> None:
    """Deletes the indices and the template behind ``settings.es_alias`` (absent is fine)."""
    es = elasticsearch_client(settings)
    es.options(ignore_status=404).indices.delete(index=f"{settings.es_alias}-*")
    es.options(ignore_status=404).indices.delete_index_template(
        name=f"{settings.es_alias}-template")
    es.close()


def article(n: int) -> EnrichedArticle:
    return EnrichedArticle(
        id=f"art{n:03d}", url=f"https://example.com/news/{n}", source="example",
        title=f"خبر رقم {n} عن بوتين", body=f"قال الرئيس الروسي فلاديمير بوتين في الخبر {n}",
        body_normalized=f"قال الرئيس الروسي فلاديمير بوتين في الخبر {n}", language="ar",
        published_at=datetime(2024, 5, 1, tzinfo=UTC), ingested_at=datetime.now(UTC),
        entities=[Entity(type="PERS", text="بوتين", canonical="بوتين", start=26, end=31,
                         confidence=0.9)],
        topics=[TopicTag(label="politics", score=2.0, evidence=["الرئيس"])],
        processing=Processing(version="test", stages={"clean": 0.5, "enrich": 1.25}),
    )


def produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**kafka_config(settings), acks="all")
    try:
        for key, value in records:
            producer.send(settings.topic_enriched, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def committed_vs_end(settings: Settings) -> tuple[dict[int, int | None], dict[int, int]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_config(settings), group_id=settings.indexer_group,
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(settings.topic_enriched, p) for p in range(PARTITIONS)]
        end = {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
        committed = {tp.partition: consumer.committed(tp) for tp in tps}
    finally:
        consumer.close()
    return committed, end


def dlq_records(settings: Settings, expected: int, timeout: float = 30.0
                ) -> list[dict[str, object]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(settings.topic_dlq, **kafka_config(settings),
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=1000)
    out: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(orjson.loads(m.value) for m in consumer)
    finally:
        consumer.close()
    return out


def es_ids(settings: Settings) -> dict[str, dict[str, object]]:

    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        res = es.search(index=settings.es_alias, size=1000, query={"match_all": {}})
        return {h["_id"]: h["_source"] for h in res["hits"]["hits"]}
    finally:
        es.close()


def setup_index(settings: Settings) -> None:

    from ingest.es_setup import ensure_index

    es = elasticsearch_client(settings)
    try:
        ensure_index(es, settings)
    finally:
        es.close()


def block_writes(settings: Settings, blocked: bool) -> None:
    es = elasticsearch_client(settings)
    try:
        es.indices.put_settings(index=settings.es_alias,
                                settings={"index.blocks.write": True if blocked else None})
    finally:
        es.close()


def versions(settings: Settings) -> dict[str, int]:
    """_id -> 1 for every document when each was written exactly once (no re-write reached
    the index). Writes carry external versions (ingested_at in ms), so ``_version`` no longer
    counts writes; the index's ``index_total`` does (a refused re-write is not counted)."""
    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        res = es.search(index=settings.es_alias, size=1000, source=False,
                        query={"match_all": {}})
        ids = [h["_id"] for h in res["hits"]["hits"]]
        stats = es.indices.stats(index=settings.es_alias, metric="indexing")
        writes = stats["_all"]["primaries"]["indexing"]["index_total"]
        return {i: writes // len(ids) if writes % len(ids) == 0 else writes / len(ids)
                for i in ids}
    finally:
        es.close()


def article_records(n: int) -> list[tuple[bytes, bytes]]:
    return [(a.id.encode(), a.model_dump_json().encode()) for a in map(article, range(n))]


def wait_until(what: str, check: Callable[[], bool], timeout: float,
                interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def all_committed(settings: Settings) -> bool:
    committed, end = committed_vs_end(settings)
    return committed == end


def assert_nothing_committed_for(settings: Settings, seconds: float) -> None:
    """While the indexer is retrying, no offset may be committed (nothing is in ES or on the
    DLQ yet), checked repeatedly over ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        committed, end = committed_vs_end(settings)
        assert sum(end.values()) > 0
        assert not any(committed.values()), f"committed {committed} with nothing indexed"
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)


@contextlib.contextmanager
def indexer_thread(settings: Settings, name: str = "indexer") -> Iterator[list[Any]]:
    """``run_indexer`` in a thread until the block exits; yields the list its stats land in."""
    from ingest.indexer import run_indexer

    stop = threading.Event()
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run_indexer(settings, stop)),
                              name=name, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive(), f"{name} did not stop within 60s of stop_event"
    assert result, f"{name} crashed (no stats returned)"
