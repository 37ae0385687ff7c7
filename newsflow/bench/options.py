"""What a bench run is given: options, the corpus, and private settings (topics, index, groups)
so a run never touches the pipeline's own."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsflow.bench.metrics import DEFAULT_STALL_SECONDS, BenchError
from newsflow.core.settings import Settings


@dataclass
class BenchOptions:
    limit: int | None = None
    corpus: Path | None = None
    keep: bool = False
    stall_seconds: float = DEFAULT_STALL_SECONDS
    progress: bool = True
    series_path: Path | None = None  # raw sampled series as JSON, for plotting or debugging
    rate: float | None = None  # articles/s to produce at; None = as fast as possible
    workers: int = 1  # worker processes in the group (at most the raw topic's partitions)
    offline: bool = True  # also time `newsflow enrich` on the same articles


def default_corpus() -> Path:
    # ``<repo>/../shared``: where the team's corpora live next to a checkout.
    return Path(__file__).resolve().parents[3] / "shared" / "corpora" / "saudinewsnet"


def corpus_files(corpus: Path | None) -> list[Path]:
    root = corpus or default_corpus()
    if root.is_file():
        return [root]
    files = sorted(root.glob("*.zip")) if root.is_dir() else []
    if not files:
        raise BenchError(
            f"no SaudiNewsNet corpus at {root} (expected the daily *.zip files); "
            "pass --corpus PATH to a directory of them"
        )
    return files


def private_settings(base: Settings, suffix: str) -> Settings:
    """Settings naming topics, alias, app and consumer group of their own, so a benchmark never
    touches (or is disturbed by) the real pipeline sharing the cluster."""
    return base.model_copy(update={
        "topic_raw": f"bench{suffix}.raw",
        "topic_enriched": f"bench{suffix}.enriched",
        "topic_dlq": f"bench{suffix}.dlq",
        "topic_label_prefix": f"bench{suffix}.topic.",
        "es_alias": f"bench{suffix}-news",
        "app_id": f"newsflow-bench{suffix}",
        "indexer_group": f"newsflow-indexer-bench{suffix}",
    })


def direct_index_name(settings: Settings) -> str:
    # Matches the template's ``<alias>-*`` pattern, so it gets the very same mappings/analyzers,
    # yet is not a member of the alias (the template defines no aliases).
    return f"{settings.es_alias}-bench-direct"


def worker_replay_settings(settings: Settings) -> Settings:
    """A second worker group over the run's complete raw topic, writing topics of its own. Its
    alias has no index: the near-duplicate stage restores nothing and starts empty, as the
    pipeline's did."""
    return settings.model_copy(update={
        "topic_enriched": f"{settings.topic_enriched}-replay",
        "topic_dlq": f"{settings.topic_dlq}-replay",
        "topic_label_prefix": f"{settings.topic_label_prefix}replay.",
        "app_id": f"{settings.app_id}-replay",
        "es_alias": f"{settings.es_alias}-worker-replay",
    })


def indexer_replay_settings(settings: Settings) -> Settings:
    """A second indexer group and alias for the indexer replay."""
    # ``<alias>-replay`` keeps its index (``<alias>-replay-v1``) under the run's template
    # pattern, so it gets the very same mappings without a second, overlapping template.
    return settings.model_copy(update={
        "es_alias": f"{settings.es_alias}-replay",
        "indexer_group": f"{settings.indexer_group}-replay",
    })
