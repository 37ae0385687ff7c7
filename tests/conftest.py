"""Shared fixtures. Integration tests run against the real local stack (started here when
nothing answers on the configured addresses) or against whatever NEWSFLOW_* points at."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.settings import Settings, get_settings

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Tests send SIGINT to the CLI the way Ctrl-C in a terminal does. A shell that starts pytest
# as a background job (`cmd &` without job control) ignores SIGINT, and an ignored signal
# survives exec, so every child would ignore it too and those tests would fail for a reason
# that is not the code's. A handled signal is reset to the default at exec, so children
# started from here get Python's usual KeyboardInterrupt.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): corpus and evaluation tests need it")
    return SHARED


@pytest.fixture(scope="session")
def saudinewsnet(shared_dir: Path) -> list[Path]:
    zips = sorted((shared_dir / "corpora" / "saudinewsnet").glob("*.zip"))
    if not zips:
        pytest.skip(f"no SaudiNewsNet zips under {shared_dir / 'corpora' / 'saudinewsnet'}")
    return zips


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings for a reachable Kafka + Elasticsearch; starts the local stack if needed."""
    from newsflow import stack

    settings = get_settings()
    if settings.is_local_default() and not stack.is_up(settings):
        stack.ensure_up(settings)
    return settings


@dataclass
class Pipeline:
    settings: Settings
    env: dict[str, str]

    def dlq_records(self, expected: int, timeout: float = 60.0) -> list[dict[str, object]]:
        return consume_json(self.settings, self.settings.topic_dlq, expected, timeout)

    def es(self):  # type: ignore[no-untyped-def]

        return elasticsearch_client(self.settings)

    def wait_ids(self, ids: set[str], timeout: float = 120.0) -> set[str]:
        """Waits until every id is searchable; returns the ids found (may be fewer on timeout)."""
        es = self.es()
        deadline = time.monotonic() + timeout
        found: set[str] = set()
        try:
            while time.monotonic() < deadline:
                es.indices.refresh(index=self.settings.es_alias)
                res = es.search(
                    index=self.settings.es_alias,
                    query={"ids": {"values": list(ids)}},
                    size=len(ids) or 1,
                    source=False,
                )
                found = {h["_id"] for h in res["hits"]["hits"]}
                if found >= ids:
                    break
                time.sleep(0.5)
        finally:
            es.close()
        return found


def consume_json(
    settings: Settings, topic: str, expected: int, timeout: float
) -> list[dict[str, object]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        **kafka_config(settings),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=1000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    out: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer:
                out.append(orjson.loads(msg.value))
    finally:
        consumer.close()
    return out


@pytest.fixture(scope="module")
def pipeline(
    stack_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Pipeline]:
    """A private pipeline (own topics, index, consumer groups) with a real worker and indexer
    running as the same `newsflow worker` / `newsflow index` commands users run."""
    from kafka import KafkaAdminClient

    from newsflow.provision import run_setup
    from newsflow.runner import child_processes, settings_env

    uid = uuid.uuid4().hex[:8]
    overrides = {
        "topic_raw": f"t{uid}.raw",
        "topic_enriched": f"t{uid}.enriched",
        "topic_dlq": f"t{uid}.dlq",
        "topic_label_prefix": f"t{uid}.topic.",
        "es_alias": f"t{uid}-news",
        "app_id": f"newsflow-t{uid}",
        "indexer_group": f"newsflow-indexer-t{uid}",
        "indexer_batch_seconds": 0.5,
    }
    settings = stack_settings.model_copy(update=overrides)
    run_setup(settings)
    logs = tmp_path_factory.mktemp(f"pipeline-{uid}")
    try:
        with child_processes(settings, lambda m: None, log_dir=logs, web_port=0):
            yield Pipeline(settings, settings_env(settings))
    finally:
        admin = KafkaAdminClient(**kafka_config(settings))
        try:
            labels = [t for t in admin.list_topics() if t.startswith(settings.topic_label_prefix)]
            admin.delete_topics(
                [settings.topic_raw, settings.topic_enriched, settings.topic_dlq,
                 settings.topic_dedup_stage, *labels]
            )
        except Exception:  # best effort: a leftover test topic harms nothing
            pass
        finally:
            admin.close()
        es = Pipeline(settings, {}).es()
        es.options(ignore_status=404).indices.delete(index=f"{settings.es_alias}-*")
        es.options(ignore_status=404).indices.delete_index_template(
            name=f"{settings.es_alias}-template"
        )
        es.close()


# Real-looking news words (health, sport) for tests that build articles word by word.
NEWS_WORDS_TEXT = (
    "أعلنت وزارة الصحة اليوم تسجيل حالات جديدة في مدينة الرياض وقالت الوزارة في بيان رسمي إن "
    "الحالات تخضع للعلاج وأضاف البيان أن فرق الرقابة باشرت تتبع المخالطين ودعت المواطنين إلى "
    "الالتزام بالإرشادات وتغلب فريق النصر على ضيفه الاتحاد بثلاثة أهداف مقابل هدف في المباراة "
    "التي جمعتهما مساء أمس على ملعب الملك فهد ضمن الجولة الخامسة من الدوري وسجل المهاجم"
)
