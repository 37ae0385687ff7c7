"""Creating the pipeline's Kafka topics (idempotent)."""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from newsflow.core.clients import kafka_config
from newsflow.core.deadletter import DLQ_MAX_BYTES
from newsflow.core.settings import Settings


def topic_specs(settings: Settings, label_topics: Sequence[str] = ()) -> list[NewTopic]:
    """The pipeline's topics; ``label_topics`` are the per-label streams (``news.topic.<label>``),
    named by the caller because the taxonomy belongs to the processors."""
    def spec(name: str, **configs: str) -> NewTopic:
        return NewTopic(
            name,
            num_partitions=settings.topic_partitions,
            replication_factor=settings.topic_replication,
            topic_configs=configs,
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


def ensure_topics(settings: Settings, label_topics: Sequence[str] = ()) -> dict[str, str]:
    """Create missing topics; returns {topic: "created" | "exists"}."""
    admin = KafkaAdminClient(**kafka_config(settings), client_id="newsflow-setup")
    try:
        existing = set(admin.list_topics())
        result: dict[str, str] = {}
        missing = []
        for t in topic_specs(settings, label_topics):
            if t.name in existing:
                result[t.name] = "exists"
            else:
                missing.append(t)
        for t in missing:
            try:
                admin.create_topics([t])
                result[t.name] = "created"
            except TopicAlreadyExistsError:
                result[t.name] = "exists"  # another process won the race
        return result
    finally:
        admin.close()
