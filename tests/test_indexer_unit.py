"""The indexer's decisions, without Kafka or Elasticsearch: what a record or a bulk item result
means, what goes to the DLQ, and which offsets may be committed."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elastic_transport import ConnectionError as TransportConnectionError
from elasticsearch import ApiError
from kafka import TopicPartition

from ingest.indexer import (
    Failure,
    Prepared,
    SourceRecord,
    Verdict,
    _Indexer,
    _Revocations,
    backoff_delay,
    bulk_lines,
    chunk_by_bytes,
    classify_bulk_response,
    classify_item,
    classify_request_error,
    committable_offsets,
    dead_letter,
    drop_stale,
    prepare,
)
from newsflow.articles import DeadLetter, EnrichedArticle, Entity, Processing, Topic
from newsflow.deadletter import original_bytes
from newsflow.settings import Settings


def article(n: int = 1, **kw: object) -> EnrichedArticle:
    base: dict[str, object] = {
        "id": f"id{n}",
        "url": f"https://example.com/{n}",
        "source": "example",
        "title": "بوتين يزور لبنان",
        "body": "قال الرئيس فلاديمير بوتين إن لبنان",
        "ingested_at": datetime(2024, 5, 1, tzinfo=UTC),
        "entities": [Entity(type="PERS", text="بوتين", canonical="بوتين", start=21, end=26,
                            confidence=0.9)],
        "topics": [Topic(label="politics", score=2.0, evidence=["الرئيس"])],
        "processing": Processing(version="1", stages={"clean": 1.5}),
    }
    base.update(kw)
    return EnrichedArticle.model_validate(base)


def rec(value: bytes | None, offset: int = 0, partition: int = 0, key: bytes | None = b"k",
        topic: str = "news.enriched") -> SourceRecord:
    return SourceRecord(topic, partition, offset, key, value)


# --------------------------------------------------------------------------- prepare


def test_prepare_valid_record_renders_es_doc_with_article_id() -> None:
    out = prepare(rec(article(7).model_dump_json().encode()))
    assert isinstance(out, Prepared)
    assert out.doc_id == "id7"
    doc = orjson.loads(out.source)
    assert doc["persons"] == ["بوتين"] and doc["topic_labels"] == ["politics"]


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (b"{not json", "json_decode_error"),
        (b"\xff\xfe\x00garbage", "unicode_decode_error"),
        (None, "empty_record"),
        (b'{"id": "x"}', "validation_error"),
        (b"[1, 2]", "validation_error"),
    ],
)
def test_prepare_bad_records_are_failures(value: bytes | None, error_type: str) -> None:
    out = prepare(rec(value))
    assert isinstance(out, Failure)
    assert out.error_type == error_type and out.error


def test_prepare_rejects_wrong_date_string() -> None:
    data = orjson.loads(article().model_dump_json())
    data["published_at"] = "yesterday-ish"
    out = prepare(rec(orjson.dumps(data)))
    assert isinstance(out, Failure) and out.error_type == "validation_error"
    assert "published_at" in out.error


# --------------------------------------------------------------------------- bulk items


def item(status: int, error: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"_index": "news-v1", "_id": "x", "status": status}
    if error:
        body["error"] = error
    return {"index": body}


MAPPER_ERROR: dict[str, Any] = {
    "type": "document_parsing_exception",
    "reason": "[1:20] failed to parse field [published_at] of type [date]",
    "caused_by": {"type": "illegal_argument_exception", "reason": "failed to parse date field"},
}


@pytest.mark.parametrize(
    ("it", "verdict"),
    [
        (item(201), Verdict.OK),
        (item(200), Verdict.OK),
        (item(400, MAPPER_ERROR), Verdict.DEAD),
        (item(400, {"type": "mapper_parsing_exception", "reason": "x"}), Verdict.DEAD),
        (item(400, {"type": "strict_dynamic_mapping_exception", "reason": "x"}), Verdict.DEAD),
        (item(413, {"type": "too_large", "reason": "x"}), Verdict.DEAD),
        (item(429, {"type": "es_rejected_execution_exception", "reason": "queue full"}),
         Verdict.RETRY),
        (item(503, {"type": "unavailable_shards_exception", "reason": "x"}), Verdict.RETRY),
        (item(500, {"type": "internal", "reason": "x"}), Verdict.RETRY),
        (item(404, {"type": "index_not_found_exception", "reason": "no such index [news]"}),
         Verdict.RETRY),
        (item(403, {"type": "cluster_block_exception", "reason": "read-only"}), Verdict.RETRY),
        ({"index": {"_id": "x"}}, Verdict.RETRY),  # no status: cannot call it done
        ({}, Verdict.RETRY),
    ],
)
def test_classify_item(it: dict[str, Any], verdict: Verdict) -> None:
    assert classify_item(it)[0] is verdict


def test_classify_item_reports_root_cause() -> None:
    verdict, etype, reason = classify_item(item(400, MAPPER_ERROR))
    assert verdict is Verdict.DEAD and etype == "document_parsing_exception"
    assert "published_at" in reason and "failed to parse date field" in reason


def _prepared(n: int, partition: int = 0) -> Prepared:
    return Prepared(rec(b"{}", offset=n, partition=partition), f"id{n}", b"{}")


def test_classify_bulk_response_pairs_items_in_order() -> None:
    sent = [_prepared(0), _prepared(1), _prepared(2)]
    out = classify_bulk_response(sent, [item(201), item(400, MAPPER_ERROR), item(429)])
    assert [p.doc_id for p in out.ok] == ["id0"]
    assert [f.record.offset for f in out.dead] == [1]
    assert [p.doc_id for p in out.retry] == ["id2"]


def test_classify_bulk_response_count_mismatch_retries_everything() -> None:
    sent = [_prepared(0), _prepared(1)]
    out = classify_bulk_response(sent, [item(201)])
    assert out.retry == sent and not out.ok and not out.dead


@pytest.mark.parametrize(
    ("status", "verdict"),
    [(None, Verdict.RETRY), (429, Verdict.RETRY), (502, Verdict.RETRY), (401, Verdict.RETRY),
     (404, Verdict.RETRY), (413, Verdict.DEAD), (400, Verdict.DEAD)],
)
def test_classify_request_error(status: int | None, verdict: Verdict) -> None:
    assert classify_request_error(status) is verdict


# --------------------------------------------------------------------------- DLQ records


def test_dead_letter_keeps_text_and_provenance() -> None:
    f = Failure(rec(b"{not json", offset=41, partition=2, key=b"abc"), "json_decode_error", "bad")
    dl = dead_letter(f, now=lambda: datetime(2024, 1, 1, tzinfo=UTC))
    assert isinstance(dl, DeadLetter)
    assert (dl.stage, dl.error_type, dl.error) == ("index", "json_decode_error", "bad")
    assert dl.original == "{not json" and dl.original_b64 is None
    assert (dl.key, dl.source_topic, dl.source_partition, dl.source_offset) == (
        "abc", "news.enriched", 2, 41)
    assert dl.ts == datetime(2024, 1, 1, tzinfo=UTC)


def test_dead_letter_binary_record_goes_base64() -> None:
    raw = b"\xff\xfe\x00"
    dl = dead_letter(Failure(rec(raw, key=None), "unicode_decode_error", "x"))
    assert dl.original is None and base64.b64decode(dl.original_b64 or "") == raw
    assert dl.key is None


# --------------------------------------------------------------------------- offsets


def test_committable_offsets_all_handled() -> None:
    recs = [rec(b"", offset=o, partition=p) for p, o in [(0, 5), (0, 6), (1, 10), (0, 9)]]
    assert committable_offsets(recs) == {("news.enriched", 0): 10, ("news.enriched", 1): 11}


def test_committable_offsets_stop_before_first_unhandled() -> None:
    recs = [rec(b"", offset=o) for o in (3, 4, 5, 6)]
    blocked = [recs[2], recs[3]]
    assert committable_offsets(recs, blocked) == {("news.enriched", 0): 5}


def test_committable_offsets_nothing_when_first_is_unhandled() -> None:
    recs = [rec(b"", offset=o) for o in (3, 4)]
    other = rec(b"", offset=7, partition=1)
    assert committable_offsets([*recs, other], [recs[0]]) == {("news.enriched", 1): 8}


def test_committable_offsets_tolerate_gaps() -> None:
    # Compaction / transaction markers: offsets need not be contiguous.
    recs = [rec(b"", offset=o) for o in (10, 13, 20)]
    assert committable_offsets(recs) == {("news.enriched", 0): 21}


def test_drop_stale_after_revocation() -> None:
    old = rec(b"", offset=1, partition=1)  # polled before partition 1 was revoked once
    fresh = SourceRecord(TOPIC, 1, 1, b"k", b"", epoch=1)  # re-read after it came back
    kept = rec(b"", offset=1, partition=0)
    epochs = {(TOPIC, 1): 1}
    assert drop_stale([kept, old, fresh], epochs) == [kept, fresh]
    prepared = [Prepared(old, "a", b"{}"), Prepared(kept, "b", b"{}")]
    assert drop_stale(prepared, epochs) == [prepared[1]]
    assert drop_stale([kept, old], {}) == [kept, old]


# --------------------------------------------------------------------------- backoff, bulk body


def test_backoff_grows_then_caps_with_jitter() -> None:
    lo = [backoff_delay(a, cap=10.0, rand=lambda: 0.0) for a in range(1, 9)]
    hi = [backoff_delay(a, cap=10.0, rand=lambda: 1.0) for a in range(1, 9)]
    assert lo == sorted(lo) and hi == sorted(hi)
    assert hi[0] == 0.5 and lo[0] == 0.25
    assert max(hi) == 10.0 and max(lo) == 5.0


def test_bulk_lines_use_article_id_and_no_index() -> None:
    action, source = bulk_lines(Prepared(rec(b"{}"), "abc", b'{"a":1}'))
    assert orjson.loads(action) == {"index": {"_id": "abc"}}
    assert source == b'{"a":1}'


def test_chunk_by_bytes_splits_and_isolates_oversize() -> None:
    small = [Prepared(rec(b""), f"s{i}", b"x" * 100) for i in range(5)]
    big = Prepared(rec(b""), "big", b"x" * 5000)
    chunks = list(chunk_by_bytes([*small[:2], big, *small[2:]], max_bytes=500))
    assert [len(c) for c in chunks] == [2, 1, 3]
    assert chunks[1] == [big]
    assert sum(len(c) for c in chunks) == 6


# --------------------------------------------------------------------------- the shell, with fakes
# The Kafka/ES shell driven by in-memory fakes: the order of effects (index, DLQ acknowledged,
# then commit) and what happens on retries, revocation and shutdown.

TOPIC = "news.enriched"


class Resp:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body


class FakeES:
    """Answers each bulk call with the next scripted reaction: a list of item statuses (one per
    document sent) or an exception to raise."""

    def __init__(self, script: list[Any], events: list[str]) -> None:
        self.script = script
        self.calls: list[list[str]] = []
        self.events = events

    def bulk(self, index: str, operations: list[bytes], require_alias: bool) -> Resp:
        assert require_alias and index == "news"
        ids = [orjson.loads(line)["index"]["_id"] for line in operations[::2]]
        self.calls.append(ids)
        self.events.append(f"bulk {ids}")
        step = self.script.pop(0) if self.script else [201] * len(ids)
        if isinstance(step, Exception):
            raise step
        items = []
        for doc_id, status in zip(ids, step, strict=True):
            body: dict[str, Any] = {"_id": doc_id, "status": status}
            if status >= 300:
                body["error"] = {"type": "mapper_parsing_exception" if status == 400
                                 else "es_rejected_execution_exception", "reason": "x"}
            items.append({"index": body})
        return Resp({"items": items})

    def close(self) -> None:
        pass


class FakeFuture:
    def __init__(self, events: list[str], what: str) -> None:
        self.events, self.what = events, what

    def get(self, timeout: float) -> None:
        self.events.append(f"dlq acked {self.what}")


class FakeProducer:
    def __init__(self, events: list[str]) -> None:
        self.events = events
        self.sent: list[dict[str, Any]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> FakeFuture:
        self.sent.append(orjson.loads(value))
        return FakeFuture(self.events, str(key))

    def close(self) -> None:
        pass


class FakeConsumer:
    def __init__(self, records: list[SourceRecord], partitions: int, events: list[str],
                 rev: _Revocations) -> None:
        self.queue = list(records)
        self.assigned = {TopicPartition(TOPIC, p) for p in range(partitions)}
        self.paused: set[TopicPartition] = set()
        self.events = events
        self.rev = rev
        self.commits: list[dict[tuple[str, int], int]] = []
        self.on_paused_poll: Any = None

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[SourceRecord]]:
        if self.paused and self.on_paused_poll:
            self.on_paused_poll(self)
        ready = [r for r in self.queue if TopicPartition(r.topic, r.partition) not in self.paused]
        take = ready[:max_records]
        if not take:
            time.sleep(min(timeout_ms / 1000, 0.005))
        out: dict[TopicPartition, list[SourceRecord]] = {}
        for r in take:
            self.queue.remove(r)
            out.setdefault(TopicPartition(r.topic, r.partition), []).append(r)
        return out

    def revoke(self, partition: int) -> None:
        tp = TopicPartition(TOPIC, partition)
        self.assigned.discard(tp)
        self.paused.discard(tp)
        self.rev.on_partitions_revoked([tp])

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *tps: TopicPartition) -> None:
        self.paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self.paused -= set(tps)

    def commit(self, offsets: dict[TopicPartition, Any]) -> None:
        self.events.append("commit")
        self.commits.append({(tp.topic, tp.partition): om.offset for tp, om in offsets.items()})

    def highwater(self, tp: TopicPartition) -> int:
        return 0

    def position(self, tp: TopicPartition) -> int:
        return 0

    def close(self) -> None:
        pass


def good(n: int, partition: int = 0, offset: int | None = None) -> SourceRecord:
    return rec(article(n).model_dump_json().encode(), offset=n if offset is None else offset,
               partition=partition, key=f"id{n}".encode())


def shell(records: list[SourceRecord], script: list[Any], partitions: int = 1,
          ) -> tuple[_Indexer, FakeES, FakeProducer, FakeConsumer, list[str]]:
    events: list[str] = []
    rev = _Revocations()
    rev.assigned_once.set()
    consumer = FakeConsumer(records, partitions, events, rev)
    es = FakeES(script, events)
    producer = FakeProducer(events)
    settings = Settings(indexer_batch_size=50, indexer_batch_seconds=0.05,
                        indexer_max_retry_seconds=0.01)
    idx = _Indexer(settings, threading.Event(), es, consumer, producer, rev)
    return idx, es, producer, consumer, events


def test_shell_dead_letters_then_commits_and_retries_only_failed_items() -> None:
    records = [good(0), rec(b"{oops", offset=1), good(2), good(3)]
    idx, es, producer, consumer, events = shell(records, [[201, 400, 429]])
    stats = idx.run(max_idle_seconds=0.3)
    assert es.calls == [["id0", "id2", "id3"], ["id3"]]  # only the 429 item is re-sent
    assert sorted(d["source_offset"] for d in producer.sent) == [1, 2]
    assert {d["error_type"] for d in producer.sent} == {"json_decode_error",
                                                       "mapper_parsing_exception"}
    assert consumer.commits == [{(TOPIC, 0): 4}]
    # DLQ acknowledged before the commit that covers those records
    assert events.index("commit") > max(i for i, e in enumerate(events) if e.startswith("dlq"))
    assert (stats.indexed, stats.dead_lettered, stats.retries) == (2, 2, 1)


def test_shell_connection_errors_are_retried_never_skipped() -> None:
    down = TransportConnectionError("connection refused")
    idx, es, producer, consumer, _ = shell([good(0), good(1)], [down, down, [201, 201]])
    stats = idx.run(max_idle_seconds=0.3)
    assert es.calls == [["id0", "id1"]] * 3
    assert producer.sent == [] and consumer.commits == [{(TOPIC, 0): 2}]
    assert stats.indexed == 2 and stats.retries == 4


def _api_error(status: int) -> ApiError:
    meta = ApiResponseMeta(status=status, http_version="1.1", headers=HttpHeaders(),
                           duration=0.0, node=NodeConfig("http", "localhost", 9200))
    return ApiError("request entity too large", meta=meta, body={})


def test_shell_oversize_request_is_split_to_find_the_culprit() -> None:
    script = [_api_error(413), [201], _api_error(413)]
    idx, es, producer, consumer, _ = shell([good(0), good(1)], script)
    idx.run(max_idle_seconds=0.3)
    assert es.calls == [["id0", "id1"], ["id0"], ["id1"]]
    assert [d["source_offset"] for d in producer.sent] == [1]
    assert producer.sent[0]["error_type"] == "http_413"
    assert consumer.commits == [{(TOPIC, 0): 2}]


def test_shell_revoked_partition_is_not_committed() -> None:
    records = [good(0, partition=0, offset=0), good(1, partition=1, offset=0)]
    idx, es, _, consumer, _ = shell(records, [[429, 429], [201]], partitions=2)
    # While the indexer waits to retry, partition 1 moves to another consumer.
    consumer.on_paused_poll = lambda c: c.revoke(1) if c.assigned == {
        TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)} else None
    stats = idx.run(max_idle_seconds=0.3)
    assert es.calls == [["id0", "id1"], ["id0"]]
    assert consumer.commits == [{(TOPIC, 0): 1}]
    assert stats.dropped_on_revoke == 1


def test_shell_stop_during_retry_commits_nothing() -> None:
    down = TransportConnectionError("connection refused")
    idx, _, producer, consumer, _ = shell([good(0)], [down] * 1000)
    consumer.on_paused_poll = lambda c: idx.stop.set()
    idx.run(max_idle_seconds=None)
    assert consumer.commits == [] and producer.sent == []


def test_shell_stop_flushes_the_batch_in_hand() -> None:
    idx, es, _, consumer, _ = shell([good(0), good(1)], [])
    idx.settings = idx.settings.model_copy(update={"indexer_batch_seconds": 30.0})
    original_poll = consumer.poll

    def poll_then_stop(timeout_ms: int, max_records: int) -> Any:
        out = original_poll(timeout_ms, max_records)
        if not consumer.queue:
            idx.stop.set()  # SIGTERM arrives with a partial batch in hand
        return out

    consumer.poll = poll_then_stop  # type: ignore[method-assign]
    idx.run(max_idle_seconds=None)
    assert es.calls == [["id0", "id1"]] and consumer.commits == [{(TOPIC, 0): 2}]


def test_dead_letter_keeps_huge_originals_compressed() -> None:
    big = ("ب" * 4_000_000).encode()  # 8 MB of UTF-8
    dl = dead_letter(Failure(rec(big), "too_large", "x"))
    assert dl.original is None and dl.original_compression == "zlib"
    assert original_bytes(dl) == big and not dl.original_truncated
    assert len(dl.model_dump_json()) < 1_000_000


def test_shell_partition_revoked_and_reassigned_during_wait_is_reread() -> None:
    p0, p1 = good(0, partition=0, offset=0), good(1, partition=1, offset=0)
    idx, es, _, consumer, _ = shell([p0, p1], [[429, 429]], partitions=2)

    def rebalance(c: FakeConsumer) -> None:
        if c.rev.epochs():
            return
        c.revoke(1)
        c.assigned.add(TopicPartition(TOPIC, 1))  # eager protocol: given back, not paused,
        c.queue.append(p1)  # and re-read from its last committed offset

    consumer.on_paused_poll = rebalance
    idx.run(max_idle_seconds=0.3)
    # the in-flight copy of id1 was dropped; the re-read copy was indexed and committed
    assert es.calls == [["id0", "id1"], ["id0"], ["id1"]]
    assert consumer.commits == [{(TOPIC, 0): 1}, {(TOPIC, 1): 1}]
