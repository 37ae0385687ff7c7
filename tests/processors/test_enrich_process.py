"""The enrichment child process: results in order, bad records as dead letters, and a child
that dies mid-chunk costs nothing (the chunk is enriched again in a new child)."""

from __future__ import annotations

import asyncio
import os
import signal

import orjson

from newsflow.core.settings import Settings
from processors.enrich_process import EnrichProcess, Staged
from processors.records import Coordinates, Failed
from processors.stage_envelope import open_envelope


def _raw(i: int) -> bytes:
    return orjson.dumps({"url": f"https://example.com/{i}", "title": "وزير الخارجية",
                         "body": "قال وزير الخارجية السعودي في الرياض اليوم " * 5})


def test_a_chunk_comes_back_in_order_with_dead_letters_and_survives_a_dead_child(tmp_path):
    settings = Settings(stack_dir=tmp_path)
    process = EnrichProcess(settings)
    process.start()
    try:
        items = [(b"k0", _raw(0), Coordinates("news.raw", 0, 0)),
                 (b"k1", b"not json", Coordinates("news.raw", 0, 1)),
                 (b"k2", _raw(2), Coordinates("news.raw", 0, 2))]

        async def run() -> list:
            return await process.collect(process.submit(items))

        first = asyncio.run(run())
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
