"""Observers that sample the running pipeline from the outside on one clock: process memory and
CPU, the end offsets of the private topics, and which produced ids are searchable."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from newsflow.bench.metrics import (
    IDS_CHUNK,
    IDS_FIRST,
    POLL_SECONDS,
    RSS_POLL_SECONDS,
    BenchError,
    VisibilityTracker,
    cpu_share,
    doubling_chunks,
)
from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.settings import Settings


class _Sampler(threading.Thread):
    """Runs ``step`` every ``interval`` seconds until stopped; remembers the first error so the
    main thread can report it instead of silently losing a series."""

    def __init__(self, name: str, interval: float, step: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self.interval = interval
        self.step = step
        self.stop_event = threading.Event()
        self.error: BaseException | None = None
        self.poll_times: list[float] = []

    def run(self) -> None:
        while not self.stop_event.is_set():
            t0 = time.monotonic()
            self.poll_times.append(t0)
            try:
                self.step()
            except Exception as exc:  # transient: a slow ES or broker must not end the bench
                if self.error is None:
                    self.error = exc
            self.stop_event.wait(max(0.0, self.interval - (time.monotonic() - t0)))

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=30)


class ProcSampler:
    """Peak resident memory and CPU time of each child, its own children included (Faust may
    fork none today, but a future ``--processes`` must not make the numbers silently too small).
    CPU seconds over wall seconds says which process was saturated: the evidence for what limits
    the pipeline."""

    def __init__(self, pids: dict[str, int], *, family: bool = True,
                 machine: bool = False) -> None:
        import psutil

        self._procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._family = family
        # The whole machine's busy CPU seconds (every process, the kernel's too) as "machine".
        self._machine = machine
        self.peak: dict[str, int] = dict.fromkeys(pids, 0)
        self.cpu: dict[str, float] = dict.fromkeys(pids, 0.0)
        self.cpu_series: dict[str, list[tuple[float, float]]] = {
            k: [] for k in [*pids, *(["machine"] if machine else [])]}
        self.thread = _Sampler("bench-proc", RSS_POLL_SECONDS, self._step)

    def _step(self) -> None:
        import psutil

        t = time.monotonic()
        if self._machine:
            machine = psutil.cpu_times()
            # Not idle, iowait or steal (the hypervisor's): what ran here.
            self.cpu_series["machine"].append((t, machine.user + machine.nice + machine.system
                                               + getattr(machine, "irq", 0.0)
                                               + getattr(machine, "softirq", 0.0)))
        for name, proc in self._procs.items():
            rss = 0
            cpu = 0.0
            try:
                family = [proc, *proc.children(recursive=True)] if self._family else [proc]
            except psutil.Error:
                continue
            for p in family:
                with contextlib.suppress(psutil.Error):
                    rss += p.memory_info().rss
                    times = p.cpu_times()
                    cpu += times.user + times.system
            self.peak[name] = max(self.peak[name], rss)
            # A child that exited drops out of the family: never let the total go backwards.
            self.cpu[name] = max(self.cpu[name], cpu)
            self.cpu_series[name].append((t, self.cpu[name]))

    def peak_mb(self) -> dict[str, float]:
        return {k: round(v / 2**20, 1) for k, v in self.peak.items()}

    def busy(self, start: float, end: float) -> dict[str, float | None]:
        """Fraction of one core each process used between ``start`` and ``end``."""
        out: dict[str, float | None] = {}
        for name, series in self.cpu_series.items():
            out[name] = cpu_share(series, start, end)
        return out


class KafkaWatcher:
    """Samples the end offsets of the enriched + DLQ topics (the worker's output count) and reads
    the DLQ's keys, so ids that will never be searchable stop being waited for."""

    def __init__(self, settings: Settings, tracker: VisibilityTracker) -> None:
        from kafka import KafkaConsumer

        self.settings = settings
        self.tracker = tracker
        self.consumer = KafkaConsumer(
            **kafka_config(settings), group_id=None, enable_auto_commit=False,
            auto_offset_reset="earliest", fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=32 * 1024 * 1024,
        )
        self.out_partitions = self._partitions(settings.topic_enriched) + self._partitions(
            settings.topic_dlq)
        dlq = self._partitions(settings.topic_dlq)
        self.consumer.assign(dlq)
        self.consumer.seek_to_beginning(*dlq)
        self.series: list[tuple[float, int]] = []
        self.thread = _Sampler("bench-kafka", POLL_SECONDS, self._step)

    def _partitions(self, topic: str) -> list[Any]:
        from kafka import TopicPartition

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = self.consumer.partitions_for_topic(topic)
            if parts:
                return [TopicPartition(topic, p) for p in sorted(parts)]
            time.sleep(0.2)
        raise BenchError(f"topic {topic} has no partitions after 30 s")

    def _step(self) -> None:
        t = time.monotonic()
        ends = self.consumer.end_offsets(self.out_partitions)
        self.series.append((t, int(sum(ends.values()))))
        for records in self.consumer.poll(timeout_ms=0, max_records=5000).values():
            for rec in records:
                try:
                    dl = orjson.loads(rec.value)
                except orjson.JSONDecodeError:
                    continue
                key = dl.get("key") if isinstance(dl, dict) else None
                if key:
                    self.tracker.drop(str(key), str(dl.get("stage", "?")), t)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.consumer.close()


class SearchWatcher:
    """Samples ``count`` on the alias and stamps ids as they become searchable."""

    def __init__(self, settings: Settings, tracker: VisibilityTracker) -> None:

        self.settings = settings
        self.tracker = tracker
        self.es = elasticsearch_client(settings)
        self.series: list[tuple[float, int]] = []
        self.thread = _Sampler("bench-search", POLL_SECONDS, self._step)

    def _step(self) -> None:
        alias = self.settings.es_alias
        t = time.monotonic()
        count = int(self.es.count(index=alias)["count"])
        self.series.append((t, count))
        # Only ask for ids when something new became searchable; then walk the pending ids
        # oldest first, in chunks that start small and double, until every new document is
        # found: an out-of-order arrival far beyond the first chunk is still stamped in this
        # poll, and the usual poll asks Elasticsearch for a few hundred ids, not thousands.
        unseen = count - self.tracker.n_visible
        if unseen <= 0:
            return
        first = min(IDS_CHUNK, max(IDS_FIRST, 2 * unseen))
        for chunk in doubling_chunks(self.tracker.pending_ids(), first, IDS_CHUNK):
            if unseen <= 0:
                break
            tq = time.monotonic()
            res = self.es.search(index=alias, query={"ids": {"values": chunk}}, size=len(chunk),
                                 source=False, track_total_hits=False)
            found = [h["_id"] for h in res["hits"]["hits"]]
            unseen -= self.tracker.mark_visible(found, tq)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.es.close()
