"""``news.enriched`` -> Elasticsearch, at least once.

Guarantees:
* an offset is committed only once every record before it is in Elasticsearch or on the DLQ
  (the DLQ send acknowledged);
* a record is never skipped: transient failures (connection, timeout, 429, 5xx, missing alias)
  are retried with capped, jittered backoff, and only the failed items are re-sent;
* re-sends are harmless: ``_id`` is the article id and the op is ``index`` (overwrite);
* partitions taken away by a rebalance have their in-flight records dropped, never committed:
  the new owner re-reads them from the last commit.

The decisions (what a bulk item result means, what may be committed, backoff) are pure
functions below; ``_Indexer`` is the thin shell that talks to Kafka and Elasticsearch.
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import orjson
from pydantic import ValidationError

from ingest.es_doc import to_es_doc
from newsflow.core.clients import elasticsearch_client, kafka_config, kafka_producer_config
from newsflow.core.contract import DeadLetter, EnrichedArticle
from newsflow.core.deadletter import dead_letter as make_dead_letter
from newsflow.core.settings import Settings

log = logging.getLogger("newsflow.indexer")

STAGE = "index"
# Well under Elasticsearch's default http.max_content_length (100 MB): a batch of 500 long
# articles must not become one request the node refuses.
MAX_BULK_BYTES = 10 * 1024 * 1024
DLQ_SEND_TIMEOUT = 30.0
STATS_LOG_SECONDS = 30.0
JOIN_GRACE_SECONDS = 60.0
# Item errors that mean "the cluster is not ready for this write", not "this record is bad".
_TRANSIENT_4XX_TYPES = frozenset({"index_not_found_exception", "cluster_block_exception"})


# --------------------------------------------------------------------------- pure logic


@dataclass(frozen=True)
class ConsumedRecord:
    """The parts of a Kafka record the indexer needs; decoupled from kafka-python's type."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # How many times this partition had been revoked from us when the record was polled: a
    # record whose partition was revoked since is stale (its new owner re-reads it).
    epoch: int = 0

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Prepared:
    """A record that passed the contract and is ready for the bulk body."""

    record: ConsumedRecord
    doc_id: str
    source: bytes  # the JSON document


@dataclass(frozen=True)
class Failure:
    record: ConsumedRecord
    error_type: str
    error: str


class Verdict(enum.Enum):
    OK = "ok"
    DEAD = "dead"
    RETRY = "retry"


def prepare(record: ConsumedRecord) -> Prepared | Failure:
    """Decode, validate against the contract and render the ES document; a record that cannot
    be indexed is a ``Failure`` bound for the DLQ (retrying would never fix it)."""
    if record.value is None:
        return Failure(record, "empty_record", "record has no value (tombstone?)")
    try:
        text = record.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Failure(record, "unicode_decode_error", str(exc))
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Failure(record, "json_decode_error", str(exc))
    try:
        article = EnrichedArticle.model_validate(data)
    except ValidationError as exc:
        return Failure(record, "validation_error", _short(str(exc)))
    return Prepared(record, article.id, orjson.dumps(to_es_doc(article)))


def _short(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(error: Any) -> tuple[str, str]:
    """(type, readable reason) of a bulk item's ``error`` object, including the root cause
    (a mapper_parsing_exception's reason alone does not say which value was wrong)."""
    if not isinstance(error, dict):
        return "unknown_error", _short(str(error))
    etype = str(error.get("type", "unknown_error"))
    # Each reason is capped on its own: ES quotes the offending value in the outer reason, and
    # a long value must not push the root cause out of the message.
    parts = [f"{etype}: {_short(str(error.get('reason', '')), 500)}"]
    cause = error.get("caused_by")
    while isinstance(cause, dict) and len(parts) < 4:
        parts.append(f"caused by {cause.get('type')}: {_short(str(cause.get('reason', '')), 500)}")
        cause = cause.get("caused_by")
    return etype, _short("; ".join(parts))


def classify_item(item: dict[str, Any]) -> tuple[Verdict, str, str]:
    """One entry of a bulk response's ``items`` -> (verdict, error_type, error)."""
    result: dict[str, Any] = next(iter(item.values()), {}) if item else {}
    status = result.get("status")
    if isinstance(status, int) and 200 <= status < 300 and "error" not in result:
        return Verdict.OK, "", ""
    etype, reason = _error_text(result.get("error", f"status {status}"))
    if not isinstance(status, int) or status == 429 or status >= 500:
        return Verdict.RETRY, etype, reason
    if etype in _TRANSIENT_4XX_TYPES:
        if etype == "index_not_found_exception":
            reason += " (does the alias exist? run `newsflow setup`)"
        return Verdict.RETRY, etype, reason
    return Verdict.DEAD, etype, reason


@dataclass
class BulkOutcome:
    ok: list[Prepared] = field(default_factory=list)
    dead: list[Failure] = field(default_factory=list)
    retry: list[Prepared] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)


def classify_bulk_response(
    sent: Sequence[Prepared], items: Sequence[dict[str, Any]]
) -> BulkOutcome:
    """Pair a bulk response's items with what was sent (same order, by the bulk API contract)."""
    if len(items) != len(sent):
        # Cannot tell which item is which: treat the whole chunk as not done.
        out = BulkOutcome(retry=list(sent))
        out.retry_reasons.append(f"bulk returned {len(items)} items for {len(sent)} sent")
        return out
    out = BulkOutcome()
    for prepared, item in zip(sent, items, strict=True):
        verdict, etype, reason = classify_item(item)
        if verdict is Verdict.OK:
            out.ok.append(prepared)
        elif verdict is Verdict.DEAD:
            out.dead.append(Failure(prepared.record, etype, reason))
        else:
            out.retry.append(prepared)
            out.retry_reasons.append(reason)
    return out


def classify_request_error(status: int | None) -> Verdict:
    """A whole bulk request failed with HTTP ``status`` (None: no response at all).

    413/400 are about the payload: split it (``DEAD`` when a single document is the cause).
    Everything else — no connection, timeouts, 429, 5xx, and also 401/403/404, which are
    configuration problems no record is guilty of — is retried."""
    if status in (400, 413):
        return Verdict.DEAD
    return Verdict.RETRY


def dead_letter(failure: Failure, now: Callable[[], Any] | None = None) -> DeadLetter:
    """The DLQ record for ``failure``, with the whole original (see
    newsflow.core.deadletter) and the exact source coordinates."""
    rec = failure.record
    extra: dict[str, Any] = {"ts": now()} if now is not None else {}
    return make_dead_letter(
        STAGE,
        failure.error,
        failure.error_type,
        rec.value if rec.value is not None else b"",
        key=rec.key.decode("utf-8", "replace") if rec.key is not None else None,
        source_topic=rec.topic,
        source_partition=rec.partition,
        source_offset=rec.offset,
        **extra,
    )


def committable_offsets(
    records: Iterable[ConsumedRecord], unhandled: Iterable[ConsumedRecord] = ()
) -> dict[tuple[str, int], int]:
    """Next offset to commit per partition: one past the last record that has no unhandled
    record at or before it. Offsets are taken from the records themselves, not assumed
    contiguous (compaction and transaction markers leave gaps)."""
    blocked: dict[tuple[str, int], int] = {}
    for rec in unhandled:
        blocked[rec.tp] = min(rec.offset, blocked.get(rec.tp, rec.offset))
    out: dict[tuple[str, int], int] = {}
    for rec in records:
        limit = blocked.get(rec.tp)
        if limit is not None and rec.offset >= limit:
            continue
        out[rec.tp] = max(out.get(rec.tp, 0), rec.offset + 1)
    return out


def backoff_delay(
    attempt: int, cap: float, base: float = 0.5, rand: Callable[[], float] = random.random
) -> float:
    """Capped exponential backoff with "equal jitter": at least half the exponential step (so a
    flapping cluster is not hammered) and never above ``cap``."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + rand() * step / 2


def bulk_lines(prepared: Prepared) -> list[bytes]:
    # No _index: the request names the alias (require_alias) so writes follow its write index.
    return [orjson.dumps({"index": {"_id": prepared.doc_id}}), prepared.source]


def chunk_by_bytes(
    items: Sequence[Prepared], max_bytes: int = MAX_BULK_BYTES
) -> Iterator[list[Prepared]]:
    """Split a batch into bulk requests of at most ``max_bytes`` (a lone oversize document still
    gets its own request, so Elasticsearch can reject exactly that one)."""
    chunk: list[Prepared] = []
    size = 0
    for p in items:
        n = len(p.source) + len(p.doc_id) + 32
        if chunk and size + n > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        yield chunk


def drop_stale(items: Iterable[Any], epochs: Mapping[tuple[str, int], int]) -> list[Any]:
    """Keep the items (records, or anything with ``.record``) whose partition has not been
    revoked since they were polled."""
    def current(x: Any) -> bool:
        r = x if isinstance(x, ConsumedRecord) else x.record
        return epochs.get(r.tp, 0) == r.epoch

    return [x for x in items if current(x)]


# --------------------------------------------------------------------------- stats


@dataclass
class IndexerStats:
    consumed: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    retries: int = 0
    batches: int = 0
    bulk_requests: int = 0
    commits: int = 0
    commit_failures: int = 0
    dropped_on_revoke: int = 0
    lag: int | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- Kafka/ES shell


class _Stopped(Exception):
    """Shutdown was requested while a batch could not be completed: leave it uncommitted."""


class _Revocations:
    """ConsumerRebalanceListener state: a revocation counter per partition. kafka-python runs the
    callbacks inside ``consumer.poll()`` (before that poll fetches), and they must return
    promptly, so they only count; records are stamped with the count when polled and dropped
    as stale when it has moved on.

    A revoked partition that comes straight back to us (eager rebalance: everything is revoked,
    then reassigned) keeps its fetch position in kafka-python, which is past the in-flight
    records we just dropped: such partitions are queued for a rewind to the last commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epochs: dict[tuple[str, int], int] = {}
        self._revoked: set[tuple[str, int]] = set()
        self._rewind: set[tuple[str, int]] = set()
        self.assigned_once = threading.Event()

    def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        with self._lock:
            for tp in revoked:
                key = (tp.topic, tp.partition)
                self._epochs[key] = self._epochs.get(key, 0) + 1
                self._revoked.add(key)

    def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        with self._lock:
            keys = {(tp.topic, tp.partition) for tp in assigned}
            self._rewind |= keys & self._revoked
            self._revoked.clear()
        self.assigned_once.set()

    def on_partitions_lost(self, lost: Iterable[Any]) -> None:
        self.on_partitions_revoked(lost)

    def epochs(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._epochs)

    def take_rewinds(self) -> set[tuple[str, int]]:
        with self._lock:
            out, self._rewind = self._rewind, set()
            return out

    def request_rewind(self, keys: Iterable[tuple[str, int]]) -> None:
        with self._lock:
            self._rewind |= set(keys)


def _listener(rev: _Revocations) -> Any:
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            rev.on_partitions_revoked(revoked)

        def on_partitions_assigned(self, assigned: Any) -> None:
            rev.on_partitions_assigned(assigned)

        def on_partitions_lost(self, lost: Any) -> None:
            rev.on_partitions_lost(lost)

    return Listener()


class _Indexer:
    def __init__(
        self, settings: Settings, stop: threading.Event, es: Any, consumer: Any, producer: Any,
        rev: _Revocations,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.stats = IndexerStats()
        self.rev = rev
        self.es = es
        self.consumer = consumer
        self.producer = producer
        # Records that arrived while we were paused in a retry wait (newly assigned partitions).
        self.carry: list[ConsumedRecord] = []
        self._last_stats_log = time.monotonic()

    @classmethod
    def connect(cls, settings: Settings, stop: threading.Event) -> _Indexer:
        from kafka import KafkaConsumer, KafkaProducer

        kafka_cfg = kafka_config(settings)
        rev = _Revocations()
        consumer = KafkaConsumer(
            group_id=settings.indexer_group,
            client_id=f"{settings.app_id}-indexer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.indexer_batch_size,
            **kafka_cfg,
        )
        consumer.subscribe([settings.topic_enriched], listener=_listener(rev))
        producer = KafkaProducer(
            **kafka_producer_config(settings, client_id=f"{settings.app_id}-indexer-dlq")
        )
        es = elasticsearch_client(settings)
        return cls(settings, stop, es, consumer, producer, rev)

    # -- polling -------------------------------------------------------------------------

    def _poll(self, timeout_s: float, max_records: int) -> list[ConsumedRecord]:
        polled = self.consumer.poll(
            timeout_ms=max(0, int(timeout_s * 1000)), max_records=max(1, max_records)
        )
        epochs = self.rev.epochs()  # after poll: includes any rebalance it just ran
        rewound = self._rewind()
        out = [
            ConsumedRecord(r.topic, r.partition, r.offset, r.key, r.value,
                         epochs.get((r.topic, r.partition), 0))
            for recs in polled.values()
            for r in recs
            if (r.topic, r.partition) not in rewound
        ]
        self.stats.consumed += len(out)
        return out

    def _rewind(self) -> set[tuple[str, int]]:
        """Seek partitions that were revoked and handed straight back to their last commit (their
        in-flight records were dropped as stale; the retained position is past them). Returns
        the partitions whose just-polled records must be discarded (fetched before the seek)."""
        keys = self.rev.take_rewinds()
        if not keys:
            return keys
        from kafka import TopicPartition

        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        failed: set[tuple[str, int]] = set()
        for key in keys & owned:
            tp = TopicPartition(*key)
            try:
                committed = self.consumer.committed(tp)
                if committed is None:
                    self.consumer.seek_to_beginning(tp)  # auto_offset_reset="earliest"
                else:
                    self.consumer.seek(tp, committed)
            except Exception as exc:  # retried on the next poll; records of tp dropped meanwhile
                log.warning("could not rewind %s[%d] to its last commit (%s)", *key, exc)
                failed.add(key)
        if failed:
            self.rev.request_rewind(failed)
        return keys

    def _wait(self, seconds: float) -> None:
        """Back off without leaving the group: poll with every partition paused (keeps
        max.poll.interval satisfied during a long Elasticsearch outage). Raises ``_Stopped``
        when shutdown is requested meanwhile."""
        try:
            deadline = time.monotonic() + seconds
            while not self.stop.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                # Re-pause each time: partitions handed to us by a rebalance start unpaused.
                # The one poll that ran that rebalance may still fetch from them: keep those
                # records for the next batch.
                self.consumer.pause(*self.consumer.assignment())
                self.carry.extend(self._poll(min(left, 0.5), self.settings.indexer_batch_size))
        finally:
            self.consumer.resume(*self.consumer.assignment())
        if self.stop.is_set():
            raise _Stopped

    # -- one batch ---------------------------------------------------------------------------

    def flush(self, batch: list[ConsumedRecord]) -> None:
        """Index ``batch`` completely (docs in ES or on the DLQ), then commit its offsets."""
        if not batch:
            return
        self.stats.batches += 1
        prepared: list[Prepared] = []
        dead: list[Failure] = []
        for rec in batch:
            result = prepare(rec)
            if isinstance(result, Prepared):
                prepared.append(result)
            else:
                dead.append(result)

        attempt = 0
        pending = prepared
        while pending:
            pending, new_dead, reasons = self._bulk_once(pending)
            dead.extend(new_dead)
            if not pending:
                break
            attempt += 1
            self.stats.retries += len(pending)
            delay = backoff_delay(attempt, self.settings.indexer_max_retry_seconds)
            log.warning(
                "%d document(s) not indexed (attempt %d, retrying in %.1fs): %s",
                len(pending), attempt, delay, reasons[0] if reasons else "?",
            )
            self._wait(delay)
            pending = drop_stale(pending, self.rev.epochs())

        self._send_dead_letters(drop_stale(dead, self.rev.epochs()))
        done = drop_stale(batch, self.rev.epochs())
        self.stats.dropped_on_revoke += len(batch) - len(done)
        self._commit(done)

    def _bulk_once(
        self, items: list[Prepared]
    ) -> tuple[list[Prepared], list[Failure], list[str]]:
        """One pass over ``items``: returns (still to retry, dead, retry reasons)."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        retry: list[Prepared] = []
        dead: list[Failure] = []
        reasons: list[str] = []
        work = list(chunk_by_bytes(items))
        while work:
            chunk = work.pop(0)
            self.stats.bulk_requests += 1
            try:
                resp = self.es.bulk(
                    index=self.settings.es_alias,
                    # pre-encoded NDJSON lines: the client forwards bytes untouched
                    operations=cast(Any, [line for p in chunk for line in bulk_lines(p)]),
                    require_alias=True,
                )
            except ApiError as exc:
                status = exc.meta.status
                if classify_request_error(status) is Verdict.DEAD:
                    if len(chunk) == 1:
                        dead.append(Failure(chunk[0].record, f"http_{status}", _short(str(exc))))
                    else:  # find the culprit: halve the request
                        mid = len(chunk) // 2
                        work[:0] = [chunk[:mid], chunk[mid:]]
                    continue
                retry.extend(chunk)
                reasons.append(f"HTTP {status}: {_short(str(exc), 300)}")
                continue
            except TransportError as exc:  # connection refused/reset, timeouts
                retry.extend(chunk)
                reasons.append(f"{type(exc).__name__}: {_short(str(exc), 300)}")
                continue
            outcome = classify_bulk_response(chunk, resp.body.get("items", []))
            self.stats.indexed += len(outcome.ok)
            dead.extend(outcome.dead)
            retry.extend(outcome.retry)
            reasons.extend(outcome.retry_reasons)
        return retry, dead, reasons

    def _send_dead_letters(self, dead: list[Failure]) -> None:
        attempt = 0
        while dead:
            try:
                futures = [
                    self.producer.send(
                        self.settings.topic_dlq,
                        key=f.record.key,
                        value=dead_letter(f).model_dump_json().encode("utf-8"),
                    )
                    for f in dead
                ]
                for fut in futures:
                    fut.get(timeout=DLQ_SEND_TIMEOUT)
            except Exception as exc:  # any send failure: the batch must not be committed yet
                attempt += 1
                delay = backoff_delay(attempt, self.settings.indexer_max_retry_seconds)
                log.warning("DLQ send failed (%s); retrying in %.1fs", exc, delay)
                self._wait(delay)
                dead = drop_stale(dead, self.rev.epochs())
                continue
            for f in dead:
                log.info(
                    "dead-lettered %s[%d]@%d: %s", f.record.topic, f.record.partition,
                    f.record.offset, f.error[:200],
                )
            self.stats.dead_lettered += len(dead)
            return

    def _commit(self, done: list[ConsumedRecord]) -> None:
        from kafka import TopicPartition
        from kafka.errors import CommitFailedError, KafkaError
        from kafka.structs import OffsetAndMetadata

        owned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(off, "", -1)
            for (t, p), off in committable_offsets(done).items()
            if (t, p) in owned
        }
        if not offsets:
            return
        try:
            self.consumer.commit(offsets=offsets)
        except (CommitFailedError, KafkaError) as exc:
            # We lost the group between poll and commit: the next owner re-reads these
            # records and re-indexes them under the same _id, which changes nothing.
            self.stats.commit_failures += 1
            log.warning("offset commit failed (%s); records will be re-delivered", exc)
            return
        self.stats.commits += 1

    # -- main loop -------------------------------------------------------------------------

    def _update_lag(self) -> None:
        total = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)  # cached from fetch responses: no extra request
            if high is None:
                return
            total += max(0, high - self.consumer.position(tp))
        self.stats.lag = total

    def _maybe_log_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats_log >= STATS_LOG_SECONDS:
            self._last_stats_log = now
            try:
                self._update_lag()
            except Exception:  # lag is informative only
                log.debug("lag unavailable", exc_info=True)
            log.info("indexer stats %s", self.stats.as_dict())

    def run(self, max_idle_seconds: float | None) -> IndexerStats:
        s = self.settings
        batch: list[ConsumedRecord] = []
        batch_started = 0.0
        last_activity = time.monotonic()
        join_deadline = last_activity + JOIN_GRACE_SECONDS
        try:
            while not self.stop.is_set():
                wait = s.indexer_batch_seconds
                if batch:
                    wait = max(0.0, batch_started + s.indexer_batch_seconds - time.monotonic())
                fresh = self._poll(min(wait, 0.5), s.indexer_batch_size - len(batch))
                epochs = self.rev.epochs()
                before = len(batch) + len(self.carry)
                batch = drop_stale(batch, epochs)
                records = drop_stale(self.carry, epochs) + fresh
                self.carry = []
                self.stats.dropped_on_revoke += before - len(batch) - (len(records) - len(fresh))
                if records:
                    if not batch:
                        batch_started = time.monotonic()
                    batch.extend(records)
                    last_activity = time.monotonic()
                elif not self.rev.assigned_once.is_set() and time.monotonic() < join_deadline:
                    # Joining the group is not idleness (an empty topic still gets assigned).
                    last_activity = time.monotonic()
                full = len(batch) >= s.indexer_batch_size
                due = bool(batch) and time.monotonic() - batch_started >= s.indexer_batch_seconds
                if full or due:
                    self.flush(batch)
                    batch = []
                    last_activity = time.monotonic()
                self._maybe_log_stats()
                if (
                    max_idle_seconds is not None
                    and not batch
                    and time.monotonic() - last_activity >= max_idle_seconds
                ):
                    log.info("idle for %.1fs: stopping", max_idle_seconds)
                    break
            # Clean shutdown: whatever was consumed is indexed and committed before leaving.
            if batch and self.stop.is_set():
                self.flush(drop_stale(batch, self.rev.epochs()))
        except _Stopped:
            log.warning("stopped with an unfinished batch: its offsets stay uncommitted")
        finally:
            self._maybe_log_stats(force=True)
            self.close()
        return self.stats

    def close(self) -> None:
        for closer in (self.consumer.close, self.producer.close, self.es.close):
            try:
                closer()
            except Exception:
                log.debug("error while closing", exc_info=True)


def run_indexer(
    settings: Settings,
    stop_event: threading.Event | None = None,
    max_idle_seconds: float | None = None,
) -> IndexerStats:
    """Consume ``settings.topic_enriched`` as group ``settings.indexer_group`` and index into
    alias ``settings.es_alias`` until ``stop_event`` is set (or, with ``max_idle_seconds``, until
    nothing arrived for that long). The caller owns signal handling: set ``stop_event``."""
    return _Indexer.connect(settings, stop_event or threading.Event()).run(max_idle_seconds)
