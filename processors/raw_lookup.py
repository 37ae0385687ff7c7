"""Reading one ``news.raw`` record back by its coordinates, for the near-duplicate stage.

The stage's envelope carries the enriched article, not the raw input (that would add the whole
input -- whole HTML pages -- to every envelope). When the broker refuses a record the stage
publishes (larger than ``news.enriched`` or a label stream takes), its dead letter must still
keep the raw input and point at ``news.raw``, as the enrich step's do, so that ``newsflow dlq
replay`` re-drives it from the start. That happens seldom, so the raw record is fetched then,
from the partition and offset stage 1 wrote into the envelope; ``news.raw`` keeps it far
longer than the seconds the stage is behind."""

from __future__ import annotations

import logging
from typing import Any

from newsflow.core.clients import kafka_config
from newsflow.core.deadletter import DLQ_MAX_BYTES
from newsflow.core.settings import Settings

log = logging.getLogger(__name__)
FETCH_TIMEOUT_MS = 10_000


def fetch_record(settings: Settings, topic: str, partition: int, offset: int) -> bytes | None:
    """The value at ``topic[partition]@offset``; None when it is gone (retention, compaction)
    or the broker does not answer within the timeout. Blocking: call it from a thread."""
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer: Any = KafkaConsumer(
        **kafka_config(settings), group_id=None, enable_auto_commit=False,
        fetch_max_bytes=DLQ_MAX_BYTES + 2**20, max_partition_fetch_bytes=DLQ_MAX_BYTES + 2**20,
        client_id=f"{settings.app_id}-raw-lookup",
    )
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        for records in consumer.poll(timeout_ms=FETCH_TIMEOUT_MS, max_records=1).values():
            for record in records:
                if record.offset == offset:
                    return bytes(record.value) if record.value is not None else None
        return None
    except Exception as exc:  # the caller falls back to the envelope itself
        log.warning("could not read %s[%d]@%d back (%s)", topic, partition, offset, exc)
        return None
    finally:
        consumer.close()
