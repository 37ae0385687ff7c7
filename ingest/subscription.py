"""Subscribing to enriched articles from Python: ``Subscription`` (an iterator) and
``AsyncSubscription`` (an async iterator) over Kafka.

    for item in Subscription(labels=["sport"], group="sports-desk"):
        if isinstance(item, LabelRetraction):   # the article lost the label
            drop(item.id)
        else:
            publish(item)                        # an EnrichedArticle

Commit-after-handle: with ``group=NAME`` the position of an item is committed only once the
loop has asked for the next item, i.e. after your loop body finished with it (and on
``close()``, which ``with`` and a finished loop call). A crash or kill re-delivers at most the
items handled since the last commit (about a second): at-least-once, so de-duplicate on
``id``. Without a group nothing is committed and each run starts where ``start`` says.

Only labels asked: the per-label topics (``news.topic.<label>``) are read, and retractions are
delivered. Anything else (entity, source, language): ``news.enriched`` is read and filtered here.
The same article on two asked-for label topics is delivered once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition
from pydantic import ValidationError

from ingest.subscription_filter import (
    Item,
    Positions,
    SubscriptionFilter,
    decode_positions,
    encode_positions,
)
from newsflow.core.clients import kafka_config
from newsflow.core.contract import EnrichedArticle, LabelRetraction
from newsflow.core.settings import Settings, get_settings

log = logging.getLogger(__name__)
Start = Literal["new", "beginning"] | datetime
COMMIT_INTERVAL = 1.0  # seconds between commits while items keep coming
SEEN_CAPACITY = 10_000  # recent (id, value) pairs: one article on two label topics comes once


@dataclass(frozen=True)
class Delivery:
    """One matching record; ``token`` resumes right after it (see ``positions=``)."""

    item: Item
    value: bytes  # the record exactly as on Kafka (JSON)
    topic: str
    partition: int
    offset: int
    token: str


def decode_item(value: bytes) -> Item:
    data = orjson.loads(value)
    if isinstance(data, dict) and data.get("retracted") is True:
        return LabelRetraction.model_validate(data)
    return EnrichedArticle.model_validate(data)


class _ForgetRevoked(ConsumerRebalanceListener):
    """Revoked partitions are dropped from the positions to commit: another member continues
    from the last commit (at most about a second of re-delivery). kafka-python runs listeners
    on its IO thread, where blocking calls such as ``commit`` are not allowed."""

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub

    def on_partitions_revoked(self, revoked: Any) -> None:
        for tp in revoked:
            self.sub.positions.pop((tp.topic, tp.partition), None)

    def on_partitions_assigned(self, assigned: Any) -> None:
        pass  # positioned by committed offset, else auto_offset_reset (new / beginning)


class Subscription:
    """Filtered enriched articles from Kafka; see the module docstring for the semantics.

    ``start``: ``"new"`` (default: only what arrives from now on), ``"beginning"`` (all that
    Kafka still holds), or a datetime (first records at or after it). With ``group`` it applies
    only to partitions the group has no committed position for. ``positions`` (from a
    ``Delivery.token``) resumes exactly after that delivery, without a group."""

    def __init__(
        self,
        labels: Iterable[str] = (),
        entity: str | None = None,
        sources: Iterable[str] = (),
        languages: Iterable[str] = (),
        *,
        start: Start = "new",
        group: str | None = None,
        positions: str | Positions | None = None,
        settings: Settings | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.settings = settings or get_settings()
        self.filter = SubscriptionFilter.build(labels, entity, sources, languages)
        self.topics = self.filter.topics(self.settings)
        self.start, self.group, self.poll_seconds = start, group, poll_seconds
        self.resume = decode_positions(positions) if isinstance(positions, str) else positions
        self.positions: Positions = {}  # next offset to handle, per partition
        self._committed: Positions = {}
        self._last_commit = time.monotonic()
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._consumer: KafkaConsumer | None = None
        self._pending: list[Any] = []  # records fetched while joining the group
        self.on_ready: Callable[[Subscription], None] | None = None

    # --- connection -----------------------------------------------------------------------

    def open(self) -> Subscription:
        """Connect and position; returns once records produced from now on will be seen."""
        if self._consumer is not None:
            return self
        s = self.settings
        self._consumer = KafkaConsumer(
            **kafka_config(s),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if self.start == "beginning" else "latest",
            fetch_max_wait_ms=100,
            # A subscriber restarted after a crash waits for its dead self to time out of the
            # group: 10 s rather than the client's 45 s default.
            session_timeout_ms=10_000,
            heartbeat_interval_ms=3_000,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            client_id=f"newsflow-subscribe-{self.group or 'anonymous'}",
        )
        if self.group:
            self._consumer.subscribe(self.topics, listener=_ForgetRevoked(self))
            self._wait_for_assignment()
        else:
            tps = self._all_partitions()
            self._consumer.assign(tps)
            self._start_assigned(tps)
        first_pending: Positions = {}
        for r in reversed(self._pending):
            first_pending[(r.topic, r.partition)] = r.offset
        for tp in self._consumer.assignment():  # resolve lazy seeks now, not at first fetch
            where = (tp.topic, tp.partition)
            self.positions[where] = first_pending.get(where, self._consumer.position(tp))
        if self.group:
            # Pin where a group starts: a subscriber killed before its first commit then
            # resumes from here instead of "new only" again, which would skip what was
            # produced while it was down.
            self._commit()
        if self.on_ready:
            self.on_ready(self)
        return self

    def _all_partitions(self) -> list[TopicPartition]:
        assert self._consumer is not None
        tps: list[TopicPartition] = []
        for topic in self.topics:
            parts = self._consumer.partitions_for_topic(topic)
            if not parts:
                raise LookupError(f"topic {topic!r} does not exist: run `newsflow setup`")
            tps.extend(TopicPartition(topic, p) for p in sorted(parts))
        return tps

    def _wait_for_assignment(self, timeout: float = 60.0) -> None:
        assert self._consumer is not None
        self._all_partitions()  # a clear error for a missing topic rather than a silent wait
        deadline = time.monotonic() + timeout
        while not self._consumer.assignment():
            if time.monotonic() > deadline:
                raise TimeoutError(f"group {self.group!r} got no partitions in {timeout:.0f} s")
            # poll() joins the group; records it returns already are kept for deliveries().
            batch = self._consumer.poll(timeout_ms=200)
            self._pending.extend(r for rs in batch.values() for r in rs)
        if isinstance(self.start, datetime):  # --since: for partitions never committed
            self._pending.clear()
            self._start_assigned(list(self._consumer.assignment()))

    def _start_assigned(self, tps: list[TopicPartition]) -> None:
        """Position newly assigned partitions: resume token, else committed, else ``start``."""
        consumer = self._consumer
        assert consumer is not None
        fresh = []
        for tp in tps:
            resume = (self.resume or {}).get((tp.topic, tp.partition))
            if resume is not None:
                consumer.seek(tp, resume)
            elif not (self.group and consumer.committed(tp) is not None):
                fresh.append(tp)
        if not fresh:
            return
        if self.start == "beginning":
            consumer.seek_to_beginning(*fresh)
        elif self.start == "new":
            consumer.seek_to_end(*fresh)
        else:
            stamp = int(self.start.timestamp() * 1000)
            found = consumer.offsets_for_times(dict.fromkeys(fresh, stamp))
            for tp in fresh:
                hit = found.get(tp)
                if hit is None:
                    consumer.seek_to_end(tp)
                else:
                    consumer.seek(tp, hit.offset)

    def close(self) -> None:
        if self._consumer is None:
            return
        try:
            self._commit()
        finally:
            self._consumer.close(autocommit=False)
            self._consumer = None

    def __enter__(self) -> Subscription:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- consuming ------------------------------------------------------------------------

    def deliveries(self, idle: bool = False) -> Generator[Delivery | None, None, None]:
        """Matching records in order. With ``idle=True`` a None comes after each empty poll
        (so a caller can check for a closed client). Positions advance, and with a group are
        committed, only when the caller comes back for the next one."""
        self.open()
        consumer = self._consumer
        assert consumer is not None
        while True:
            if self._pending:
                records, self._pending = self._pending, []
            else:
                batch = consumer.poll(timeout_ms=int(self.poll_seconds * 1000))
                records = [r for rs in batch.values() for r in rs]  # in order per partition
            if not records:
                self._commit()
                if idle:
                    yield None
                continue
            for record in records:
                delivery = self._deliverable(record)
                if delivery is not None:
                    yield delivery
                self._handled(record.topic, record.partition, record.offset)
            self._maybe_commit()

    def _deliverable(self, record: Any) -> Delivery | None:
        if record.value is None:
            return None
        try:
            item = decode_item(record.value)
        except (orjson.JSONDecodeError, ValidationError) as exc:
            log.warning("skipping unreadable record %s/%s/%s: %s", record.topic,
                        record.partition, record.offset, str(exc)[:200])
            return None
        if not self.filter.matches(item) or self._seen_before(item.id, record.value):
            return None
        positions = {**self.positions, (record.topic, record.partition): record.offset + 1}
        return Delivery(item, record.value, record.topic, record.partition, record.offset,
                        encode_positions(positions))

    def _seen_before(self, article_id: str, value: bytes) -> bool:
        if len(self.topics) < 2:
            return False
        key = (article_id, hash(value))
        if key in self._seen:
            return True
        self._seen[key] = None
        if len(self._seen) > SEEN_CAPACITY:
            self._seen.popitem(last=False)
        return False

    def _handled(self, topic: str, partition: int, offset: int) -> None:
        self.positions[(topic, partition)] = offset + 1

    def _maybe_commit(self) -> None:
        if time.monotonic() - self._last_commit >= COMMIT_INTERVAL:
            self._commit()

    def _commit(self) -> None:
        self._last_commit = time.monotonic()
        if not self.group or self._consumer is None:
            return
        from kafka.errors import CommitFailedError
        from kafka.structs import OffsetAndMetadata

        due = {tp: off for tp, off in self.positions.items() if self._committed.get(tp) != off}
        if not due:
            return
        try:
            self._consumer.commit({TopicPartition(t, p): OffsetAndMetadata(off, "", -1)
                                   for (t, p), off in due.items()})
        except CommitFailedError as exc:  # mid-rebalance: the new owner re-reads these
            log.warning("commit failed (%s); those records will be delivered again", exc)
            return
        self._committed.update(due)

    def __iter__(self) -> Iterator[Item]:
        try:
            for delivery in self.deliveries():
                if delivery is not None:
                    yield delivery.item
        finally:
            self.close()


class AsyncSubscription:
    """``Subscription`` for asyncio: ``async with AsyncSubscription(...) as sub: async for item
    in sub``. The Kafka client runs on one thread of its own; the semantics (filters,
    commit-after-handle) are those of ``Subscription``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sync = Subscription(*args, **kwargs)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="subscription")
        self._deliveries: Generator[Delivery | None, None, None] | None = None

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def open(self) -> AsyncSubscription:
        await self._run(self.sync.open)
        return self

    async def close(self) -> None:
        gen = self._deliveries
        self._deliveries = None

        def close_both() -> None:
            if gen is not None:
                gen.close()
            self.sync.close()

        await self._run(close_both)
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> AsyncSubscription:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def next_delivery(self) -> Delivery | None:
        """The next matching record, or None after a quiet poll (about ``poll_seconds``)."""
        if self._deliveries is None:
            self._deliveries = self.sync.deliveries(idle=True)
        gen = self._deliveries
        delivery: Delivery | None = await self._run(lambda: next(gen))
        return delivery

    async def deliveries(self) -> AsyncIterator[Delivery | None]:
        while True:
            yield await self.next_delivery()

    def __aiter__(self) -> AsyncIterator[Item]:
        return self._items()

    async def _items(self) -> AsyncIterator[Item]:
        async for delivery in self.deliveries():
            if delivery is not None:
                yield delivery.item
