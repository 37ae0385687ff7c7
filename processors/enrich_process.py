"""Enrichment in a child process: the worker's CPU work off its event loop and off its GIL.

Why: in one process, enrichment (two thirds of the worker's CPU) and Faust/aiokafka's work per
record (fetch, stream, produce, compression) take turns on one GIL, even with the enrichment in
a thread, so the worker ran at ~0.6x the speed of ``newsflow enrich`` on the same articles. With
the enrichment in a child, the two run on two cores: the enrich step hands the child chunks of
raw records, and starts each chunk's sends while the child works on the next one.

Only with the near-duplicate stage (the default): stage 1 then holds no state (the signature is
computed here, the cluster decided by ``processors.dedup_stage``), so the child can die without
losing anything. A chunk is enriched again in a new child; a chunk that kills two children is
enriched one record at a time, and the record that kills a child once more becomes a dead letter
(stage ``enrich``, ``EnrichProcessDied``) instead of stopping its partition. Starting a child
that fails (a bad taxonomy file) raises its error; later restarts retry, saying so in the log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import TYPE_CHECKING

from newsflow.core.deadletter import dead_letter
from newsflow.core.settings import Settings
from processors.records import Coordinates, Enriched, Failed, process_record
from processors.stage_envelope import envelope

if TYPE_CHECKING:
    from processors.enrich import Enricher

log = logging.getLogger(__name__)
RESTART_CAP = 30.0  # seconds between attempts to start a child that keeps failing
DIED = "EnrichProcessDied"

Item = tuple[bytes | None, bytes | None, Coordinates]  # key, raw value, where it was read


@dataclass(frozen=True, slots=True)
class Staged:
    """An enriched record as the near-duplicate stage's envelope, and its stage timings."""

    key: bytes
    envelope: bytes
    stages: dict[str, float]


Result = Staged | Failed

# --- in the child -----------------------------------------------------------------------------

_enricher: Enricher | None = None


def _watch_parent(parent: int) -> None:
    # A parent killed with -9 cannot tell its child to stop, and the child holds both ends of
    # its work queue, so it would wait on it forever: leave when the parent is gone.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _child_start(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _build(settings: Settings) -> None:
    global _enricher
    from processors.enrich import Enricher

    _enricher = Enricher(settings, defer_dedup=True)


def _enrich_chunk(items: Sequence[Item]) -> list[Result]:
    if _enricher is None:
        raise RuntimeError("the enrichment process was not started with its settings")
    out: list[Result] = []
    for key, value, where in items:
        result = process_record(_enricher, key, value, where)
        if isinstance(result, Enriched):
            out.append(Staged(result.key, envelope(result, where),
                              result.article.processing.stages))
        else:
            out.append(result)
    return out


# --- in the worker ----------------------------------------------------------------------------


@dataclass
class Pending:
    """A chunk handed to the child; ``generation`` tells which child it was handed to."""

    items: Sequence[Item]
    future: Future[list[Result]]
    generation: int


class EnrichProcess:
    """One child process holding an ``Enricher(defer_dedup=True)``."""

    # What the child runs on a chunk; a test swaps in one that dies on a given record.
    work = staticmethod(_enrich_chunk)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.generation = 0
        self.restarts = 0
        self.died_on = 0  # records dead-lettered because a child died on each of them
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Starts the child and builds its enricher; raises what building it raised."""
        pool = ProcessPoolExecutor(1, mp_context=get_context("spawn"),
                                   initializer=_child_start, initargs=(os.getpid(),))
        try:
            pool.submit(_build, self.settings).result()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        self._pool = pool
        self.generation += 1

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def submit(self, items: Sequence[Item]) -> Pending:
        if self._pool is None:
            raise RuntimeError("EnrichProcess.start() was not called")
        try:
            future = self._pool.submit(self.work, items)
        except BrokenProcessPool as exc:  # already known broken: fail like a running chunk
            future = Future()
            future.set_exception(exc)
        return Pending(items, future, self.generation)

    async def collect(self, pending: Pending) -> list[Result]:
        """The chunk's results, whatever happens to the child meanwhile."""
        deaths = 0
        while True:
            try:
                return await asyncio.wrap_future(pending.future)
            except BrokenProcessPool:
                if pending.generation == self.generation:
                    # This chunk was the child's when it died (chunks are collected in order).
                    deaths += 1
                    log.error("the enrichment process died on a chunk of %d records "
                              "(time %d); starting a new one", len(pending.items), deaths)
                    await self._restart()
                if deaths >= 2:
                    return await self._one_by_one(pending.items)
                pending = self.submit(pending.items)

    async def _one_by_one(self, items: Sequence[Item]) -> list[Result]:
        out: list[Result] = []
        for item in items:
            pending = self.submit([item])
            try:
                results: list[Result] = await asyncio.wrap_future(pending.future)
            except BrokenProcessPool:
                out.append(self._died_on(item))
                await self._restart()
            else:
                out.extend(results)
        return out

    def _died_on(self, item: Item) -> Failed:
        key, value, where = item
        self.died_on += 1
        return Failed(dead_letter(
            "enrich", "the enrichment process died while enriching this record (killed, out "
            "of memory or crashed) in three processes in a row", DIED, value or b"",
            key=key.decode("utf-8", "replace") if key else None, source_topic=where.topic,
            source_partition=where.partition, source_offset=where.offset,
            replays=where.replays))

    async def _restart(self) -> None:
        self.close()
        self.restarts += 1
        attempt, first = 0, time.monotonic()
        while True:
            try:
                await asyncio.to_thread(self.start)
                return
            except Exception as exc:  # e.g. out of memory: the batch waits, uncommitted
                attempt += 1
                delay = min(RESTART_CAP, 0.5 * 2 ** (attempt - 1))
                log.error("the enrichment process does not start (attempt %d, for %.0f s, "
                          "retrying in %.1f s): %s", attempt, time.monotonic() - first, delay, exc)
                await asyncio.sleep(delay)
