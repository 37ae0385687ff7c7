"""The indexer against real Kafka and Elasticsearch: valid articles land under their id, every bad
record reaches the DLQ with a reason, nothing is skipped, and committed offsets reach the end."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.contract import EnrichedArticle, Entity, Processing, TopicTag
from newsflow.core.settings import Settings, get_settings

pytestmark = pytest.mark.integration
PARTITIONS = 2


def _reachable(settings: Settings) -> str | None:
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


@pytest.fixture()
def private(request: pytest.FixtureRequest) -> Iterator[Settings]:
    """Settings with this test's own topics, group and alias (index/template), cleaned after."""
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
    admin = KafkaAdminClient(**kafka_config(settings))
    admin.create_topics([NewTopic(settings.topic_enriched, PARTITIONS, 1),
                         NewTopic(settings.topic_dlq, 1, 1)])
    try:
        yield settings
    finally:
        with contextlib.suppress(Exception):  # best effort: a leftover topic harms nothing
            admin.delete_topics([settings.topic_enriched, settings.topic_dlq])
        admin.close()
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


def _produce(settings: Settings, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(**kafka_config(settings), acks="all")
    try:
        for key, value in records:
            producer.send(settings.topic_enriched, key=key, value=value).get(timeout=30)
    finally:
        producer.close()


def _committed_vs_end(settings: Settings) -> tuple[dict[int, int | None], dict[int, int]]:
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


def _dlq(settings: Settings, expected: int, timeout: float = 30.0) -> list[dict[str, object]]:
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


def _es_ids(settings: Settings) -> dict[str, dict[str, object]]:

    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        res = es.search(index=settings.es_alias, size=1000, query={"match_all": {}})
        return {h["_id"]: h["_source"] for h in res["hits"]["hits"]}
    finally:
        es.close()


def _setup_index(settings: Settings) -> None:

    from ingest.es_setup import ensure_index

    es = elasticsearch_client(settings)
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
    # the re-send carries the same external version: refused by ES as superseded, not re-written
    assert stats.dead_lettered == len(bad) and stats.indexed == len(good)
    assert stats.superseded == 1


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
    from ingest.index_batch import IndexerStats
    from ingest.indexer import run_indexer

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


# --------------------------------------------------------------------------- fault injection
# Real Kafka, real Elasticsearch; the faults are real too: a write block on the index (ES answers
# every bulk item with 403 cluster_block_exception) and a TCP hop that refuses connections.


def _es(settings: Settings) -> Any:

    return elasticsearch_client(settings)


def _block_writes(settings: Settings, blocked: bool) -> None:
    es = _es(settings)
    try:
        es.indices.put_settings(index=settings.es_alias,
                                settings={"index.blocks.write": True if blocked else None})
    finally:
        es.close()


def _versions(settings: Settings) -> dict[str, int]:
    """_id -> 1 for every document when each was written exactly once (no re-write reached
    the index). Writes carry external versions (ingested_at in ms), so ``_version`` no longer
    counts writes; the index's ``index_total`` does (a refused re-write is not counted)."""
    es = _es(settings)
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


def _records(n: int) -> list[tuple[bytes, bytes]]:
    return [(a.id.encode(), a.model_dump_json().encode()) for a in map(article, range(n))]


def _wait_until(what: str, check: Callable[[], bool], timeout: float,
                interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _all_committed(settings: Settings) -> bool:
    committed, end = _committed_vs_end(settings)
    return committed == end


def _assert_nothing_committed_for(settings: Settings, seconds: float) -> None:
    """While the indexer is retrying, no offset may be committed (nothing is in ES or on the
    DLQ yet), checked repeatedly over ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        committed, end = _committed_vs_end(settings)
        assert sum(end.values()) > 0
        assert not any(committed.values()), f"committed {committed} with nothing indexed"
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)


class _RetryLog(logging.Handler):
    """Counts the indexer's "not indexed ... retrying" warnings, per thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_thread: dict[str, int] = {}
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if "not indexed" in record.msg:
            with self._lock2:
                self.by_thread[record.threadName or "?"] = (
                    self.by_thread.get(record.threadName or "?", 0) + 1)

    def count(self, thread: str | None = None) -> int:
        with self._lock2:
            if thread is None:
                return sum(self.by_thread.values())
            return self.by_thread.get(thread, 0)


@contextlib.contextmanager
def _retry_log() -> Iterator[_RetryLog]:
    logger = logging.getLogger("newsflow.indexer")
    handler = _RetryLog()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


@contextlib.contextmanager
def _indexer_thread(settings: Settings, name: str = "indexer") -> Iterator[list[Any]]:
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


class _Hop:
    """A TCP forwarder on 127.0.0.1 in front of Elasticsearch. Until ``forward()`` it accepts
    and resets every connection (the client sees connection errors); then it pipes bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.refused = 0
        self._forwarding = threading.Event()
        self._closing = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="hop-accept", daemon=True)
        self._acceptor.start()

    def forward(self) -> None:
        self._forwarding.set()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._forwarding.is_set():
                self.refused += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                conn.close()  # RST: "connection reset by peer"
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._socks += [conn, upstream]
                for src, dst in ((conn, upstream), (upstream, conn)):
                    t = threading.Thread(target=self._pipe, args=(src, dst), daemon=True)
                    self._threads.append(t)
                    t.start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self.listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in threads:
            t.join(timeout=5)


def test_write_block_is_retried_never_dead_lettered_or_committed(private: Settings) -> None:
    """A write-blocked index answers every bulk item with 403 cluster_block_exception. That is
    the cluster's state, not the record's fault: the indexer must keep retrying without
    dead-lettering or committing, and index everything once the block is lifted."""
    _setup_index(private)
    _block_writes(private, True)
    n = 12
    try:
        with _retry_log() as retries, _indexer_thread(private):
            _produce(private, _records(n))
            _wait_until("two failed bulk attempts", lambda: retries.count() >= 2, 60)
            _assert_nothing_committed_for(private, 4.0)
            assert _versions(private) == {}
            assert _dlq(private, expected=1, timeout=2) == []
            _block_writes(private, False)
            _wait_until("every offset committed", lambda: _all_committed(private), 60, 0.5)
    finally:
        _block_writes(private, False)
    assert _versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert _dlq(private, expected=1, timeout=2) == []
    committed, end = _committed_vs_end(private)
    assert committed == end and sum(end.values()) == n


def test_connection_errors_are_retried_never_skipped(private: Settings) -> None:
    """The indexer reaches Elasticsearch through a hop that resets every connection at first:
    nothing may be committed or dead-lettered; once the hop forwards, everything is indexed."""
    _setup_index(private)
    hop = _Hop(("127.0.0.1", int(private.es_url.rsplit(":", 1)[1].rstrip("/"))))
    via_hop = private.model_copy(update={"es_url": f"http://127.0.0.1:{hop.port}",
                                         "es_request_timeout": 10.0})
    n = 10
    try:
        with _retry_log() as retries, _indexer_thread(via_hop):
            _produce(private, _records(n))
            _wait_until("two failed bulk attempts", lambda: retries.count() >= 2, 60)
            _assert_nothing_committed_for(private, 4.0)
            assert hop.refused >= 2
            assert _versions(private) == {}
            assert _dlq(private, expected=1, timeout=2) == []
            hop.forward()
            _wait_until("every offset committed", lambda: _all_committed(private), 60, 0.5)
    finally:
        hop.close()
    assert _versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert _dlq(private, expected=1, timeout=2) == []


def test_sigterm_during_retry_commits_nothing_and_loses_nothing(
    private: Settings, tmp_path: Path
) -> None:
    """`newsflow index` is SIGTERM'd while its batch cannot be written: it exits promptly and
    cleanly without committing; a new indexer then re-reads and indexes every record once."""
    from ingest.indexer import run_indexer
    from newsflow.runner import newsflow_argv, settings_env

    _setup_index(private)
    _block_writes(private, True)
    n = 10
    log_path = tmp_path / "index.log"
    try:
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(newsflow_argv("index"), env=settings_env(private),
                                    stdout=log_file, stderr=subprocess.STDOUT)
        try:
            _produce(private, _records(n))
            _wait_until("the indexer to retry",
                        lambda: "not indexed" in log_path.read_text(errors="replace"), 90, 0.5)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        log_text = log_path.read_text(errors="replace")
        assert rc == 0, log_text
        assert "stopped with an unfinished batch" in log_text, log_text
        committed, end = _committed_vs_end(private)
        assert sum(end.values()) == n
        assert not any(committed.values()), committed
        assert _dlq(private, expected=1, timeout=2) == []
        _block_writes(private, False)
    finally:
        _block_writes(private, False)

    result: list[Any] = []
    runner = threading.Thread(
        target=lambda: result.append(run_indexer(private, max_idle_seconds=5)), daemon=True)
    runner.start()
    runner.join(timeout=90)
    assert not runner.is_alive() and result
    assert result[0].indexed == n  # the stopped indexer had committed none of them
    assert _versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    committed, end = _committed_vs_end(private)
    assert committed == end


def test_stop_flushes_the_batch_in_hand(private: Settings) -> None:
    """Stop arrives with a partial batch that is not due yet (60 s batch window): it is indexed
    and committed before the indexer returns, not dropped and not left uncommitted."""
    from ingest.indexer import _Indexer

    _setup_index(private)
    slow = private.model_copy(update={"indexer_batch_size": 1000, "indexer_batch_seconds": 60.0,
                                      "indexer_flush_when_drained": False})
    n = 8
    stop = threading.Event()
    indexer = _Indexer.connect(slow, stop)
    result: list[Any] = []
    runner = threading.Thread(target=lambda: result.append(indexer.run(None)), daemon=True)
    runner.start()
    try:
        _produce(private, _records(n))
        _wait_until("the batch to be consumed", lambda: indexer.stats.consumed >= n, 60)
        assert _versions(private) == {}  # still in hand: the batch window has not elapsed
    finally:
        stop.set()
        runner.join(timeout=60)
    assert not runner.is_alive() and result
    assert result[0].batches == 1 and result[0].indexed == n
    assert _versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    committed, end = _committed_vs_end(private)
    assert committed == end and sum(end.values()) == n


def test_partitions_revoked_during_retry_are_reread_not_double_indexed(
    private: Settings,
) -> None:
    """A second indexer joins while the first is stuck retrying a batch spanning both
    partitions. The first must drop the in-flight records of partitions taken from it (their
    new owner re-reads them from the last commit), so once writes are allowed every document
    is written exactly once (_version 1), nothing is lost and both partitions are committed."""
    _setup_index(private)
    roomy = private.model_copy(update={"indexer_batch_size": 100,
                                       "indexer_batch_seconds": 1.0})
    n = 20
    _produce(private, _records(n))
    _, end = _committed_vs_end(private)
    assert all(end.values()), f"records must span both partitions: {end}"
    _block_writes(private, True)
    try:
        with _retry_log() as retries, _indexer_thread(roomy, "indexer-a") as a:
            _wait_until("indexer-a to retry", lambda: retries.count("indexer-a") >= 1, 60)
            with _indexer_thread(roomy, "indexer-b") as b:
                # b only reaches Elasticsearch once it owns a partition: the rebalance is done.
                _wait_until("indexer-b to retry", lambda: retries.count("indexer-b") >= 1, 60)
                assert not any(_committed_vs_end(private)[0].values())
                _block_writes(private, False)
                _wait_until("every offset committed", lambda: _all_committed(private), 60, 0.5)
    finally:
        _block_writes(private, False)
    stats_a, stats_b = a[0], b[0]
    assert stats_a.dropped_on_revoke > 0  # the scenario happened: a lost in-flight records
    assert stats_b.indexed > 0
    assert stats_a.indexed + stats_b.indexed == n
    assert _versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert _dlq(private, expected=1, timeout=2) == []


@pytest.mark.parametrize("quiet_refresh", [0.001, 0.0])  # every quiet batch; never
def test_a_quiet_batch_is_made_searchable_by_its_own_bulk_request(
    private: Settings, quiet_refresh: float
) -> None:
    """With the index's periodic refresh switched off, a trickle of articles becomes searchable
    only because the indexer's bulk request asked for a refresh (quiet batches do); with the
    quiet refresh off, the same committed articles stay invisible until someone refreshes."""
    from ingest.indexer import run_indexer

    _setup_index(private)
    es = elasticsearch_client(private)
    try:
        es.indices.put_settings(index=private.es_alias, settings={"refresh_interval": "-1"})
        es.indices.refresh(index=private.es_alias)
        _produce(private, _records(3))
        stats = run_indexer(private.model_copy(
            update={"indexer_quiet_refresh_seconds": quiet_refresh}), max_idle_seconds=3)
        assert stats.indexed == 3 and _all_committed(private)
        visible = int(es.count(index=private.es_alias)["count"])
        assert visible == (3 if quiet_refresh else 0)
        es.indices.refresh(index=private.es_alias)
        assert int(es.count(index=private.es_alias)["count"]) == 3
    finally:
        es.close()
