"""``newsflow eval search`` on a slice of SaudiNewsNet and the hand-labelled judgments, on the
real Elasticsearch: three systems side by side, the known-item ceiling, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.search_eval import SYSTEMS, evaluate, load_articles
from ingest.search_eval_sets import load_judgments
from newsflow.cli.commands.eval_search_cmd import DEFAULT_JUDGMENTS
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings

pytestmark = pytest.mark.integration


def test_eval_search_reports_three_systems_on_both_sets_and_cleans_up(
        stack_settings: Settings, saudinewsnet: list[Path]) -> None:
    corpus = list(load_articles([str(p) for p in saudinewsnet], limit=800))
    judged = load_judgments(DEFAULT_JUDGMENTS)
    es = elasticsearch_client(stack_settings).options(request_timeout=120)

    def present() -> set[str]:
        templates = es.indices.get_index_template()["index_templates"]
        return set(es.indices.get(index="*", expand_wildcards="all")) | {
            f"template {t['name']}" for t in templates}

    try:
        before = present()
        result = evaluate(es, stack_settings, corpus, judged, known=40, seed=7)
        after = present()
    finally:
        es.close()
    assert not after - before, "the private indices or their templates were not deleted"
    assert result["documents"] == {"corpus": len(corpus), "judged": len(judged.docs)}
    assert result["kept_indices"] == []

    known, judged_set = result["known_item"], result["judged"]
    assert known["queries"] == 40 and judged_set["queries"] == len(judged.queries)
    for block in (known, judged_set):
        assert set(block["systems"]) == set(SYSTEMS)
        for figures in block["systems"].values():
            for metric in ("success@10", "mrr@10", "p@10", "not_relevant@10"):
                assert 0 <= figures[metric] <= 1, figures
            assert figures["mrr@10"] <= figures["success@10"]
            # ``took`` is whole milliseconds, 0 on a small index; the wall time never is.
            assert 0 <= figures["took_p50_ms"] <= figures["took_p95_ms"], figures
            assert 0 < figures["wall_p50_ms"] <= figures["wall_p95_ms"], figures
    # Every known item's target is in the index: a system that found none would be broken.
    assert all(f["success@10"] > 0.5 for f in known["systems"].values()), known["systems"]
    assert 0 < known["ceiling_mrr@10"] <= 1

    # The judged set is fixed, so its figures are too: ours ranks a relevant document first
    # for every query and returns none of the documents marked not relevant.
    ours, stock = judged_set["systems"]["ours"], judged_set["systems"]["stock"]
    assert ours["mrr@10"] >= stock["mrr@10"] and ours["success@10"] >= stock["success@10"]
    assert ours["not_relevant@10"] == 0, judged_set["ours_failures"]
