"""Helpers for the reliability tests (issue 8): private topics with chosen limits, a real
`newsflow worker` subprocess, committed-vs-end offsets, topic readers."""

from __future__ import annotations

import contextlib
import random
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson

from newsflow.core.clients import kafka_config
from newsflow.core.deadletter import DLQ_MAX_BYTES
from newsflow.core.settings import Settings
from tests.integration.indexer_env import drop_index

ONE_MIB = 1024 * 1024
ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"


def incompressible_arabic(chars: int, seed: int = 7) -> str:
    """Random Arabic 'words': large on the wire even after lz4 (repeated text would compress
    to nothing and never hit a size limit)."""
    rng = random.Random(seed)
    out: list[str] = []
    n = 0
    while n < chars:
        word = "".join(rng.choice(ARABIC_LETTERS) for _ in range(rng.randint(2, 9)))
        out.append(word)
        n += len(word) + 1
    return " ".join(out)[:chars]


def private_settings(base: Settings, **extra: object) -> Settings:
    uid = uuid.uuid4().hex[:8]
    return base.model_copy(update={
        "topic_raw": f"r{uid}.raw", "topic_enriched": f"r{uid}.enriched",
        "topic_dlq": f"r{uid}.dlq", "es_alias": f"r{uid}-news", "app_id": f"newsflow-r{uid}",
        "indexer_group": f"newsflow-indexer-r{uid}", "indexer_batch_seconds": 0.3,
        "indexer_max_retry_seconds": 2.0, **extra,
    })


def create_topics(settings: Settings, limits: dict[str, int], partitions: int = 1) -> None:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    admin = KafkaAdminClient(**kafka_config(settings))
    try:
        admin.create_topics([
            NewTopic(name, partitions, 1, topic_configs={"max.message.bytes": str(limit)})
            for name, limit in limits.items()
        ])
    finally:
        admin.close()


def default_limits(settings: Settings, **override: int) -> dict[str, int]:
    limits = {settings.topic_raw: DLQ_MAX_BYTES, settings.topic_enriched: DLQ_MAX_BYTES,
              settings.topic_dlq: DLQ_MAX_BYTES}
    for which, value in override.items():
        limits[getattr(settings, f"topic_{which}")] = value
    return limits


def cleanup(settings: Settings) -> None:
    from kafka import KafkaAdminClient

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(**kafka_config(settings))
        try:
            admin.delete_topics([settings.topic_raw, settings.topic_enriched, settings.topic_dlq])
        finally:
            admin.close()
    drop_index(settings)


def produce(settings: Settings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from kafka import KafkaProducer

    from newsflow.core.clients import kafka_producer_config

    producer = KafkaProducer(**kafka_producer_config(settings))
    try:
        for key, value in records:
            producer.send(topic, key=key, value=value).get(timeout=60)
    finally:
        producer.close()


def read_topic(settings: Settings, topic: str, timeout: float = 5.0,
               expected: int | None = None) -> list[tuple[bytes | None, bytes]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, **kafka_config(settings), auto_offset_reset="earliest", enable_auto_commit=False,
        group_id=None, consumer_timeout_ms=1000, fetch_max_bytes=64 * ONE_MIB,
        max_partition_fetch_bytes=32 * ONE_MIB)
    out: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and (expected is None or len(out) < expected):
            out.extend((m.key, m.value) for m in consumer)
    finally:
        consumer.close()
    return out


def committed_vs_end(settings: Settings, topic: str, group: str) -> tuple[int, int]:
    """(sum of committed offsets of ``group``, sum of end offsets) over ``topic``."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_config(settings), group_id=group, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        end = sum(consumer.end_offsets(tps).values())
        committed = sum(consumer.committed(tp) or 0 for tp in tps)
    finally:
        consumer.close()
    return committed, end


def wait_until(what: str, check: Callable[[], bool], timeout: float, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


@contextlib.contextmanager
def worker_process(settings: Settings, log: Path, web_port: int = 0) -> Iterator[
        subprocess.Popen[bytes]]:
    """A real `newsflow worker` for these settings, ready (enricher loaded) when yielded."""
    import signal

    from newsflow.runner import free_port, newsflow_argv, settings_env, wait_worker_ready

    web_port = web_port or free_port()
    with log.open("ab") as fh:
        proc = subprocess.Popen(newsflow_argv("worker", "--web-port", str(web_port)),
                                env=settings_env(settings), stdout=fh, stderr=subprocess.STDOUT)
    try:
        wait_worker_ready(f"http://127.0.0.1:{web_port}/health", proc, log)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def raw_article(n: int, **extra: object) -> tuple[bytes, bytes]:
    value = {"url": f"https://example.org/rel/{n}", "title": f"خبر {n}",
             "body": f"قال الوزير في الرياض إن الخبر رقم {n} مهم", **extra}
    return f"k{n}".encode(), orjson.dumps(value)
