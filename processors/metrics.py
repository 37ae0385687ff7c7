"""The worker's Prometheus metrics (definitions in ``newsflow.core.metrics``), served as
``/metrics`` on the worker's web port next to ``/health``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import faust
from faust.sensors.monitor import Monitor

from newsflow.core.contract import DeadLetter
from newsflow.core.metrics import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    RECORDS_IN,
    RECORDS_OUT,
    STAGE_SECONDS,
    exposition,
    observe_stages,
)
from processors.records import Enriched

STATION = "worker"
DEDUP_STATION = "dedup"


def quiet_faust_timers() -> None:
    """mode's timers log every late wake-up at INFO ("Timer ... woke up too late"): hundreds of
    lines under load, which say only that the loop was busy (the stage histograms say where).
    Below INFO they stay available with --loglevel debug."""
    logging.getLogger("mode.timers").setLevel(logging.WARNING)


class WorkerMetrics:
    """Counts what an agent consumed and routed; lag from the consumer's cached high-water
    marks (no broker round trip). One per agent: ``station`` "worker" for the enrich step
    (its ``destination``: "enriched", or "dedup_stage" when the near-duplicate stage publishes),
    ``DEDUP_STATION`` for the near-duplicate stage, so a station's records in and out agree."""

    def __init__(self, app: faust.App, station: str = STATION,
                 destination: str = "enriched") -> None:
        self.app = app
        self.station = station
        self._lag: dict[Any, int] = {}
        self._in = RECORDS_IN.labels(station)
        # Created up front so every series exists (at 0) from the first scrape.
        self._out = RECORDS_OUT.labels(station, destination)
        RECORDS_OUT.labels(station, "dlq")
        self._decide = STAGE_SECONDS.labels(station, "decide")

    def consumed(self, events: Sequence[Any]) -> None:
        self._in.inc(len(events))
        last: dict[Any, int] = {}
        for event in events:
            msg = event.message
            last[msg.tp] = max(last.get(msg.tp, -1), msg.offset)
        try:
            for tp, offset in last.items():
                high = self.app.consumer.highwater(tp)
                if high is not None:
                    self._lag[tp] = max(0, int(high) - offset - 1)
        except Exception:  # lag is informative; a consumer mid-rebalance may not know it
            return
        CONSUMER_LAG.labels(self.station).set(sum(self._lag.values()))

    def enriched(self, result: Enriched) -> None:
        self.enriched_stages(result.article.processing.stages)

    def enriched_stages(self, stages: dict[str, float]) -> None:
        """One article enriched, with its stage timings (ms)."""
        self._out.inc()
        observe_stages(self.station, stages)

    def decided(self, seconds: float) -> None:
        """One cluster decided and its article published by the near-duplicate stage."""
        self._out.inc()
        self._decide.observe(seconds)

    def dead_lettered(self, dl: DeadLetter) -> None:
        """Every dead letter the worker sends: enrichment failures and records the broker
        refused (``processors.delivery`` reroutes those)."""
        RECORDS_OUT.labels(self.station, "dlq").inc()
        DEAD_LETTERS.labels(self.station, dl.stage, dl.error_type or "unknown").inc()


def add_metrics_page(app: faust.App) -> None:
    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        body, content_type = exposition()
        # aiohttp refuses a content_type with a charset; the exposition's type has one.
        return web.bytes(body, headers={"Content-Type": content_type})


class QuietMonitor(Monitor):
    """Faust's Monitor without its per-message bookkeeping. The stock one runs six Python
    callbacks per event and per send (deques of timings per topic, partition and stream) for
    statistics nothing here reads; the Prometheus series above replace them. Commit, table and
    rebalance hooks, and the sampler, stay as they are."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> Any:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None
