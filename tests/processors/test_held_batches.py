"""HeldBatches: a batch is acked only after its handler finished, batches in order, and a batch
whose handler failed is never acked (so never committed). Fakes stand in for Faust's event and
stream: the class only calls ``message.incref`` and ``stream.ack``."""

from __future__ import annotations

import asyncio

import pytest

from processors.held_batches import HeldBatches


class _Message:
    def __init__(self) -> None:
        self.refcount = 0

    def incref(self) -> None:
        self.refcount += 1


class _Event:
    def __init__(self, n: int) -> None:
        self.n, self.message = n, _Message()


class _Stream:
    def __init__(self) -> None:
        self.acked: list[int] = []

    async def ack(self, event: _Event) -> bool:
        self.acked.append(event.n)
        return True


def test_batches_are_acked_in_order_only_after_their_handler_finished():
    async def run() -> tuple[list[int], list[int], _Stream]:
        stream = _Stream()
        finished: list[int] = []
        acked_when_handled: list[int] = []
        release = asyncio.Event()

        async def handle(events):
            await release.wait()
            acked_when_handled.append(len(stream.acked))
            finished.extend(e.n for e in events)

        held = HeldBatches(stream, handle)
        first, second = [_Event(0), _Event(1)], [_Event(2)]
        await held.put(first)
        await held.put(second)  # waits in the queue (depth 1)
        await asyncio.sleep(0.01)
        assert stream.acked == []  # handed over, not handled: nothing acked
        assert all(e.message.refcount == 1 for e in first + second)
        release.set()
        for _ in range(100):
            if len(stream.acked) == 3:
                break
            await asyncio.sleep(0.01)
        held.cancel()
        return finished, acked_when_handled, stream

    finished, acked_when_handled, stream = asyncio.run(run())
    assert finished == [0, 1, 2]
    assert acked_when_handled == [0, 2]  # batch 2 handled after batch 1's acks, none before
    assert stream.acked == [0, 1, 2]


def test_a_failed_handler_acks_nothing_and_the_next_put_raises():
    async def run() -> _Stream:
        stream = _Stream()

        async def handle(events):
            raise ValueError("broker gone")

        held = HeldBatches(stream, handle)
        with pytest.raises(RuntimeError, match="batch handler stopped"):  # on this put or the next
            await held.put([_Event(0)])
            await asyncio.sleep(0.01)
            await held.put([_Event(1)])
        return stream

    assert asyncio.run(run()).acked == []
