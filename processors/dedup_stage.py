"""Scale-out near-duplicates: the cluster decision in one place, whatever partition (and so
whatever worker) an article came in on.

Stage 1, the enrich step (one per ``news.raw`` partition, spread over N workers), does all the
per-article CPU work including the MinHash signature, and sends an *envelope* -- a small JSON
head (id, URL, labels, ingest time, signature) on one line, then the enriched article without
its ``cluster_id`` -- to this stage's topic. That topic has ONE partition (and stage 1 writes
partition 0 explicitly), so exactly one worker of the group owns the stage at a time. Its
agent holds the near-duplicate index, assigns ``cluster_id``, appends it to the article bytes
(no second decode), and publishes: ``news.enriched`` and the per-label streams
(``processors.publish``). Every article of every partition meets the same state, in the order
of one log: N workers find the clusters one finds.

Why not the alternatives:

* a lookup Elasticsearch answers (band keys stored in each document, a ``terms`` query per
  article): an article is searchable only after the indexer's batch and refresh (~1-2 s, and
  unbounded while the indexer lags), so wire copies arriving together on two partitions -- the
  common case -- would miss each other: the answer would depend on timing and load;
* repartitioning by LSH band (a topic keyed by band, a table per band): one article touches b
  bands owned by different workers, so a decision needs a scatter/gather of b answers and a
  second round to record the winner -- b+1 messages per article and a distributed race on
  "first seen" -- for a decision that costs tens of microseconds here.

The single partition is not the pipeline's limit: from a precomputed signature the decision
and the byte splice cost well under a millisecond per article (``newsflow bench`` shows the
stage's share), while enrichment costs ~10 ms per article per worker.

Failover: when the stage's partition moves to another worker (its owner died or the group
rebalanced), the new owner rebuilds the index from Elasticsearch before deciding anything, as a
restarted worker does, and forgets its label memory. Articles decided but not yet indexed at
that moment are not in the rebuilt state (a copy of one of them may start its own cluster):
the same window a restart has. A worker that does not own the stage holds no index.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import faust
import orjson

from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import (
    DLQ_MAX_BYTES,
    dead_letter,
    encode_dead_letter,
    replays_from_headers,
)
from newsflow.core.settings import Settings
from processors.dedup import NearDuplicateIndex

# Imported with the worker, not on the first take-over: importing the Elasticsearch client takes
# seconds of CPU, and in the restore thread it would hold the GIL while Faust recovers partitions.
from processors.dedup_restore import restore_index
from processors.delivery import Delivery, Original, Output, Where
from processors.metrics import WorkerMetrics
from processors.publish import Decided, Publisher
from processors.raw_lookup import fetch_record
from processors.records import Coordinates
from processors.stage_envelope import (
    Envelope,
    open_envelope,
    raw_source,
    with_cluster,
)

log = logging.getLogger(__name__)
STAGE = "dedup"
BATCH_MAX = 200  # envelopes: a batch of them, decoded, and its outputs are all held at once
BATCH_WITHIN = 0.05  # seconds: the stage adds at most this to an article's latency
STAGE_PARTITION = 0
# Records as large as news.enriched takes (an envelope is the article plus ~1.5 KB of head).
STAGE_TOPIC_CONFIG = {"max.message.bytes": str(DLQ_MAX_BYTES), "compression.type": "producer"}


def raw_original(settings: Settings) -> Original:
    """For the stage's delivery: a dead letter replacing a refused record keeps the raw input,
    read back from news.raw (``processors.raw_lookup``), and points at it -- or, when it cannot
    be read, the envelope, pointing at the stage's topic (a replay then re-drives the stage)."""

    async def original(out: Output) -> tuple[bytes, Where]:
        try:
            topic, partition, offset = raw_source(orjson.loads(out.raw.partition(b"\n")[0]))
        except Exception:  # not an envelope: keep what was read
            return out.raw, out.where
        if topic is None or partition is None or offset is None:
            return out.raw, out.where
        raw = await asyncio.to_thread(fetch_record, settings, topic, partition, offset)
        if raw is None:
            log.warning("raw record %s[%s]@%s not found; the dead letter keeps the envelope",
                        topic, partition, offset)
            return out.raw, out.where
        return raw, (topic, partition, offset)

    return original


def decide(index: NearDuplicateIndex, env: Envelope) -> bytes:
    """The news.enriched value for one envelope, its cluster decided by ``index``."""
    cluster = index.assign_signature(env.article.id, env.signature, env.ts)
    return with_cluster(env.body, cluster)


def stage_topic(app: faust.App, settings: Settings) -> faust.TopicT:
    """Internal: a worker started without ``newsflow setup`` creates it (one partition) itself;
    ``newsflow setup`` creates it replicated like the other topics."""
    return app.topic(settings.topic_dedup_stage, key_type=bytes, value_type=bytes, partitions=1,
                     internal=True, replicas=settings.topic_replication,
                     config=STAGE_TOPIC_CONFIG)


def stage_output(topic: faust.TopicT, key: bytes, value: bytes, raw: bytes, where: Coordinates
                 ) -> Output:
    """Stage 1's output: ``value`` is the article's envelope (``stage_envelope.envelope``). The
    raw record's produce time travels on as the envelope's timestamp, and from there to
    news.enriched."""
    return Output(topic, key, value, raw, (where.topic, where.partition, where.offset),
                  replays=where.replays, timestamp=where.timestamp, partition=STAGE_PARTITION)


class DedupStage:
    """Declares the stage's agent on ``app``; ``topic`` is where stage 1 sends."""

    def __init__(self, app: faust.App, settings: Settings, topic: faust.TopicT,
                 publisher: Publisher, delivery: Delivery, metrics: WorkerMetrics,
                 count_dead_letter: Callable[[DeadLetter], None]) -> None:
        self.settings, self.topic = settings, topic
        self.publisher, self.delivery, self.metrics = publisher, delivery, metrics
        self.count_dead_letter = count_dead_letter
        self.index: NearDuplicateIndex | None = None  # only while this worker owns the stage
        self.owned = False
        self.decided = 0
        self._take_over: asyncio.Task[None] | None = None
        app.on_partitions_assigned.connect(cast(Any, self._on_assigned))
        app.agent(topic, name=f"{settings.app_id}-dedup", concurrency=1)(self._agent)

    async def _on_assigned(self, _app: Any, assigned: Any, **_kw: Any) -> None:
        owned = any(tp.topic == self.settings.topic_dedup_stage for tp in assigned)
        if owned and not self.owned:
            # Newly ours: decide nothing before the index holds what is already indexed.
            self._take_over = asyncio.ensure_future(self.take_over())
        elif not owned:
            self.index = None  # the new owner rebuilds; holding a stale copy costs memory
        self.owned = owned

    async def take_over(self) -> None:
        index = NearDuplicateIndex.from_settings(self.settings)
        held = await restore_index(index, self.settings)
        self.index = index
        self.publisher.label_router.forget()  # the previous owner may have routed since
        log.info("near-duplicate stage: owns %s, %d articles in its state",
                 self.settings.topic_dedup_stage, held)

    async def _current_index(self) -> NearDuplicateIndex:
        if self._take_over is not None:
            await self._take_over
            self._take_over = None
        if self.index is None:  # events of a partition that was just revoked: decide anyway
            await self.take_over()
        assert self.index is not None
        return self.index

    async def _agent(self, stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast(faust.Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN)
        async for events in batches:
            index = await self._current_index()
            self.metrics.consumed(events)
            decided: list[Decided] = []
            outputs = [out for event in events
                       if (out := self._decide(index, event, decided)) is not None]
            outputs.extend(await self.publisher.outputs(decided))
            # Acked (take_events) only on the next iteration: after every output is.
            await self.delivery.deliver_all(outputs)
            yield None

    def _decide(self, index: NearDuplicateIndex, event: Any, decided: list[Decided]
                ) -> Output | None:
        """Appends to ``decided``, or returns the dead letter for a record that is no
        envelope. A dead letter keeps the envelope and points at this topic, so ``newsflow dlq
        replay`` sends it back here."""
        msg = event.message
        replays = replays_from_headers(msg.headers) if msg.headers else 0
        where = (msg.topic, msg.partition, msg.offset)
        value = event.value or b""
        t0 = time.perf_counter()
        try:
            env = open_envelope(event.value, index.num_perm)
            out = decide(index, env)
        except Exception as exc:  # one bad record must not stop the stage
            dl = dead_letter(STAGE, str(exc) or repr(exc), type(exc).__name__, value,
                             key=event.key.decode("utf-8", "replace") if event.key else None,
                             source_topic=msg.topic, source_partition=msg.partition,
                             source_offset=msg.offset, replays=replays)
            self.count_dead_letter(dl)
            log.warning("dead-lettered %s at the near-duplicate stage (%s[%s]@%s): %s",
                        dl.key, *where, dl.error[:200])
            return Output(self.delivery.dlq_topic, (dl.key or "").encode(),
                          encode_dead_letter(dl), value, where, dl, replays=replays)
        self.metrics.decided(time.perf_counter() - t0)
        self.decided += 1
        decided.append(Decided(env.article.id.encode(), out, env.article, value, where,
                               replays, msg.timestamp))
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"enabled": True, "topic": self.settings.topic_dedup_stage, "owned": self.owned,
                "articles": None if self.index is None else len(self.index),
                "state_bytes": None if self.index is None else self.index.nbytes,
                "decided": self.decided, "send_retries": self.delivery.retries}
