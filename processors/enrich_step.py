"""The worker's first step: a batch of ``news.raw`` events to delivery outputs.

Each event becomes a dead letter with its reason, or an enriched article that goes either to
the near-duplicate stage (``processors.dedup_stage``: an envelope on its one-partition topic,
the default) or -- with ``dedup_stage=false``, clustered by this worker's own index -- straight
to ``processors.publish``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any

from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import encode_dead_letter, replays_from_headers
from processors.dedup_stage import stage_output
from processors.delivery import Output
from processors.enrich import Enricher
from processors.metrics import WorkerMetrics
from processors.publish import Decided, Publisher
from processors.records import Coordinates, Enriched, Failed, process_record
from processors.routing import routed

log = logging.getLogger(__name__)


class EnrichStep:
    def __init__(self, enricher: Enricher, dlq_topic: Any, metrics: WorkerMetrics,
                 count_dead_letter: Callable[[DeadLetter], None], *,
                 stage_topic: Any = None, publisher: Publisher | None = None) -> None:
        if (stage_topic is None) == (publisher is None):
            raise ValueError("an enrich step sends to the near-duplicate stage or publishes")
        if (stage_topic is not None) != enricher.defer_dedup:
            raise ValueError("the stage decides clusters iff the enricher defers them")
        self.enricher, self.dlq_topic, self.metrics = enricher, dlq_topic, metrics
        self.count_dead_letter = count_dead_letter
        self.stage_topic, self.publisher = stage_topic, publisher
        self.processed = 0
        self.enriched = 0

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
        outputs = []
        for event in events:
            msg = event.message
            replays = replays_from_headers(msg.headers) if msg.headers else 0
            where = Coordinates(msg.topic, msg.partition, msg.offset, replays, msg.timestamp)
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
                return stage_output(self.stage_topic, result, raw, where)
            return Decided(result.key, result.value, routed(result.article), raw, coords,
                           where.replays, where.timestamp)
        dl = result.dead_letter
        self.count_dead_letter(dl)
        log.warning(
            "dead-lettered %s at %s/%s/%s, stage %s: %s",
            dl.key, where.topic, where.partition, where.offset, dl.stage, dl.error[:200],
        )
        key = (dl.key or "").encode()
        return Output(self.dlq_topic, key, encode_dead_letter(dl), raw, coords, dl,
                      replays=where.replays)
