"""The Faust worker: a thin shell around ``processors.records.process_record``.

It only moves records: ``news.raw`` in; ``news.enriched``, the per-label streams or
``news.dlq`` out. Two agents (see ``processors.dedup_stage``): the enrich step on every
``news.raw`` partition this worker holds, and the near-duplicate stage on the stage topic's one
partition, which one worker of the group holds. Faust acks an event as soon as the ``async
for`` moves on (even after an exception), so every event is handled inside a try and its
output is delivered (``processors.delivery``: awaited to the broker acknowledgement,
dead-lettered when the record itself is refused) before the loop advances. concurrency=1
because higher values can commit past an unfinished event (faust-streaming#606)."""

from __future__ import annotations

import atexit
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

import faust

from newsflow.core.clients import faust_broker_config
from newsflow.core.contract import DeadLetter
from newsflow.core.settings import Settings, get_settings
from processors.dedup_restore import restore_index
from processors.dedup_stage import DedupStage, raw_original, stage_topic
from processors.delivery import Delivery, send_via_producer
from processors.enrich_process import EnrichProcess
from processors.enrich_step import EnrichStep
from processors.held_batches import HeldBatches
from processors.label_router import LabelRouter
from processors.metrics import (
    DEDUP_STATION,
    QuietMonitor,
    WorkerMetrics,
    add_metrics_page,
    quiet_faust_timers,
)
from processors.publish import Publisher

if TYPE_CHECKING:  # imported only when this process enriches (see uses_enrich_process)
    from processors.enrich import Enricher

log = logging.getLogger(__name__)
BATCH_MAX = 200
BATCH_WITHIN = 0.05  # seconds: the most a lone article waits for company
# Events per topic Faust may buffer ahead: above both agents' batch sizes (200 here and at the
# stage). Faust's default, 4096, lets a backlog hold ~80 MB of stage envelopes in memory.
STREAM_BUFFER = 600


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

    def count_dead_letter(self, dl: DeadLetter) -> None:
        self.dead_lettered += 1
        self.dlq_by_stage[dl.stage] = self.dlq_by_stage.get(dl.stage, 0) + 1


def faust_app(settings: Settings, web_port: int | None) -> faust.App:
    datadir = settings.stack_dir / "faust" / settings.app_id
    datadir.parent.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    return faust.App(
        settings.app_id,
        **faust_broker_config(settings),
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.topic_partitions,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        broker_max_poll_records=200,
        stream_buffer_maxsize=STREAM_BUFFER,
        web_enabled=web_port is not None and web_port > 0,
        web_port=web_port or settings.worker_web_port,
        web_bind="127.0.0.1",
        datadir=str(datadir),
        Monitor=QuietMonitor,
    )


def uses_enrich_process(settings: Settings) -> bool:
    """A child process enriches when asked to (``enrich_process``) and the near-duplicate stage
    is on (stage 1 is then stateless). Off by default: on two cores shared with Kafka and
    Elasticsearch the pipeline gains little, and the child costs ~70 MB (see docs/operations.md)."""
    return settings.dedup_stage and settings.enrich_process


def counting(stats: WorkerStats, metrics: WorkerMetrics) -> Callable[[DeadLetter], None]:
    def count(dl: DeadLetter) -> None:
        stats.count_dead_letter(dl)
        metrics.dead_lettered(dl)
    return count


def create_app(settings: Settings | None = None, *, web_port: int | None = None) -> faust.App:
    """The Faust app and its agents; raises on bad enrichment settings before any I/O."""
    settings = settings or get_settings()
    staged = settings.dedup_stage
    # Built before Faust starts so that a bad taxonomy file or missing NER data stops the
    # command with its message, rather than crashing the agent inside a running worker.
    enricher: Enricher | EnrichProcess
    if uses_enrich_process(settings):
        enricher = EnrichProcess(settings)
        enricher.start()
        atexit.register(enricher.close)
    else:
        from processors.enrich import Enricher

        enricher = Enricher(settings, defer_dedup=staged)
    label_router = LabelRouter.from_settings(settings)
    app = faust_app(settings, web_port)
    stats = WorkerStats()
    app.newsflow_stats = stats  # type: ignore[attr-defined]
    dlq_topic = app.topic(settings.topic_dlq, key_type=bytes, value_type=bytes)
    publisher = Publisher(app, app.topic(settings.topic_enriched, key_type=bytes,
                                         value_type=bytes), label_router)
    metrics = WorkerMetrics(app, destination="dedup_stage" if staged else "enriched")
    send = send_via_producer(app)
    delivery = Delivery(dlq_topic, send)
    delivery.on_dead_letter = counting(stats, metrics)
    stage: DedupStage | None = None
    if staged:
        stage_metrics = WorkerMetrics(app, station=DEDUP_STATION)
        stage_delivery = Delivery(dlq_topic, send, original=raw_original(settings))
        stage_delivery.on_dead_letter = counting(stats, stage_metrics)
        topic = stage_topic(app, settings)
        stage = DedupStage(app, settings, topic, publisher, stage_delivery, stage_metrics,
                           stage_delivery.on_dead_letter)
        step = EnrichStep(enricher, dlq_topic, metrics, delivery.on_dead_letter,
                          stage_topic=topic)
    else:
        assert not isinstance(enricher, EnrichProcess)
        step = EnrichStep(enricher, dlq_topic, metrics, delivery.on_dead_letter,
                          publisher=publisher)
        app.on_partitions_assigned.connect(cast(Any, warn_if_not_alone(settings)))
    quiet_faust_timers()
    raw_topic = app.topic(settings.topic_raw, key_type=bytes, value_type=bytes)
    app.agent(raw_topic, name=f"{settings.app_id}-enrich", concurrency=1)(
        enrich_agent(step, delivery, stats,
                     restore=None if isinstance(enricher, EnrichProcess) or staged else enricher))
    add_pages(app, stats, label_router, stage)
    return app


def enrich_agent(step: EnrichStep, delivery: Delivery, stats: WorkerStats,
                 restore: Enricher | None) -> Callable[[faust.StreamT[bytes]],
                                                       AsyncIterator[None]]:
    """The agent on news.raw. ``restore``: an enricher clustering on its own, whose index is
    rebuilt from Elasticsearch before the first event (the stage restores its own)."""

    async def enrich_articles(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        if restore is not None:
            await restore_index(restore.dedup, restore.settings)
        quiet_faust_timers()  # again: the Faust worker configured logging after create_app
        stats.ready = True
        log.info("enricher ready")
        # Events come in small batches so that their sends overlap instead of each waiting a
        # broker round trip. Each batch is handled behind the loop (processors.held_batches),
        # and committed only once every output of it is acknowledged by the broker (or
        # dead-lettered).
        async def handle(events: Sequence[Any]) -> None:
            await step.deliver(events, delivery)
            stats.processed, stats.enriched = step.processed, step.enriched
            stats.send_retries = delivery.retries
            stats.last_event_at = time.time()

        held = HeldBatches(stream, handle)
        batches = cast(faust.Stream[bytes], stream).take_events(BATCH_MAX, within=BATCH_WITHIN)
        try:
            async for events in batches:
                step.metrics.consumed(events)
                await held.put(list(events))
                yield None
        finally:
            held.cancel()

    return enrich_articles


def warn_if_not_alone(settings: Settings) -> Callable[..., Awaitable[None]]:
    """Without the stage each worker clusters only what its partitions bring: say so when this
    worker does not hold them all."""

    async def check(_app: Any, assigned: Any, **_kw: Any) -> None:
        held = {tp.partition for tp in assigned if tp.topic == settings.topic_raw}
        if held and len(held) < settings.topic_partitions:
            log.warning(
                "NEWSFLOW_DEDUP_STAGE=false with %d of %d partitions of %s: near-duplicates "
                "on the other workers' partitions are not clustered with this worker's",
                len(held), settings.topic_partitions, settings.topic_raw)

    return check


def add_pages(app: faust.App, stats: WorkerStats, label_router: LabelRouter,
              stage: DedupStage | None) -> None:
    add_metrics_page(app)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        return web.json({**stats.as_dict(), "label_streams": label_router.as_dict(),
                         "dedup_stage": stage.as_dict() if stage else {"enabled": False}})
