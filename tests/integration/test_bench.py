"""``newsflow bench`` end to end on a small slice of SaudiNewsNet, through the real stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsflow.bench import BenchOptions, run_bench
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings

pytestmark = pytest.mark.integration


def test_bench_accounts_for_every_article(stack_settings: Settings,
                                          saudinewsnet: list[Path]) -> None:
    messages: list[str] = []
    report = run_bench(
        stack_settings,
        BenchOptions(limit=200, corpus=saudinewsnet[0].parent, progress=False,
                     stall_seconds=180),
        messages.append,
    )
    assert report["articles"] == 200, report
    assert report["indexed"] + report["dead_letters"] == report["articles"], report
    assert report["indexed"] > 0

    stages = report["stages"]
    for name in ("produce", "enrich", "index", "end_to_end"):
        assert stages[name]["seconds"] > 0, (name, stages)
        assert stages[name]["articles_per_second"] > 0, (name, stages)
    assert stages["enrich"]["complete"] and stages["index"]["complete"]

    lat = report["latency_seconds"]
    assert lat["samples"] == report["indexed"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    # Nothing can be searchable sooner than it was produced, nor later than the whole run.
    assert lat["max"] <= stages["end_to_end"]["seconds"] + 1
    assert lat["resolution"] is not None and 0 < lat["resolution"] < 5

    direct = report["direct_bulk"]
    assert direct["docs"] == report["indexed"] and direct["failed"] == 0
    assert direct["docs_per_second"] > 0
    assert report["indexer_vs_direct_bulk"] > 0
    assert report["peak_rss_mb"]["worker"] > 0 and report["peak_rss_mb"]["indexer"] > 0

    # The worker alone over the run's raw topic accounted for every record it holds.
    alone = report["worker_replay"]
    assert alone["complete"] and alone["articles"] == report["articles"], alone
    assert alone["articles_per_second"] > 0 and alone["peak_rss_mb"] > 0, alone
    ratios = report["ratios"]
    assert ratios["stage_rates_alone"]["enrich_worker_alone"] == alone["articles_per_second"]
    assert ratios["slowest_stage_alone"] in ("produce", "enrich_worker_alone", "index_replay")

    # Torn down: nothing of the run is left in Elasticsearch.

    es = elasticsearch_client(stack_settings)
    try:
        alias = report["run"]["alias"]
        assert not es.indices.get(index=f"{alias}-*")
        assert not es.options(ignore_status=404).indices.exists_index_template(
            name=f"{alias}-template")
    finally:
        es.close()
    from kafka import KafkaAdminClient

    from newsflow.core.clients import kafka_config

    admin = KafkaAdminClient(**kafka_config(stack_settings))
    try:
        # The run's topics and the worker replay's; Faust's own assignor topic is left.
        left = [t for t in admin.list_topics() if report["run"]["suffix"] in t
                and "__assignor" not in t]
    finally:
        admin.close()
    assert not left, left
