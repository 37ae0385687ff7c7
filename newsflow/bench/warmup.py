"""The warm-up before a measured run: a throwaway pipeline (its own topics, index, worker and
indexer) that pushes the first articles of the corpus through, and is removed again.

Why: on a freshly started stack the JVMs of Kafka and Elasticsearch compile their hot paths
while the first articles flow. Measured on this project's 2-core machine, the JIT compiler
threads took ~0.6 of the 2 cores for the first ~25 s of a run at 50 articles/s, and p99
produce->searchable was 5-11 s in such runs against 0.9-1.4 s once warm. Indexing 2,000
documents straight into a scratch index and producing 2,000 records did not warm them enough
(p99 still 8 s): the pipeline's own request mix does, so the warm-up is the pipeline.

The measured run then starts from fresh worker and indexer processes on fresh topics and a
fresh index, exactly as before; only the JVMs are warm. The warm-up's own figures are reported
beside the run (``warmup`` in ``newsflow bench --json``), nothing is hidden.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from newsflow.bench.extra import wait_group_stable
from newsflow.bench.metrics import Say, VisibilityTracker, latency_summary, median_interval
from newsflow.bench.options import private_settings
from newsflow.bench.stages import cleanup, produce_corpus, wait_accounted
from newsflow.bench.watchers import KafkaWatcher, SearchWatcher
from newsflow.core.settings import Settings


def warm_up(base: Settings, files: list[Path], count: int, rate: float | None,
            stall_seconds: float, progress: bool, say: Say) -> dict[str, Any]:
    """Push the first ``count`` articles of ``files`` through a throwaway pipeline at ``rate``
    (None: as fast as it goes), wait until each is searchable or dead-lettered, then remove its
    topics, index and groups. Returns what it did and its latency (a cold figure, for
    reference: it is not the run's)."""
    from newsflow.provision import run_setup
    from newsflow.runner import child_processes

    suffix = uuid.uuid4().hex[:8] + "w"
    settings = private_settings(base, suffix)
    log_dir = base.stack_dir / "logs" / f"bench-{suffix}"
    tracker = VisibilityTracker()
    started = time.monotonic()

    def tell(message: str) -> None:
        say(f"warm-up: {message}")

    try:
        for _line in run_setup(settings):
            pass
        kafka_w = KafkaWatcher(settings, tracker)
        search_w = SearchWatcher(settings, tracker)
        try:
            with child_processes(settings, tell, log_dir=log_dir, web_port=0) as children:
                wait_group_stable(settings, 1)
                wait_group_stable(settings, 1, group_id=settings.indexer_group)
                samplers = [kafka_w.thread, search_w.thread]
                for s in samplers:
                    s.start()
                try:
                    _t0, _t1, sent, _rejected = produce_corpus(
                        settings, files, count, tracker, progress, rate)
                    wait_accounted(tracker, children, [kafka_w, search_w], stall_seconds,
                                   progress, log_dir)
                finally:
                    for s in samplers:
                        s.stop()
        finally:
            kafka_w.close()
            search_w.close()
    finally:
        cleanup(settings, tell)
    seconds = round(time.monotonic() - started, 1)
    tell(f"{sent} articles in {seconds} s")
    return {"articles": sent, "seconds": seconds, "rate": rate, "suffix": suffix,
            "latency_seconds": latency_summary(
                tracker.latencies(), median_interval(search_w.thread.poll_times))}
