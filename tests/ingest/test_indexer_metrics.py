"""The indexer's bulk item error counter agrees with the indexer's own verdicts: a version
conflict (409: the same or a newer version is already indexed) is a superseded document, not an
error."""

from __future__ import annotations

from prometheus_client import REGISTRY

from ingest.metrics import IndexerMetrics


def _errors(status: str) -> float:
    value = REGISTRY.get_sample_value("newsflow_es_bulk_item_errors_total", {"status": status})
    return value or 0.0


def test_item_errors_count_failures_but_not_superseded_versions() -> None:
    before = {s: _errors(s) for s in ("201", "400", "409", "429")}
    IndexerMetrics().item_errors([
        {"index": {"status": 201}},
        {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        {"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
        {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception"}}},
    ])
    moved = {s: _errors(s) - before[s] for s in before}
    assert moved == {"201": 0.0, "400": 1.0, "409": 0.0, "429": 2.0}
