"""The enrich agent's batches, handled behind its ``take_events`` loop: Faust collects the next
batch while this one is enriched and delivered.

Why: ``take_events`` collects nothing while its loop body runs, so with the body doing the whole
batch the enrichment process waited for every collection (Faust's per-record work) and
collection waited for every enrichment. Here the body only hands the batch over.

Nothing is committed early. ``take_events`` acks a batch when the body ends; before that, the
body holds one more reference on each message (``Message.incref``), so that ack is not the
final one. The final ack comes here, once every output of the batch is acknowledged by the
broker or dead-lettered. Until then the offset is not committed: a crash or kill -9 re-delivers
the batch, and on a rebalance Faust waits for the held messages (``stream_wait_empty``). Batches
are handled one at a time, in order, so offsets are acked in order (no gap for a commit to skip,
faust-streaming#606); at most ``depth`` wait, so a slow broker slows the agent down instead of
filling memory."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Any]], Awaitable[None]]


class HeldBatches:
    def __init__(self, stream: Any, handle: Handler, depth: int = 1) -> None:
        self.stream = stream  # the agent's stream: acks go through it (its sensors count them)
        self.handle = handle
        self._queue: asyncio.Queue[Sequence[Any]] = asyncio.Queue(depth)
        self._task: asyncio.Task[None] | None = None

    async def put(self, events: Sequence[Any]) -> None:
        """Returns once the batch is taken (at most ``depth`` batches wait). Raises what ended
        the handler, if it ended: the held batches are then never acked, so never committed."""
        if self._task is None:
            self._task = asyncio.ensure_future(self._run())
        for event in events:
            event.message.incref()
        put = asyncio.ensure_future(self._queue.put(events))
        done, _ = await asyncio.wait({put, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if put not in done:
            put.cancel()
        if self._task.done():
            exc = self._task.exception() if not self._task.cancelled() else None
            raise RuntimeError("the enrich agent's batch handler stopped") from exc

    async def _run(self) -> None:
        while True:
            events = await self._queue.get()
            try:
                await self.handle(events)
            except Exception:
                log.exception("handling a batch of %d records failed; it is not committed and "
                              "the agent stops", len(events))
                raise
            for event in events:
                await self.stream.ack(event)

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
