"""``news.enriched`` -> Elasticsearch, at least once.

Guarantees:
* an offset is committed only once every record before it is in Elasticsearch or on the DLQ
  (the DLQ send acknowledged);
* a record is never skipped: transient failures (connection, timeout, 429, 5xx, missing alias,
  no write index during an alias swap) are retried with capped, jittered backoff, and only the
  failed items are re-sent; a retry that goes on says so in the log with how long it has lasted;
* a record is never stuck forever by its own fault: document errors are dead-lettered, an
  item-level 5xx that keeps failing while the cluster takes other writes is dead-lettered as a
  poison record, and a dead letter too large for the DLQ topic is cut until it fits;
* re-sends are harmless: ``_id`` is the article id and writes carry an external version
  (``ingested_at`` in ms), so a re-send or an older replay never overwrites a newer version;
* partitions taken away by a rebalance have their in-flight records dropped, never committed:
  the new owner re-reads them from the last commit.

The decisions live in ``ingest.index_batch`` (pure) and ``newsflow.core.failures`` (shared
with the worker); this module is the thin shell that talks to Kafka and Elasticsearch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ingest.index_batch import (
    IDLE_POLL_SECONDS,
    STAGE,
    ConsumedRecord,
    Failure,
    IndexerStats,
    Prepared,
    backoff_delay,
    committable_offsets,
    drop_stale,
    prepare,
    should_flush,
)
from ingest.index_bulk import BulkPass, BulkWriter, poison_out
from ingest.index_dlq import DeadLetterSender
from ingest.index_rebalance import _listener, _Revocations
from ingest.metrics import IndexerMetrics
from newsflow.core.arabic_segment import preload as preload_word_lists
from newsflow.core.clients import elasticsearch_client, kafka_config, kafka_producer_config
from newsflow.core.deadletter import replays_from_headers
from newsflow.core.settings import Settings

log = logging.getLogger("newsflow.indexer")

STATS_LOG_SECONDS = 30.0
# A drained batch this small is a trickle, not load (see ``_Indexer._quiet_refresh_due``).
QUIET_BATCH = 50
JOIN_GRACE_SECONDS = 60.0


class _Stopped(Exception):
    """Shutdown was requested while a batch could not be completed: leave it uncommitted."""


def _record_bytes(rec: ConsumedRecord) -> int:
    return len(rec.value or b"") + len(rec.key or b"")


@dataclass
class _InFlight:
    """A batch rendered and sent; finished (retries, DLQ, commit) by ``finish_in_flight``."""

    batch: list[ConsumedRecord]
    prepared: list[Prepared]
    dead: list[Failure]
    first_pass: Future[BulkPass] | None

    def ready(self) -> bool:
        return self.first_pass is None or self.first_pass.done()


class _Indexer:
    def __init__(
        self, settings: Settings, stop: threading.Event, es: Any, consumer: Any,
        make_producer: Callable[[], Any], rev: _Revocations,
        metrics: IndexerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.stop = stop
        self.stats = IndexerStats()
        self.rev = rev
        self.es = es
        self.consumer = consumer
        self.dlq = DeadLetterSender(
            make_producer, settings.topic_dlq, settings.indexer_max_retry_seconds, self._wait,
            lambda items: drop_stale(items, self.rev.epochs()),
        )
        # Records that arrived while we were paused in a retry wait (newly assigned partitions).
        self.carry: list[ConsumedRecord] = []
        self._last_stats_log = time.monotonic()
        self.metrics = metrics or IndexerMetrics()  # ``connect`` passes one it serves
        # One thread: one bulk request in flight at a time, as before, but overlapping the
        # rendering of the next batch (see ``flush``).
        self._bulk_thread = ThreadPoolExecutor(1, thread_name_prefix="newsflow-bulk")
        self._in_flight: _InFlight | None = None
        self._last_quiet_refresh = float("-inf")
        self.writer = BulkWriter(es, settings.es_alias, self.stats, self.metrics)

    @classmethod
    def connect(cls, settings: Settings, stop: threading.Event) -> _Indexer:
        from kafka import KafkaConsumer, KafkaProducer

        preload_word_lists()  # before joining: the first batch must not wait for the word lists
        rev = _Revocations()
        consumer = KafkaConsumer(
            group_id=settings.indexer_group,
            client_id=f"{settings.app_id}-indexer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.indexer_batch_size,
            **kafka_config(settings),
        )
        consumer.subscribe([settings.topic_enriched], listener=_listener(rev))
        def make_producer() -> Any:
            return KafkaProducer(
                **kafka_producer_config(settings, client_id=f"{settings.app_id}-indexer-dlq")
            )

        return cls(settings, stop, elasticsearch_client(settings), consumer, make_producer, rev,
                   IndexerMetrics.start(settings))

    # -- polling -------------------------------------------------------------------------

    def _poll(self, timeout_s: float, max_records: int) -> list[ConsumedRecord]:
        polled = self.consumer.poll(
            timeout_ms=max(0, int(timeout_s * 1000)), max_records=max(1, max_records)
        )
        epochs = self.rev.epochs()  # after poll: includes any rebalance it just ran
        rewound = self._rewind()
        out = [
            ConsumedRecord(r.topic, r.partition, r.offset, r.key, r.value,
                           epochs.get((r.topic, r.partition), 0),
                           replays_from_headers(r.headers) if r.headers else 0, r.timestamp)
            for recs in polled.values()
            for r in recs
            if (r.topic, r.partition) not in rewound
        ]
        self.stats.consumed += len(out)
        self.metrics.consumed(len(out))
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

    def flush(self, batch: list[ConsumedRecord], *, quiet: bool = False) -> None:
        """Hand ``batch`` to Elasticsearch; it is finished (docs in ES or on the DLQ, offsets
        committed) by the next ``flush`` or by ``finish_in_flight``.

        Rendering a batch (JSON, validation, the Arabic ``seg`` fields) is CPU work in this
        thread; the bulk request is a wait on Elasticsearch. The first bulk pass of a batch runs
        in a helper thread while the next batch is polled and rendered here, so the two overlap.
        Everything else -- retries, dead letters, commits -- stays in this thread, one batch at a
        time and in order, so offsets are still committed only once everything before them is
        done."""
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
        self.finish_in_flight()
        refresh = quiet and self._quiet_refresh_due()
        first = (self._bulk_thread.submit(self.writer.bulk_once, prepared, refresh=refresh)
                 if prepared else None)
        self._in_flight = _InFlight(batch, prepared, dead, first)

    def _quiet_refresh_due(self) -> bool:
        """Whether this quiet batch's bulk request asks Elasticsearch to refresh. A trickle of
        articles otherwise waits up to the 1 s refresh interval to become searchable, most of
        its produce->searchable time; under load batches are full and the interval refreshes.
        At most one such refresh per ``indexer_quiet_refresh_seconds`` (0: never)."""
        every = self.settings.indexer_quiet_refresh_seconds
        now = time.monotonic()
        if every <= 0 or now - self._last_quiet_refresh < every:
            return False
        self._last_quiet_refresh = now
        return True

    def finish_in_flight(self) -> None:
        """Complete the batch whose first bulk pass is in flight: wait for it, retry what failed,
        dead-letter, commit."""
        f, self._in_flight = self._in_flight, None
        if f is None:
            return
        dead = f.dead
        if f.first_pass is not None:
            dead.extend(self._index_until_done(f.prepared, f.first_pass.result()))
        dead = drop_stale(dead, self.rev.epochs())
        self.dlq.send_all(dead)
        self.metrics.dead_lettered(STAGE, (f.error_type for f in dead))
        self.stats.dead_lettered = self.dlq.sent
        done = drop_stale(f.batch, self.rev.epochs())
        self.stats.dropped_on_revoke += len(f.batch) - len(done)
        self._commit(done)

    def _index_until_done(self, pending: list[Prepared], first: BulkPass | None = None
                          ) -> list[Failure]:
        """Bulk-index until every document is in or judged dead; returns the dead ones.
        ``first``: the outcome of a first pass over ``pending`` already made."""
        dead: list[Failure] = []
        attempt = 0
        strikes: dict[int, int] = {}  # id(record) -> consecutive suspect failures
        cluster_took_writes = False
        first_failure: float | None = None
        while pending:
            result, first = first or self.writer.bulk_once(pending), None
            dead.extend(result.dead)
            cluster_took_writes = cluster_took_writes or result.any_ok
            pending = poison_out(result, strikes, cluster_took_writes, dead)
            if not pending:
                break
            attempt += 1
            first_failure = first_failure or time.monotonic()
            self.stats.retries += len(pending)
            delay = backoff_delay(attempt, self.settings.indexer_max_retry_seconds)
            log.warning(
                "%d document(s) not indexed (attempt %d, stuck %.0fs, retrying in %.1fs): %s",
                len(pending), attempt, time.monotonic() - first_failure, delay,
                result.reasons[0] if result.reasons else "?",
            )
            self._wait(delay)
            pending = drop_stale(pending, self.rev.epochs())
        return dead

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
        self.metrics.lag(total)

    def _maybe_log_stats(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_stats_log >= STATS_LOG_SECONDS:
            self._last_stats_log = now
            try:
                self._update_lag()
            except Exception:  # lag is informative only
                log.debug("lag unavailable", exc_info=True)
            log.info("indexer stats %s", self.stats.as_dict())

    def _take_fresh(self, batch: list[ConsumedRecord], wait: float) -> list[ConsumedRecord]:
        """Poll, drop whatever a rebalance made stale, and return the records to add to
        ``batch`` (which is filtered in place)."""
        s = self.settings
        drain = bool(batch) and s.indexer_flush_when_drained
        fresh = self._poll(min(wait, IDLE_POLL_SECONDS if drain else 0.5),
                           s.indexer_batch_size - len(batch))
        epochs = self.rev.epochs()
        before = len(batch) + len(self.carry)
        batch[:] = drop_stale(batch, epochs)
        records = drop_stale(self.carry, epochs) + fresh
        self.carry = []
        self.stats.dropped_on_revoke += before - len(batch) - (len(records) - len(fresh))
        return records

    def run(self, max_idle_seconds: float | None) -> IndexerStats:
        s = self.settings
        batch: list[ConsumedRecord] = []
        batch_bytes = 0
        batch_started = last_activity = time.monotonic()
        join_deadline = last_activity + JOIN_GRACE_SECONDS
        try:
            while not self.stop.is_set():
                wait = s.indexer_batch_seconds
                if batch:
                    wait = max(0.0, batch_started + s.indexer_batch_seconds - time.monotonic())
                records = self._take_fresh(batch, wait)
                if records:
                    if not batch:
                        batch_started = time.monotonic()
                    batch.extend(records)
                    last_activity = time.monotonic()
                elif not self.rev.assigned_once.is_set() and time.monotonic() < join_deadline:
                    # Joining the group is not idleness (an empty topic still gets assigned).
                    last_activity = time.monotonic()
                batch_bytes = sum(map(_record_bytes, batch)) if records else batch_bytes
                if should_flush(len(batch), batch_bytes,
                                drained=not records and s.indexer_flush_when_drained,
                                age_seconds=time.monotonic() - batch_started,
                                max_count=s.indexer_batch_size, max_bytes=s.indexer_batch_bytes,
                                max_seconds=s.indexer_batch_seconds):
                    drained = not records and s.indexer_flush_when_drained
                    self.flush(batch, quiet=drained and len(batch) <= QUIET_BATCH)
                    batch, batch_bytes = [], 0
                    last_activity = time.monotonic()
                    self.metrics.update_lag(self.consumer)
                elif self._in_flight is not None and (not records or self._in_flight.ready()):
                    self.finish_in_flight()  # nothing to overlap it with: commit it now
                self._maybe_log_stats()
                if (max_idle_seconds is not None and not batch
                        and time.monotonic() - last_activity >= max_idle_seconds):
                    self.finish_in_flight()
                    log.info("idle for %.1fs: stopping", max_idle_seconds)
                    break
            # Clean shutdown: whatever was consumed is indexed and committed before leaving.
            if batch and self.stop.is_set():
                self.flush(drop_stale(batch, self.rev.epochs()))
            self.finish_in_flight()
        except _Stopped:
            log.warning("stopped with an unfinished batch: its offsets stay uncommitted")
        finally:
            self._maybe_log_stats(force=True)
            self.close()
        return self.stats

    def close(self) -> None:
        # A batch still in flight here was stopped by an error or by ``_Stopped``: its bulk
        # request may finish, but its offsets are never committed.
        for closer in (self._bulk_thread.shutdown, self.consumer.close, self.dlq.close,
                       self.es.close):
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
