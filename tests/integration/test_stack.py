"""The real local stack: Kafka (kafka-python and aiokafka clients) and Elasticsearch (official
client, Arabic analysis). ``stack_settings`` (tests/conftest.py) uses a running stack, or starts
it through newsflow.stack when nothing answers."""

from __future__ import annotations

import asyncio
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from elasticsearch import Elasticsearch

from newsflow import stack
from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.settings import Settings

pytestmark = pytest.mark.integration

PHRASE = "الرئيس الروسي فلاديمير بوتين"


@pytest.fixture(scope="module")
def local_stack(stack_settings: Settings) -> Settings:
    """``stack_settings`` (tests/conftest.py) when they name the local stack; the status and
    lifecycle tests have nothing to check against a remote cluster."""
    try:
        stack.StackConfig.from_settings(stack_settings)
    except stack.StackError as exc:
        pytest.skip(f"not the local stack: {exc}")
    return stack_settings


@pytest.fixture(scope="module")
def topic(stack_settings: Settings) -> Iterator[str]:
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    name = f"test-stack-{uuid.uuid4().hex[:12]}"
    admin = KafkaAdminClient(**kafka_config(stack_settings))
    try:
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
        admin.delete_topics([name])
    finally:
        admin.close()


@pytest.fixture(scope="module")
def es(stack_settings: Settings) -> Iterator[Elasticsearch]:
    client = elasticsearch_client(stack_settings)
    yield client
    client.close()


# -- status --------------------------------------------------------------------------------


def test_status_reports_both_services_up(local_stack: Settings) -> None:
    statuses = {s.name: s for s in stack.status(local_stack)}
    assert set(statuses) == {"kafka", "elasticsearch"}
    assert all(s.health == "up" and s.pid for s in statuses.values()), statuses
    assert (statuses["kafka"].version or "").startswith("3.9.")
    assert (statuses["elasticsearch"].version or "").startswith("8.")
    assert stack.is_up(local_stack)


def test_ensure_up_is_a_no_op_when_up(local_stack: Settings) -> None:
    pids = {s.name: s.pid for s in stack.status(local_stack)}
    said: list[str] = []
    stack.ensure_up(local_stack, say=said.append)
    assert sum("already up" in line for line in said) == 2, said
    assert {s.name: s.pid for s in stack.status(local_stack)} == pids


# -- Kafka -----------------------------------------------------------------------------------


MESSAGES = [f"{PHRASE} #{i}".encode() for i in range(5)]


def test_kafka_python_produces_and_consumes(stack_settings: Settings, topic: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    producer = KafkaProducer(**kafka_config(stack_settings))
    for i, value in enumerate(MESSAGES):
        producer.send(topic, key=str(i).encode(), value=value)
    producer.flush(timeout=30)
    producer.close()

    consumer = KafkaConsumer(
        topic,
        **kafka_config(stack_settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=15_000,
    )
    received: list[bytes] = []
    try:
        for msg in consumer:  # stops after consumer_timeout_ms without new records
            received.append(msg.value)
            if len(received) == len(MESSAGES):
                break
    finally:
        consumer.close()
    assert received == MESSAGES


def test_aiokafka_reads_the_same_topic(stack_settings: Settings, topic: str) -> None:
    # Depends on test_kafka_python_produces_and_consumes having filled the topic.
    from aiokafka import AIOKafkaConsumer

    async def consume() -> list[bytes]:
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=stack_settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            group_id=f"test-{uuid.uuid4().hex[:8]}",
        )
        await consumer.start()
        values: list[bytes] = []
        try:
            async with asyncio.timeout(30):
                async for msg in consumer:
                    assert msg.value is not None
                    values.append(msg.value)
                    if len(values) == len(MESSAGES):
                        break
        finally:
            await consumer.stop()
        return values

    assert asyncio.run(consume()) == MESSAGES


def test_broker_accepts_multi_megabyte_dead_letters(stack_settings: Settings, topic: str) -> None:
    from kafka import KafkaProducer

    big = b"x" * (5 * 1024 * 1024)  # over Kafka's 1 MB default; the stack allows 20 MiB
    producer = KafkaProducer(
        **kafka_config(stack_settings), max_request_size=21 * 1024 * 1024
    )
    try:
        meta = producer.send(topic, value=big).get(timeout=60)
    finally:
        producer.close()
    assert meta.offset >= 0


# -- Elasticsearch ---------------------------------------------------------------------------


def test_es_client_info_reports_8x(es: Elasticsearch) -> None:
    info = es.info()
    assert info["version"]["number"].startswith("8.")


def test_root_endpoint_sends_product_header(stack_settings: Settings) -> None:
    with urllib.request.urlopen(stack_settings.es_url.split(",")[0] + "/", timeout=10) as resp:
        assert resp.headers["X-Elastic-Product"] == "Elasticsearch"


def test_arabic_analyzer_normalizes_and_light_stems(es: Elasticsearch) -> None:
    index = f"test-stack-arabic-{uuid.uuid4().hex[:12]}"
    es.indices.create(
        index=index,
        settings={"number_of_shards": 1, "number_of_replicas": 0},
        mappings={"properties": {"title": {"type": "text", "analyzer": "arabic"}}},
    )
    try:
        # Lucene's ArabicAnalyzer: ال prefix and ي / ين suffixes stripped (light stemming).
        tokens = es.indices.analyze(index=index, field="title", text=PHRASE)["tokens"]
        assert [t["token"] for t in tokens] == ["رئيس", "روس", "فلاديمير", "بوت"]
        # Normalisation: hamza-on-alef to bare alef, teh marbuta to heh (then stemmed), and
        # the stopword في dropped.
        tokens = es.indices.analyze(index=index, analyzer="arabic", text="أعلنت الحكومة في بيروت")
        assert [t["token"] for t in tokens["tokens"]] == ["اعلنت", "حكوم", "بيروت"]

        es.index(index=index, id="1", document={"title": PHRASE}, refresh=True)
        # وال + رئيس stems to the same term as الرئيس, so the article is found.
        hits = es.search(index=index, query={"match": {"title": "والرئيس"}})["hits"]
        assert hits["total"]["value"] == 1
    finally:
        es.indices.delete(index=index)
