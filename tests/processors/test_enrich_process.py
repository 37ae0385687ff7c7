"""The enrichment child process: results in order, bad records as dead letters, and a child
that dies mid-chunk costs nothing (the chunk is enriched again in a new child)."""

from __future__ import annotations

import asyncio
import os
import signal

import orjson

from newsflow.core.settings import Settings
from processors.enrich_process import DIED, EnrichProcess, Staged, _enrich_chunk
from processors.records import Coordinates, Failed
from processors.stage_envelope import open_envelope


def _dies_on_poison(items):
    # Runs in the child (spawned: it imports this module by name): a record that crashes it.
    if any(value == b"poison" for _, value, _ in items):
        os._exit(1)
    return _enrich_chunk(items)


class _PoisonedProcess(EnrichProcess):
    work = staticmethod(_dies_on_poison)


def _raw(i: int) -> bytes:
    return orjson.dumps({"url": f"https://example.com/{i}", "title": "وزير الخارجية",
                         "body": "قال وزير الخارجية السعودي في الرياض اليوم " * 5})


def _items(middle: bytes) -> list:
    """Three records at offsets 0-2 of partition 0: good, ``middle``, good."""
    return [(b"k0", _raw(0), Coordinates("news.raw", 0, 0)),
            (b"k1", middle, Coordinates("news.raw", 0, 1)),
            (b"k2", _raw(2), Coordinates("news.raw", 0, 2))]


def _enrich(process: EnrichProcess, items: list) -> list:
    async def run() -> list:
        return await process.collect(process.submit(items))

    return asyncio.run(run())


def test_a_chunk_comes_back_in_order_with_dead_letters_and_survives_a_dead_child(tmp_path):
    settings = Settings(stack_dir=tmp_path)
    process = EnrichProcess(settings)
    process.start()
    try:
        items = _items(b"not json")
        first = _enrich(process, items)
        assert [type(r) for r in first] == [Staged, Failed, Staged]
        assert isinstance(first[1], Failed) and first[1].dead_letter.stage == "decode"
        env = open_envelope(first[0].envelope, settings.dedup_num_perm)  # type: ignore[union-attr]
        assert env.source == ("news.raw", 0, 0)

        async def run_killing_the_child() -> list:
            pending = process.submit(items)
            for pid in list(process._pool._processes):  # type: ignore[union-attr]
                os.kill(pid, signal.SIGKILL)
            return await process.collect(pending)

        again = asyncio.run(run_killing_the_child())
        assert [type(r) for r in again] == [Staged, Failed, Staged]
        assert process.restarts == 1 and process.died_on == 0
    finally:
        process.close()


def test_a_record_that_kills_three_children_in_a_row_becomes_a_dead_letter(tmp_path):
    # Death 1 and 2 on the whole chunk, then one record at a time: the poison kills a third
    # child and is dead-lettered; its neighbours are enriched, in order, nothing is lost.
    process = _PoisonedProcess(Settings(stack_dir=tmp_path))
    process.start()
    try:
        items = _items(b"poison")
        results = _enrich(process, items)
        assert [type(r) for r in results] == [Staged, Failed, Staged]
        dead = results[1].dead_letter  # type: ignore[union-attr]
        assert dead.error_type == DIED and dead.stage == "enrich"
        assert (dead.key, dead.source_offset) == ("k1", 1)
        assert process.died_on == 1 and process.restarts == 3
        # The child that replaced the third one works.
        assert [type(r) for r in _enrich(process, items[:1])] == [Staged]
    finally:
        process.close()
