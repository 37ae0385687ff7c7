"""newsflow.core.failures (retry vs dead-letter, shared by worker and indexer), the worker's
delivery loop with a fake sender, dead-letter shrinking and poison detection."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from aiokafka.errors import KafkaTimeoutError
from aiokafka.errors import MessageSizeTooLargeError as AioTooLarge
from kafka.errors import (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    UnknownTopicOrPartitionError,
)

from ingest.index_batch import ConsumedRecord, Failure, Prepared
from ingest.index_bulk import BulkPass, poison_out
from newsflow.core.deadletter import (
    SHRINK_BUDGETS,
    dead_letter,
    encode_dead_letter,
    original_bytes,
    shrink_dead_letter,
)
from newsflow.core.failures import (
    POISON_ATTEMPTS,
    Verdict,
    es_item_verdict,
    es_request_verdict,
    kafka_send_verdict,
)
from processors.delivery import Delivery, Output


@pytest.mark.parametrize(
    ("exc", "verdict"),
    [
        (MessageSizeTooLargeError(), Verdict.DEAD),
        (RecordListTooLargeError(), Verdict.DEAD),
        (AioTooLarge(), Verdict.DEAD),
        (KafkaTimeoutError(), Verdict.RETRY),
        (UnknownTopicOrPartitionError(), Verdict.RETRY),
        (ConnectionError("reset"), Verdict.RETRY),
    ],
)
def test_kafka_send_verdict(exc: BaseException, verdict: Verdict) -> None:
    assert kafka_send_verdict(exc).verdict is verdict


NO_WRITE_INDEX = (
    "no write index is defined for alias [news]. The write index may be explicitly disabled "
    "using is_write_index=false or the alias points to multiple indices without one being "
    "designated as a write index"
)


@pytest.mark.parametrize(
    ("status", "etype", "reason", "verdict"),
    [
        (201, "", "", Verdict.OK),
        (409, "version_conflict_engine_exception", "newer version", Verdict.OK),
        (400, "illegal_argument_exception", NO_WRITE_INDEX, Verdict.RETRY),
        (400, "illegal_argument_exception", "Document contains at least one immense term",
         Verdict.DEAD),
        (400, "document_parsing_exception", "failed to parse", Verdict.DEAD),
        (400, "some_new_exception", "?", Verdict.RETRY),  # unknown: never drain the stream
        (401, "security_exception", "missing authentication", Verdict.RETRY),
        (429, "es_rejected_execution_exception", "queue full", Verdict.RETRY),
        (503, "unavailable_shards_exception", "", Verdict.RETRY),
        (None, "", "", Verdict.RETRY),
    ],
)
def test_es_item_verdict(status: Any, etype: str, reason: str, verdict: Verdict) -> None:
    assert es_item_verdict(status, etype, reason) is verdict


def test_es_request_verdict_400_from_a_proxy_is_retried_for_a_lone_document() -> None:
    # a proxy's 400 has no Elasticsearch error type: the document is not to blame
    assert es_request_verdict(400, "<html>Bad Request</html>", 1) is Verdict.RETRY
    assert es_request_verdict(400, "<html>Bad Request</html>", 8) is Verdict.DEAD  # split
    assert es_request_verdict(400, "mapper_parsing_exception", 1) is Verdict.DEAD
    assert es_request_verdict(413, None, 1) is Verdict.DEAD
    assert es_request_verdict(502, None, 1) is Verdict.RETRY


def test_shrink_dead_letter_reaches_no_original_in_bounded_steps() -> None:
    raw = bytes(range(256)) * 10_000
    dl = dead_letter("index", "bad", "validation_error", raw, source_topic="t",
                     source_partition=0, source_offset=5)
    for step in range(len(SHRINK_BUDGETS)):
        dl = shrink_dead_letter(dl, step)
        assert dl.original_truncated and "t[0]@5" in dl.error
        assert len(original_bytes(dl)) <= SHRINK_BUDGETS[step]
    assert original_bytes(dl) == b"" and len(encode_dead_letter(dl)) < 4096


class _FakeTopic:
    def __init__(self, name: str, fail_with: BaseException | None = None, times: int = 0,
                 ack_fails: bool = False):
        self.name, self.fail_with, self.times, self.sent = name, fail_with, times, []
        self.ack_fails = ack_fails

    def __str__(self) -> str:
        return self.name


def _fake_send(topics_sent: list[tuple[str, bytes]]) -> Any:
    async def send(out: Output) -> Any:
        topic, key = out.topic, out.key
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if topic.fail_with is not None and topic.times != 0:
            topic.times -= 1
            if topic.ack_fails:  # refused by the broker, after the producer took it
                ack.set_exception(topic.fail_with)
                return ack
            raise topic.fail_with  # refused by the producer on the spot
        topics_sent.append((topic.name, key))
        ack.set_result(None)
        return ack

    return send


def test_delivery_dead_letters_a_refused_record_and_retries_a_transient_one() -> None:
    sent: list[tuple[str, bytes]] = []
    enriched = _FakeTopic("enriched", AioTooLarge(), times=1)  # the first send only is refused
    flaky = _FakeTopic("flaky", KafkaTimeoutError(), times=1, ack_fails=True)
    dlq = _FakeTopic("dlq")
    delivery = Delivery(dlq, send=_fake_send(sent))
    outputs = [
        Output(enriched, b"big", b"x" * 100, b'{"url": "u"}', ("raw", 0, 7)),
        Output(flaky, b"ok", b"y", b"{}", ("raw", 0, 8)),
    ]
    asyncio.run(delivery.deliver_all(outputs))
    assert sorted(sent) == [("dlq", b"big"), ("flaky", b"ok")]
    assert delivery.rerouted == 1 and delivery.retries == 1


def test_delivery_shrinks_a_dead_letter_the_dlq_refuses() -> None:
    sent: list[tuple[str, bytes]] = []
    dlq = _FakeTopic("dlq", AioTooLarge(), times=2)
    dl = dead_letter("enrich", "bad", "X", b"z" * 3_000_000)
    out = Output(dlq, b"k", encode_dead_letter(dl), b"z" * 3_000_000, ("raw", 0, 1), dl)
    asyncio.run(Delivery(dlq, send=_fake_send(sent)).deliver_all([out]))
    assert sent == [("dlq", b"k")]


def _prepared(n: int) -> Prepared:
    return Prepared(ConsumedRecord("t", 0, n, b"k", b"{}"), f"id{n}", b"{}")


def test_poison_needs_repeated_item_5xx_while_the_cluster_takes_writes() -> None:
    p = _prepared(1)
    strikes: dict[int, int] = {}
    dead: list[Failure] = []
    for attempt in range(1, POISON_ATTEMPTS + 1):
        result = BulkPass()
        result.retry = [p]
        result.suspects = {id(p.record): Failure(p.record, "internal", "boom")}
        still = poison_out(result, strikes, cluster_took_writes=True, dead=dead)
        assert (still == []) is (attempt == POISON_ATTEMPTS)
    assert dead and dead[0].error_type == "poison_internal"
    # the same failures while nothing else is written (cluster down): never poison
    strikes, dead = {}, []
    for _ in range(POISON_ATTEMPTS * 2):
        result = BulkPass()
        result.retry = [p]
        result.suspects = {id(p.record): Failure(p.record, "internal", "boom")}
        assert poison_out(result, strikes, cluster_took_writes=False, dead=dead) == [p]
    assert dead == []


def test_bulk_lines_carry_the_external_version() -> None:
    from ingest.index_batch import bulk_lines

    p = Prepared(ConsumedRecord("t", 0, 1, b"k", b"{}"), "id1", b"{}", 1_700_000_000_123)
    action = orjson.loads(bulk_lines(p)[0])["index"]
    assert action == {"_id": "id1", "version": 1_700_000_000_123, "version_type": "external"}
