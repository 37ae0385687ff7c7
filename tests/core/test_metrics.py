"""Metric helpers, and the Grafana dashboard only naming metrics the stations export."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY, generate_latest

from newsflow.core import metrics as m

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "newsflow-dashboard.json"


def test_quantile_interpolates_inside_the_bucket_like_promql() -> None:
    buckets = [(0.1, 0.0), (0.5, 50.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert m.quantile_from_buckets(buckets, 0.5) == 0.5
    assert abs((m.quantile_from_buckets(buckets, 0.25) or 0) - 0.3) < 1e-9
    assert m.quantile_from_buckets([(1.0, 0.0), (float("inf"), 0.0)], 0.5) is None


def test_exposition_round_trips_through_the_parser() -> None:
    m.RECORDS_IN.labels("unit-test").inc(3)
    m.PRODUCE_TO_INDEXED.observe(0.3)
    samples = m.parse_exposition(generate_latest(REGISTRY).decode())
    assert m.total(samples, "newsflow_records_in_total", station="unit-test") == 3
    assert (m.histogram_quantile(samples, "newsflow_produce_to_indexed_seconds", 0.5) or 0) > 0
    assert (m.total(samples, "process_resident_memory_bytes") or 0) > 0


def test_dashboard_queries_only_exported_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exported = {"process_resident_memory_bytes", "process_cpu_seconds_total"}
    for metric in (m.RECORDS_IN, m.RECORDS_OUT, m.DEAD_LETTERS, m.ES_ITEM_ERRORS):
        exported.add(metric._name + "_total")
    for metric in (m.STAGE_SECONDS, m.PRODUCE_TO_INDEXED, m.ES_BULK_SECONDS, m.ES_BULK_DOCS):
        exported.add(metric._name + "_bucket")
    exported.add(m.CONSUMER_LAG._name)
    named = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            named |= set(re.findall(r"\b(?:newsflow|process)_[a-z_]+", target["expr"]))
    assert named and named <= exported, named - exported
    assert {p["title"] for p in dash["panels"]} >= {"Consumer lag", "Produce → indexed latency"}
