"""The Faust worker: a thin shell around ``processors.records.process_record``.

It only moves records: ``news.raw`` in, ``news.enriched`` or ``news.dlq`` out. Faust acks an
event as soon as the ``async for`` moves on (even after an exception), so every event is handled
inside a try and its output is delivered (``processors.delivery``: awaited to the broker
acknowledgement, dead-lettered when the record itself is refused) before the loop advances.
concurrency=1 because higher values can commit past an unfinished
event (faust-streaming#606)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import faust

from newsflow.core.clients import faust_broker_config
from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import encode_dead_letter, replays_from_headers
from newsflow.core.settings import Settings, get_settings
from processors.delivery import Delivery, Output
from processors.enrich import Enricher
from processors.label_router import LabelRouter
from processors.metrics import QuietMonitor, WorkerMetrics, add_metrics_page, quiet_faust_timers
from processors.records import Coordinates, Enriched, Failed, process_record

log = logging.getLogger(__name__)
BATCH_MAX = 200
BATCH_WITHIN = 0.2  # seconds: the most a lone article waits for company


@dataclass
class WorkerStats:
    started: float = field(default_factory=time.time)
    ready: bool = False  # the agent consumes: what `newsflow run` and supervisors wait for
    processed: int = 0
    enriched: int = 0
    dead_lettered: int = 0
    send_retries: int = 0
    last_event_at: float | None = None
    dlq_by_stage: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        now = time.time()
        return {
            "ready": self.ready,
            "uptime_seconds": round(now - self.started, 1),
            "processed": self.processed,
            "enriched": self.enriched,
            "dead_lettered": self.dead_lettered,
            "dlq_by_stage": self.dlq_by_stage,
            "send_retries": self.send_retries,
            "seconds_since_last_event": (
                None if self.last_event_at is None else round(now - self.last_event_at, 1)
            ),
        }


def create_app(settings: Settings | None = None, *, web_port: int | None = None) -> faust.App:
    """The Faust app with its one agent; raises on bad enrichment settings before any I/O."""
    settings = settings or get_settings()
    # Built before Faust starts so that a bad taxonomy file or missing NER data stops the
    # command with its message, rather than crashing the agent inside a running worker.
    enricher = Enricher(settings)
    stats = WorkerStats()
    label_router = LabelRouter.from_settings(settings)
    datadir = settings.stack_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    app = faust.App(
        settings.app_id,
        **faust_broker_config(settings),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=200,
        web_enabled=web_port is not None and web_port > 0,
        web_port=web_port or settings.worker_web_port,
        web_bind="127.0.0.1",
        datadir=str(datadir),
        Monitor=QuietMonitor,
    )
    raw_topic = app.topic(settings.topic_raw, key_type=bytes, value_type=bytes)
    enriched_topic = app.topic(settings.topic_enriched, key_type=bytes, value_type=bytes)
    dlq_topic = app.topic(settings.topic_dlq, key_type=bytes, value_type=bytes)
    app.newsflow_stats = stats  # type: ignore[attr-defined]
    label_topics: dict[str, faust.TopicT] = {}

    def label_topic(name: str) -> faust.TopicT:
        if name not in label_topics:
            label_topics[name] = app.topic(name, key_type=bytes, value_type=bytes)
        return label_topics[name]
    metrics = WorkerMetrics(app)
    quiet_faust_timers()

    delivery = Delivery(dlq_topic)

    def count_dead_letter(dl: DeadLetter) -> None:
        stats.dead_lettered += 1
        stats.dlq_by_stage[dl.stage] = stats.dlq_by_stage.get(dl.stage, 0) + 1
        metrics.dead_lettered(dl)

    delivery.on_dead_letter = count_dead_letter

    def route(result: Enriched | Failed, where: Coordinates, raw: bytes) -> Output:
        stats.processed += 1
        coords = (where.topic, where.partition, where.offset)
        if isinstance(result, Enriched):
            stats.enriched += 1
            metrics.enriched(result)
            # The raw record's produce time travels on: the indexer's produce->indexed latency.
            return Output(enriched_topic, result.key, result.value, raw, coords,
                          replays=where.replays, timestamp=where.timestamp)
        dl = result.dead_letter
        count_dead_letter(dl)
        log.warning(
            "dead-lettered %s at %s/%s/%s, stage %s: %s",
            dl.key, where.topic, where.partition, where.offset, dl.stage, dl.error[:200],
        )
        key = (dl.key or "").encode()
        return Output(dlq_topic, key, encode_dead_letter(dl), raw, coords, dl,
                      replays=where.replays)

    def process_batch(events: list[Any], enriched: list[tuple[Enriched, Output]]
                      ) -> list[Output]:
        outputs = []
        for event in events:
            msg = event.message
            replays = replays_from_headers(msg.headers) if msg.headers else 0
            where = Coordinates(msg.topic, msg.partition, msg.offset, replays, msg.timestamp)
            result = process_record(enricher, event.key, event.value, where)
            outputs.append(route(result, where, event.value or b""))
            if isinstance(result, Enriched):
                enriched.append((result, outputs[-1]))
        return outputs

    async def label_outputs(enriched: list[tuple[Enriched, Output]]) -> list[Output]:
        per_article = await label_router.records(
            [e.article for e, _ in enriched], [e.value for e, _ in enriched])
        return [Output(label_topic(topic), key, value, out.raw, out.where, replays=out.replays)
                for (_, out), records in zip(enriched, per_article, strict=True)
                for topic, key, value in records]

    @app.agent(raw_topic, concurrency=1)
    async def enrich_articles(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        await restore_dedup_state(enricher, settings)
        quiet_faust_timers()  # again: the Faust worker configured logging after create_app
        stats.ready = True
        log.info("enricher ready")
        # Events come in small batches so that their sends overlap instead of each waiting a
        # broker round trip; take_events acks the batch only after this body has finished, i.e.
        # after every output of the batch is acknowledged by the broker (or dead-lettered).
        batches = cast(faust.Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN)
        async for events in batches:
            metrics.consumed(events)
            # Enrichment is CPU work (seconds for a very long article): off the event loop, so
            # heartbeats and fetches go on meanwhile. One batch at a time, so the enricher's
            # state (near-duplicate index) is still used by one thread at a time.
            enriched: list[tuple[Enriched, Output]] = []
            outputs = await asyncio.to_thread(process_batch, list(events), enriched)
            # Per-label copies and retractions (processors.routing) go out with the batch, so
            # they are acknowledged before the batch is: at-least-once like news.enriched.
            outputs.extend(await label_outputs(enriched))
            await delivery.deliver_all(outputs)
            stats.send_retries = delivery.retries
            stats.last_event_at = time.time()
            yield None

    add_metrics_page(app)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        return web.json({**stats.as_dict(), "label_streams": label_router.as_dict()})

    return app


async def restore_dedup_state(enricher: Enricher, settings: Settings) -> None:
    """Rebuild the near-duplicate index from what is already indexed, so clusters survive a
    restart. A missing or unreachable Elasticsearch only costs cluster continuity."""
    from processors.dedup_restore import recent_cluster_items

    try:
        items = await asyncio.to_thread(lambda: list(recent_cluster_items(settings)))
    except Exception as exc:
        log.warning("near-duplicate state not restored (%s); starting empty", exc)
        return
    enricher.dedup.rebuild(items)
    log.info("near-duplicate state restored from %d indexed articles", len(items))
