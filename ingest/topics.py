"""Creating the pipeline's Kafka topics (idempotent), replicated as the cluster allows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from newsflow.core.clients import kafka_config
from newsflow.core.deadletter import DLQ_MAX_BYTES
from newsflow.core.replication import min_insync_replicas, replication_factor
from newsflow.core.settings import Settings


class ReplicationSettingError(ValueError):
    """NEWSFLOW_TOPIC_REPLICATION / _MIN_INSYNC_REPLICAS that the cluster cannot honour."""


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int

    def __str__(self) -> str:
        return f"replication factor {self.factor}, min.insync.replicas {self.min_insync}"


def replication_for(settings: Settings, brokers: int) -> Replication:
    """The settings' values where given, else newsflow.core.replication for ``brokers``."""
    factor = settings.topic_replication or replication_factor(brokers)
    if factor > brokers:
        raise ReplicationSettingError(
            f"NEWSFLOW_TOPIC_REPLICATION={factor} but the cluster has {brokers} broker(s); "
            "lower it or unset it (default: min(3, brokers))"
        )
    min_insync = settings.topic_min_insync_replicas or min_insync_replicas(factor)
    if min_insync > factor:
        raise ReplicationSettingError(
            f"NEWSFLOW_TOPIC_MIN_INSYNC_REPLICAS={min_insync} exceeds the replication factor "
            f"{factor}: every write would fail"
        )
    return Replication(factor, min_insync)


def topic_specs(
    settings: Settings,
    label_topics: Sequence[str] = (),
    replication: Replication | None = None,
) -> list[NewTopic]:
    """The pipeline's topics; ``label_topics`` are the per-label streams (``news.topic.<label>``),
    named by the caller because the taxonomy belongs to the processors."""
    replication = replication or replication_for(settings, brokers=1)

    def spec(name: str, **configs: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=settings.topic_partitions,
            replication_factor=replication.factor,
            topic_configs={"min.insync.replicas": str(replication.min_insync), **configs},
        )

    # Dead letters keep the whole original record, which can be a rejected oversize article.
    return [
        # As large as the DLQ's: the contract accepts html of millions of characters, and a
        # record the broker refuses puts kafka-python's idempotent producer in a fatal state.
        spec(
            settings.topic_raw,
            **{"compression.type": "producer", "max.message.bytes": str(DLQ_MAX_BYTES)},
        ),
        # The source of truth a reindex replays: compacted by key (the article id, so the latest
        # version of every article is kept for ever) and as large a record limit as the DLQ, so
        # that a long article is not refused by the topic after it was enriched.
        spec(
            settings.topic_enriched,
            **{
                "compression.type": "producer",
                "cleanup.policy": "compact",
                "max.message.bytes": str(DLQ_MAX_BYTES),
            },
        ),
        # The worker's near-duplicate stage (processors.dedup_stage): ONE partition, so one
        # worker decides every cluster; records as large as news.enriched takes. Time-based
        # retention (the broker's), like news.raw: the stage is never far behind.
        *(
            [one_partition(spec(settings.topic_dedup_stage, **{
                "compression.type": "producer", "max.message.bytes": str(DLQ_MAX_BYTES)}))]
            if settings.dedup_stage else []
        ),
        spec(
            settings.topic_dlq,
            **{"max.message.bytes": str(DLQ_MAX_BYTES), "retention.ms": str(30 * 24 * 3600 * 1000)},
        ),
        # Per-label streams are for live subscribers and catching up after a pause, not an
        # archive (Elasticsearch is): time-based retention, a week by default.
        *(
            spec(
                name,
                **{
                    "compression.type": "producer",
                    "retention.ms": str(int(settings.topic_label_retention_hours * 3600 * 1000)),
                },
            )
            for name in label_topics
        ),
    ]


def one_partition(topic: NewTopic) -> NewTopic:
    topic.num_partitions = 1
    return topic


def ensure_topics(settings: Settings, label_topics: Sequence[str] = ()) -> dict[str, str]:
    """Create missing topics; returns {topic: "created (replication ...)" | "exists"}."""
    admin = KafkaAdminClient(**kafka_config(settings), client_id="newsflow-setup")
    try:
        brokers = len(admin.describe_cluster().get("brokers") or []) or 1
        replication = replication_for(settings, brokers)
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        missing = []
        for t in topic_specs(settings, label_topics, replication):
            if t.name in existing:
                result[t.name] = "exists"
            else:
                missing.append(t)
        for t in missing:
            try:
                admin.create_topics([t])
                result[t.name] = f"created ({replication})"
            except TopicAlreadyExistsError:
                result[t.name] = "exists"  # another process won the race
        return result
    finally:
        admin.close()
