"""The indexer against real Kafka and Elasticsearch: valid articles land under their id, every bad
record reaches the DLQ with a reason, nothing is skipped, and committed offsets reach the end."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest

from newsflow.articles import EnrichedArticle, Entity, Processing, Topic
from newsflow.settings import Settings, get_settings

pytestmark = pytest.mark.integration
PARTITIONS = 2


def _reachable(settings: Settings) -> str | None:
    """Why the stack cannot be used, or None when both services answer."""
    from elasticsearch import Elasticsearch
    from kafka import KafkaAdminClient

    es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
    try:
        es.options(request_timeout=3).info()
    except Exception as exc:
        return f"Elasticsearch at {settings.es_url} unreachable ({type(exc).__name__})"
    finally:
        es.close()
    try:
        admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=5000)
        admin.close()
    except Exception as exc:
        return f"Kafka at {settings.kafka_bootstrap_servers} unreachable ({type(exc).__name__})"
    return None


@pytest.fixture()
def private(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings with this test's own topics, group and alias (index/template), cleaned after."""
    from elasticsearch import Elasticsearch
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    base = get_settings()
    why = _reachable(base)
    if why:
        pytest.skip(f"{why}: start the stack with `newsflow stack up`")
    uid = uuid.uuid4().hex[:8]
    settings = base.model_copy(update={
        "topic_enriched": f"t{uid}.enriched", "topic_dlq": f"t{uid}.dlq",
        "es_alias": f"t{uid}-news", "indexer_group": f"newsflow-indexer-t{uid}",
        "indexer_batch_size": 4, "indexer_batch_seconds": 0.3,
        "indexer_max_retry_seconds": 2.0,
    })
    admin = KafkaAdminClient(**settings.kafka_client_config())
    admin.create_topics([NewTopic(settings.topic_enriched, PARTITIONS, 1),
                         NewTopic(settings.topic_dlq, 1, 1)])
    try:
        yield settings
    finally:
        with contextlib.suppress(Exception):  # best effort: a leftover topic harms nothing
            admin.delete_topics([settings.topic_enriched, settings.topic_dlq])
        admin.close()
        es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
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
        topics=[Topic(label="politics", score=2.0, evidence=["الرئيس"])],
        processing=Processing(version="test", stages={"clean": 0.5, "enrich": 1.25}),
    )


def _produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**settings.kafka_client_config(), acks="all")
    try:
        for key, value in records:
            producer.send(settings.topic_enriched, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def _committed_vs_end(settings: Settings) -> tuple[dict[int, int | None], dict[int, int]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**settings.kafka_client_config(), group_id=settings.indexer_group,
                             enable_auto_commit=False)
    try:
        tps = [TopicPartition(settings.topic_enriched, p) for p in range(PARTITIONS)]
        end = {tp.partition: off for tp, off in consumer.end_offsets(tps).items()}
        committed = {tp.partition: consumer.committed(tp) for tp in tps}
    finally:
        consumer.close()
    return committed, end


def _dlq(settings: Settings, expected: int, timeout: float = 30.0) -> list[dict[str, object]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(settings.topic_dlq, **settings.kafka_client_config(),
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


def _es_ids(settings: Settings) -> dict[str, dict[str, object]]:
    from elasticsearch import Elasticsearch

    es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
    try:
        es.indices.refresh(index=settings.es_alias)
        res = es.search(index=settings.es_alias, size=1000, query={"match_all": {}})
        return {h["_id"]: h["_source"] for h in res["hits"]["hits"]}
    finally:
        es.close()


def _setup_index(settings: Settings) -> None:
    from elasticsearch import Elasticsearch

    from ingest.es_setup import ensure_index

    es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
    try:
        ensure_index(es, settings)
    finally:
        es.close()


def test_valid_indexed_bad_dead_lettered_offsets_committed(private: Settings) -> None:
    from ingest.indexer import run_indexer

    _setup_index(private)
    good = [article(n) for n in range(10)]
    wrong_date = orjson.loads(article(90).model_dump_json())
    wrong_date["published_at"] = "not a date"
    immense = article(91).model_copy(update={"url": "https://example.com/" + "a" * 40_000})
    bad: list[tuple[bytes, bytes]] = [
        (b"bad-json", b'{"id": "broken", '),
        (b"bad-date", orjson.dumps(wrong_date)),
        (b"bad-utf8", b"\xff\xfe not utf-8"),
        # Valid for the contract, refused by Elasticsearch (term over 32766 bytes in `url`).
        (immense.id.encode(), immense.model_dump_json().encode()),
    ]
    records = [(a.id.encode(), a.model_dump_json().encode()) for a in good]
    records[3:3] = bad[:2]
    records += bad[2:]
    records.append((good[0].id.encode(), good[0].model_dump_json().encode()))  # a re-send
    _produce(private, records)

    stats = run_indexer(private, max_idle_seconds=5)

    docs = _es_ids(private)
    assert set(docs) == {a.id for a in good}
    assert docs["art001"]["persons"] == ["بوتين"]
    assert docs["art001"]["processing"] == {"version": "test",
                                            "stages": {"clean": 0.5, "enrich": 1.25}}

    dlq = _dlq(private, expected=len(bad))
    assert len(dlq) == len(bad)
    by_key = {d["key"]: d for d in dlq}
    assert set(by_key) == {"bad-json", "bad-date", "bad-utf8", immense.id}
    assert all(d["stage"] == "index" and d["error"] for d in dlq)
    assert all(d["source_topic"] == private.topic_enriched for d in dlq)
    assert by_key["bad-json"]["error_type"] == "json_decode_error"
    assert by_key["bad-json"]["original"] == '{"id": "broken", '
    assert by_key["bad-date"]["error_type"] == "validation_error"
    assert by_key["bad-utf8"]["original_b64"]
    # ES 8.x wraps the root cause (illegal_argument_exception) in document_parsing_exception
    assert by_key[immense.id]["error_type"] in {"document_parsing_exception",
                                                "illegal_argument_exception"}
    assert "immense term" in str(by_key[immense.id]["error"])

    committed, end = _committed_vs_end(private)
    assert committed == end and sum(end.values()) == len(records)
    assert stats.dead_lettered == len(bad) and stats.indexed == len(good) + 1


def test_missing_alias_is_retried_not_skipped(private: Settings) -> None:
    """No alias yet: every write fails with index_not_found. The indexer must neither DLQ nor
    commit; once `setup` runs, the same records are indexed."""
    from ingest.indexer import run_indexer

    good = [article(n) for n in range(5)]
    _produce(private, [(a.id.encode(), a.model_dump_json().encode()) for a in good])
    stop = threading.Event()
    result: list[object] = []
    runner = threading.Thread(
        target=lambda: result.append(run_indexer(private, stop_event=stop, max_idle_seconds=6)))
    runner.start()
    try:
        time.sleep(6)
        committed, _ = _committed_vs_end(private)
        assert all(v is None for v in committed.values()), committed
        _setup_index(private)
        runner.join(timeout=90)
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert set(_es_ids(private)) == {a.id for a in good}
    assert _dlq(private, expected=1, timeout=3) == []
    committed, end = _committed_vs_end(private)
    assert committed == end


def test_two_indexers_rebalance_without_losing_records(private: Settings) -> None:
    """A second indexer joins mid-stream: partitions move (revocation with batches in flight),
    yet every record ends up indexed and both partitions are committed to the end."""
    from ingest.indexer import IndexerStats, run_indexer

    _setup_index(private)
    good = [article(n) for n in range(300)]
    _produce(private, [(a.id.encode(), a.model_dump_json().encode()) for a in good])
    results: list[IndexerStats] = []

    def worker() -> None:
        results.append(run_indexer(private, max_idle_seconds=8))

    first = threading.Thread(target=worker)
    second = threading.Thread(target=worker)
    first.start()
    time.sleep(1.0)
    second.start()
    first.join(timeout=120)
    second.join(timeout=120)
    assert not first.is_alive() and not second.is_alive()
    assert set(_es_ids(private)) == {a.id for a in good}
    committed, end = _committed_vs_end(private)
    assert committed == end
    assert sum(r.indexed for r in results) >= len(good)  # re-deliveries are allowed, loss is not
    assert sum(r.dead_lettered for r in results) == 0
