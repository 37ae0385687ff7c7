"""The worker's first step: a batch of ``news.raw`` events to delivery outputs, delivered.

Each event becomes a dead letter with its reason, or an enriched article that goes either to
the near-duplicate stage (``processors.dedup_stage``: an envelope on its one-partition topic,
the default) or -- with ``dedup_stage=false``, clustered by this worker's own index -- straight
to ``processors.publish``. With the stage, the enrichment runs in a child process
(``processors.enrich_process``) by default: the batch goes to it in chunks, and each chunk's
sends start while the child enriches the next."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import encode_dead_letter, replays_from_headers
from processors.dedup_stage import stage_output
from processors.delivery import Delivery, Output
from processors.enrich_process import EnrichProcess, Item, Staged
from processors.metrics import WorkerMetrics
from processors.publish import Decided, Publisher
from processors.records import Coordinates, Enriched, Failed, process_record
from processors.routing import routed
from processors.stage_envelope import envelope

if TYPE_CHECKING:  # the worker process imports no enrichment code when a child enriches
    from processors.enrich import Enricher

log = logging.getLogger(__name__)
# Records per chunk handed to the enrichment process: ~40 ms of enrichment, so the first sends
# of a batch start early, and the per-chunk hand-over (~0.2 ms) stays under 1%.
CHUNK = 25


def where_of(event: Any) -> Coordinates:
    msg = event.message
    replays = replays_from_headers(msg.headers) if msg.headers else 0
    return Coordinates(msg.topic, msg.partition, msg.offset, replays, msg.timestamp)


class EnrichStep:
    """Enriches with an ``Enricher`` in a thread of this process or -- near-duplicate stage
    only -- with an ``EnrichProcess``, a child process."""

    def __init__(self, enricher: Enricher | EnrichProcess, dlq_topic: Any,
                 metrics: WorkerMetrics, count_dead_letter: Callable[[DeadLetter], None], *,
                 stage_topic: Any = None, publisher: Publisher | None = None) -> None:
        if (stage_topic is None) == (publisher is None):
            raise ValueError("an enrich step sends to the near-duplicate stage or publishes")
        if isinstance(enricher, EnrichProcess):
            if stage_topic is None:
                raise ValueError("the enrichment process needs the near-duplicate stage")
        elif (stage_topic is not None) != enricher.defer_dedup:
            raise ValueError("the stage decides clusters iff the enricher defers them")
        self.enricher, self.dlq_topic, self.metrics = enricher, dlq_topic, metrics
        self.count_dead_letter = count_dead_letter
        self.stage_topic, self.publisher = stage_topic, publisher
        self.processed = 0
        self.enriched = 0

    async def deliver(self, events: Sequence[Any], delivery: Delivery) -> None:
        """Returns once every output of ``events`` is acknowledged (or dead-lettered)."""
        if not isinstance(self.enricher, EnrichProcess):
            await delivery.deliver_all(await self.outputs(events))
            return
        process = self.enricher
        chunks = [events[i : i + CHUNK] for i in range(0, len(events), CHUNK)]
        items = [[(e.key, e.value, where_of(e)) for e in chunk] for chunk in chunks]
        sends: list[asyncio.Future[None]] = []
        # Two chunks with the child at a time: it starts the next as soon as one is done.
        ahead = process.submit(items[0]) if items else None
        for i, chunk in enumerate(chunks):
            assert ahead is not None
            pending, ahead = ahead, process.submit(items[i + 1]) if i + 1 < len(items) else None
            results = await process.collect(pending)
            outputs = [self._route_staged(r, it, e.value or b"")
                       for r, it, e in zip(results, items[i], chunk, strict=True)]
            sends.append(asyncio.ensure_future(delivery.deliver_all(outputs)))
        await asyncio.gather(*sends)

    async def outputs(self, events: Sequence[Any]) -> list[Output]:
        # Enrichment is CPU work (seconds for a very long article): off the event loop, so
        # heartbeats and fetches go on meanwhile. One batch at a time, so the enricher's
        # state (near-duplicate index) is still used by one thread at a time.
        decided: list[Decided] = []
        outputs = await asyncio.to_thread(self._process_batch, events, decided)
        if self.publisher is not None and decided:
            outputs.extend(await self.publisher.outputs(decided))
        return outputs

    def _process_batch(self, events: Sequence[Any], decided: list[Decided]) -> list[Output]:
        assert not isinstance(self.enricher, EnrichProcess)
        outputs = []
        for event in events:
            where = where_of(event)
            result = process_record(self.enricher, event.key, event.value, where)
            out = self._route(result, where, event.value or b"")
            if isinstance(out, Decided):
                decided.append(out)
            else:
                outputs.append(out)
        return outputs

    def _route(self, result: Enriched | Failed, where: Coordinates, raw: bytes
               ) -> Output | Decided:
        self.processed += 1
        coords = (where.topic, where.partition, where.offset)
        if isinstance(result, Enriched):
            self.enriched += 1
            self.metrics.enriched(result)
            if self.stage_topic is not None:
                return stage_output(self.stage_topic, result.key, envelope(result, where), raw,
                                    where)
            return Decided(result.key, result.value, routed(result.article), raw, coords,
                           where.replays, where.timestamp)
        return self._dead_letter(result, where, raw)

    def _route_staged(self, result: Staged | Failed, item: Item, raw: bytes) -> Output:
        self.processed += 1
        where = item[2]
        if isinstance(result, Staged):
            self.enriched += 1
            self.metrics.enriched_stages(result.stages)
            return stage_output(self.stage_topic, result.key, result.envelope, raw, where)
        return self._dead_letter(result, where, raw)

    def _dead_letter(self, result: Failed, where: Coordinates, raw: bytes) -> Output:
        coords = (where.topic, where.partition, where.offset)
        dl = result.dead_letter
        self.count_dead_letter(dl)
        log.warning(
            "dead-lettered %s at %s/%s/%s, stage %s: %s",
            dl.key, where.topic, where.partition, where.offset, dl.stage, dl.error[:200],
        )
        key = (dl.key or "").encode()
        return Output(self.dlq_topic, key, encode_dead_letter(dl), raw, coords, dl,
                      replays=where.replays)
