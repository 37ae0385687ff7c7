"""The indexer's decisions, without Kafka or Elasticsearch: what a record or a bulk item result
means, what goes to the DLQ, and which offsets may be committed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from ingest.index_batch import (
    ConsumedRecord,
    Failure,
    Prepared,
    Verdict,
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
from ingest.index_rebalance import _Revocations
from newsflow.core.contract import DeadLetter, EnrichedArticle, Entity, Processing, TopicTag
from newsflow.core.deadletter import original_bytes


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
        "topics": [TopicTag(label="politics", score=2.0, evidence=["الرئيس"])],
        "processing": Processing(version="1", stages={"clean": 1.5}),
    }
    base.update(kw)
    return EnrichedArticle.model_validate(base)


TOPIC = "news.enriched"


def rec(value: bytes | None, offset: int = 0, partition: int = 0, key: bytes | None = b"k",
        topic: str = TOPIC) -> ConsumedRecord:
    return ConsumedRecord(topic, partition, offset, key, value)


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
    fresh = ConsumedRecord(TOPIC, 1, 1, b"k", b"", epoch=1)  # re-read after it came back
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


def test_dead_letter_keeps_huge_originals_compressed() -> None:
    big = ("ب" * 4_000_000).encode()  # 8 MB of UTF-8
    dl = dead_letter(Failure(rec(big), "too_large", "x"))
    assert dl.original is None and dl.original_compression == "zlib"
    assert original_bytes(dl) == big and not dl.original_truncated
    assert len(dl.model_dump_json()) < 1_000_000


def test_revoked_then_reassigned_partitions_are_queued_for_rewind() -> None:
    """Eager rebalance: all partitions revoked, some handed straight back. Those keep their fetch
    position in kafka-python, past the in-flight records just dropped: they must be rewound."""
    rev = _Revocations()
    p0, p1, p2 = (SimpleNamespace(topic=TOPIC, partition=p) for p in range(3))
    rev.on_partitions_assigned([p0, p1])  # first assignment: nothing to rewind
    assert rev.take_rewinds() == set()
    rev.on_partitions_revoked([p0, p1])
    rev.on_partitions_assigned([p1, p2])  # p1 back, p0 gone, p2 new (fetched from the commit)
    assert rev.epochs() == {(TOPIC, 0): 1, (TOPIC, 1): 1}
    assert rev.take_rewinds() == {(TOPIC, 1)}
    assert rev.take_rewinds() == set()
    rev.on_partitions_assigned([p1, p2])  # an assignment with no revocation before it
    assert rev.take_rewinds() == set()
