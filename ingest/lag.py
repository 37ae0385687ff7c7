"""Consumer lag of the worker and the indexer: what an operator (or a supervisor) watches to see
that both are alive and keeping up. Read from Kafka itself, so it works whatever runs them."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from newsflow.core.clients import kafka_config
from newsflow.core.settings import Settings


@dataclass(frozen=True, slots=True)
class PartitionLag:
    group: str
    topic: str
    partition: int
    committed: int | None  # None: the group has never committed on this partition
    start: int
    end: int

    @property
    def lag(self) -> int:
        return self.end - (self.start if self.committed is None else self.committed)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lag": self.lag}


def pipeline_groups(settings: Settings) -> list[tuple[str, str]]:
    """(consumer group, a topic it reads). Faust's group id is the app id; the worker group
    also reads the near-duplicate stage's topic, whose lag says whether the stage keeps up."""
    groups = [(settings.app_id, settings.topic_raw)]
    if settings.dedup_stage:
        groups.append((settings.app_id, settings.topic_dedup_stage))
    return [*groups, (settings.indexer_group, settings.topic_enriched)]


def _group_offsets(admin: KafkaAdminClient, groups: list[str]) -> Any:
    """Committed offsets per group. On a fresh cluster the first FindCoordinator makes the broker
    create __consumer_offsets and answers COORDINATOR_NOT_AVAILABLE meanwhile: retry ~10 s."""
    from kafka.errors import CoordinatorNotAvailableError

    for attempt in range(20):
        try:
            return admin.list_group_offsets(dict.fromkeys(groups))
        except CoordinatorNotAvailableError:
            if attempt == 19:
                raise
            time.sleep(0.5)
    return {}


def consumer_lag(settings: Settings) -> list[PartitionLag]:
    groups = pipeline_groups(settings)
    admin = KafkaAdminClient(**kafka_config(settings), client_id="newsflow-lag")
    consumer = KafkaConsumer(**kafka_config(settings), group_id=None)
    try:
        committed = _group_offsets(admin, [group for group, _ in groups])
        out = []
        for group, topic in groups:
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
            done = committed.get(group) or {}
            for tp in tps:
                meta = done.get(tp)
                out.append(
                    PartitionLag(
                        group,
                        topic,
                        tp.partition,
                        meta.offset if meta is not None else None,
                        starts[tp],
                        ends[tp],
                    )
                )
        return out
    finally:
        consumer.close()
        admin.close()
