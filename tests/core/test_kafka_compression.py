"""aiokafka's lz4 level (aiokafka#1028): what the worker writes must be fast-compressed and still
readable by every consumer of ours (kafka-python's lz4 decoder, aiokafka's own)."""

from __future__ import annotations

import aiokafka.record.default_records as py_records
import lz4.frame
import orjson
import pytest
from aiokafka import codec
from aiokafka.record.default_records import DefaultRecordBatch, DefaultRecordBatchBuilder

from newsflow.core.clients import AIOKAFKA_LZ4_LEVEL, faust_broker_config, use_fast_aiokafka_lz4
from newsflow.core.settings import Settings

LZ4 = 3  # Kafka's codec id


def _payload(i: int) -> bytes:
    # JSON shaped like an enriched article: repetitive enough that the level matters.
    words = " ".join(f"كلمة{i % 7}{j % 13}" for j in range(400))
    return orjson.dumps({"id": f"a{i}", "title": "عنوان", "body": words, "entities": []})


def _build(values: list[bytes]) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2, compression_type=LZ4, is_transactional=False, producer_id=-1,
        producer_epoch=-1, base_sequence=-1, batch_size=1 << 24)
    for offset, value in enumerate(values):
        builder.append(offset, timestamp=None, key=None, value=value, headers=[])
    return bytes(builder.build())


def test_faust_config_switches_every_aiokafka_builder_to_the_fast_level() -> None:
    faust_broker_config(Settings(_env_file=None))  # type: ignore[call-arg]
    try:
        import aiokafka.record._crecords.default_records as c_records
    except ImportError:  # pragma: no cover - wheels always ship the extension
        pytest.skip("aiokafka without its C extension")
    for module in (py_records, c_records):
        encode = module.lz4_encode
        assert getattr(encode, "keywords", {}) == {"level": AIOKAFKA_LZ4_LEVEL}, module.__name__


def test_fast_batches_decode_with_both_clients_and_match_their_input() -> None:
    use_fast_aiokafka_lz4()
    values = [_payload(i) for i in range(40)]
    data = _build(values)
    batch = DefaultRecordBatch(bytearray(data))
    assert [r.value for r in batch] == values  # aiokafka reads it back
    # kafka-python (the indexer, `newsflow subscribe`) reads lz4 frames with python-lz4.
    from kafka.record.default_records import DefaultRecordBatch as KafkaPythonBatch

    assert [r.value for r in KafkaPythonBatch(data)] == values


def test_the_fast_level_is_not_lz4_hc() -> None:
    # Level 9 is LZ4-HC: it compresses this text noticeably smaller. If both sizes were equal the
    # level would not be reaching the compressor.
    raw = b"".join(_payload(i) for i in range(40))
    fast, hc = codec.lz4_encode(raw, level=AIOKAFKA_LZ4_LEVEL), codec.lz4_encode(raw, level=9)
    assert lz4.frame.decompress(fast) == raw == lz4.frame.decompress(hc)
    assert len(fast) > len(hc)
