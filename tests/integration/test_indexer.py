"""The indexer against real Kafka and Elasticsearch: valid articles land under their id, every bad
record reaches the DLQ with a reason, nothing is skipped, and committed offsets reach the end.
Faults (write blocks, refused connections, SIGTERM and rebalances while retrying) are in
test_indexer_faults.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings
from tests.integration.indexer_env import (
    all_committed,
    article,
    article_records,
    committed_vs_end,
    dlq_records,
    es_ids,
    private_settings,
    produce,
    setup_index,
    versions,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def private() -> Iterator[Settings]:
    """This test's own topics, group and alias (index/template), cleaned after."""
    with private_settings() as settings:
        yield settings


def test_valid_indexed_bad_dead_lettered_offsets_committed(private: Settings) -> None:
    from ingest.indexer import run_indexer

    setup_index(private)
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
    produce(private, records)

    stats = run_indexer(private, max_idle_seconds=5)

    docs = es_ids(private)
    assert set(docs) == {a.id for a in good}
    assert docs["art001"]["persons"] == ["بوتين"]
    assert docs["art001"]["processing"] == {"version": "test",
                                            "stages": {"clean": 0.5, "enrich": 1.25}}

    dlq = dlq_records(private, expected=len(bad))
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

    committed, end = committed_vs_end(private)
    assert committed == end and sum(end.values()) == len(records)
    # the re-send carries the same external version: refused by ES as superseded, not re-written
    assert stats.dead_lettered == len(bad) and stats.indexed == len(good)
    assert stats.superseded == 1


def test_missing_alias_is_retried_not_skipped(private: Settings) -> None:
    """No alias yet: every write fails with index_not_found. The indexer must neither DLQ nor
    commit; once `setup` runs, the same records are indexed."""
    from ingest.indexer import run_indexer

    good = [article(n) for n in range(5)]
    produce(private, [(a.id.encode(), a.model_dump_json().encode()) for a in good])
    stop = threading.Event()
    result: list[object] = []
    runner = threading.Thread(
        target=lambda: result.append(run_indexer(private, stop_event=stop, max_idle_seconds=6)))
    runner.start()
    try:
        time.sleep(6)
        committed, _ = committed_vs_end(private)
        assert all(v is None for v in committed.values()), committed
        setup_index(private)
        runner.join(timeout=90)
    finally:
        stop.set()
        runner.join(timeout=30)
    assert not runner.is_alive()
    assert set(es_ids(private)) == {a.id for a in good}
    assert dlq_records(private, expected=1, timeout=3) == []
    committed, end = committed_vs_end(private)
    assert committed == end


def test_two_indexers_rebalance_without_losing_records(private: Settings) -> None:
    """A second indexer joins mid-stream: partitions move (revocation with batches in flight),
    yet every record ends up indexed and both partitions are committed to the end."""
    from ingest.index_batch import IndexerStats
    from ingest.indexer import run_indexer

    setup_index(private)
    good = [article(n) for n in range(300)]
    produce(private, [(a.id.encode(), a.model_dump_json().encode()) for a in good])
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
    assert set(es_ids(private)) == {a.id for a in good}
    committed, end = committed_vs_end(private)
    assert committed == end
    assert sum(r.indexed for r in results) >= len(good)  # re-deliveries are allowed, loss is not
    assert sum(r.dead_lettered for r in results) == 0


def test_stop_flushes_the_batch_in_hand(private: Settings) -> None:
    """Stop arrives with a partial batch that is not due yet (60 s batch window): it is indexed
    and committed before the indexer returns, not dropped and not left uncommitted."""
    from ingest.indexer import _Indexer

    setup_index(private)
    slow = private.model_copy(update={"indexer_batch_size": 1000, "indexer_batch_seconds": 60.0,
                                      "indexer_flush_when_drained": False})
    n = 8
    stop = threading.Event()
    indexer = _Indexer.connect(slow, stop)
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(indexer.run(None)), daemon=True)
    runner.start()
    try:
        produce(private, article_records(n))
        wait_until("the batch to be consumed", lambda: indexer.stats.consumed >= n, 60)
        assert versions(private) == {}  # still in hand: the batch window has not elapsed
    finally:
        stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive() and result
    assert result[0].batches == 1 and result[0].indexed == n
    assert versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    committed, end = committed_vs_end(private)
    assert committed == end and sum(end.values()) == n


@pytest.mark.parametrize("quiet_refresh", [0.001, 0.0])  # every quiet batch; never
def test_a_quiet_batch_is_made_searchable_by_its_own_bulk_request(
    private: Settings, quiet_refresh: float
) -> None:
    """With the index's periodic refresh switched off, a trickle of articles becomes searchable
    only because the indexer's bulk request asked for a refresh (quiet batches do); with the
    quiet refresh off, the same committed articles stay invisible until someone refreshes."""
    from ingest.indexer import run_indexer

    setup_index(private)
    es = elasticsearch_client(private)
    try:
        es.indices.put_settings(index=private.es_alias, settings={"refresh_interval": "-1"})
        es.indices.refresh(index=private.es_alias)
        produce(private, article_records(3))
        stats = run_indexer(private.model_copy(
            update={"indexer_quiet_refresh_seconds": quiet_refresh}), max_idle_seconds=3)
        assert stats.indexed == 3 and all_committed(private)
        visible = int(es.count(index=private.es_alias)["count"])
        assert visible == (3 if quiet_refresh else 0)
        es.indices.refresh(index=private.es_alias)
        assert int(es.count(index=private.es_alias)["count"]) == 3
    finally:
        es.close()
