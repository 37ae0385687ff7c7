"""The pure parts of ``newsflow bench``: percentiles, rates from sampled counters, and the
bookkeeping of which produced ids are searchable."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from newsflow.bench.metrics import (
    BenchError,
    VisibilityTracker,
    count_at,
    cpu_share,
    latency_summary,
    max_lag,
    median_interval,
    percentile,
    rate_from_series,
)
from newsflow.bench.options import corpus_files, direct_index_name, private_settings
from newsflow.core.settings import Settings


def test_percentile_interpolates_like_numpy() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 95) == pytest.approx(3.85)
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input


def test_percentile_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    lat = [float(i) for i in range(1, 101)]
    s = latency_summary(lat, 0.25)
    assert s["p50"] == pytest.approx(50.5)
    assert s["p99"] == pytest.approx(99.01)
    assert s["max"] == 100.0 and s["resolution"] == 0.25 and s["samples"] == 100
    empty = latency_summary([], None)
    assert empty["p50"] is None and empty["samples"] == 0


def test_rate_starts_at_first_nonzero_sample() -> None:
    # Idle for 10 s (waiting for input), then 100 articles over 5 s.
    series = [(0.0, 0), (5.0, 0), (10.0, 10), (12.0, 50), (15.0, 110), (16.0, 110)]
    r = rate_from_series(series, 110)
    assert r is not None and r.complete
    assert r.seconds == pytest.approx(5.0)
    assert r.articles_per_second == pytest.approx(100 / 5)
    assert (r.start, r.end) == (10.0, 15.0)


def test_rate_uses_first_sample_reaching_target() -> None:
    series = [(0.0, 5), (1.0, 10), (2.0, 10), (3.0, 10)]
    r = rate_from_series(series, 10)
    assert r is not None and r.end == 1.0 and r.articles_per_second == pytest.approx(5.0)


def test_rate_when_everything_lands_between_two_samples() -> None:
    # The first non-zero sample already holds everything: the previous sample is the start.
    r = rate_from_series([(0.0, 0), (0.25, 0), (0.5, 200)], 200)
    assert r is not None
    assert r.seconds == pytest.approx(0.25)
    assert r.articles_per_second == pytest.approx(800.0)


def test_rate_incomplete_and_degenerate() -> None:
    r = rate_from_series([(0.0, 0), (1.0, 10), (3.0, 30)], 100)
    assert r is not None and not r.complete
    assert r.articles_per_second == pytest.approx(10.0)
    assert rate_from_series([(0.0, 0), (1.0, 0)], 10) is None
    assert rate_from_series([], 10) is None
    assert rate_from_series([(0.0, 3)], 0) is None
    only = rate_from_series([(0.0, 10)], 10)
    assert only is not None and only.articles_per_second is None


def test_rate_clamps_overshoot_to_target() -> None:
    # The DLQ offsets can count a few index-stage dead letters on top of the worker's output.
    r = rate_from_series([(0.0, 0), (1.0, 50), (2.0, 105)], 100)
    assert r is not None and r.end == 2.0
    assert r.articles_per_second == pytest.approx(50.0)


def test_count_at_and_max_lag() -> None:
    up = [(0.0, 0), (1.0, 100), (2.0, 200), (3.0, 300)]
    assert count_at(up, -1.0) == 0
    assert count_at(up, 1.5) == 100
    assert count_at(up, 3.0) == 300
    down = [(0.5, 0), (1.5, 20), (2.5, 190), (3.5, 300)]
    assert max_lag(up, down) == 80
    assert max_lag([], down) == 0


def test_median_interval() -> None:
    assert median_interval([0.0, 0.25, 0.5, 1.5]) == pytest.approx(0.25)
    assert median_interval([1.0]) is None


def test_tracker_latencies_and_pending_order() -> None:
    t = VisibilityTracker()
    for i, doc_id in enumerate("abcde"):
        t.sent(doc_id, float(i))
    assert t.pending_ids() == ["a", "b", "c", "d", "e"]
    assert t.mark_visible(["b", "zzz"], 10.0) == 1  # unknown ids are ignored
    assert t.mark_visible(["b"], 11.0) == 0  # first sighting wins
    assert t.pending_ids() == ["a", "c", "d", "e"]
    assert t.drop("c", "enrich", 12.0)
    assert not t.drop("b", "index", 13.0)  # already searchable: not a loss
    t.mark_visible(["a", "d", "e"], 14.0)
    assert t.n_pending == 0 and t.accounted() == 5
    assert t.n_visible == 4 and t.n_dead == 1
    assert sorted(t.latencies()) == [9.0, 10.0, 11.0, 14.0]
    assert t.dead_by_stage() == {"enrich": 1}
    assert t.last_event == 14.0


def test_tracker_duplicates_and_early_dead_letters() -> None:
    t = VisibilityTracker()
    t.drop("x", "enrich", 0.5)  # dead letter seen before the send was recorded
    t.sent("x", 1.0)
    t.sent("y", 1.0)
    t.sent("y", 2.0)
    assert t.duplicates == 1 and t.n_sent == 2
    assert t.pending_ids() == ["y"]
    t.mark_visible(["y"], 3.0)
    assert t.latencies() == [2.0]  # from the first send
    assert t.accounted() == 2
    t.drop("not-ours", "produce", 4.0)  # a key this run never sent
    assert t.n_dead == 1 and t.last_event == 3.0


def test_private_settings_do_not_touch_the_real_pipeline() -> None:
    base = Settings()
    s = private_settings(base, "abc123")
    names = [s.topic_raw, s.topic_enriched, s.topic_dlq, s.es_alias, s.app_id, s.indexer_group]
    assert len(set(names)) == 6
    assert all("abc123" in n for n in names)
    assert s.es_alias != base.es_alias and s.topic_raw != base.topic_raw
    # The scratch index must match the template pattern (same mappings) but not be the
    # versioned index behind the alias.
    assert direct_index_name(s).startswith(f"{s.es_alias}-") and direct_index_name(s) != s.es_index


def test_corpus_files(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="--corpus"):
        corpus_files(tmp_path / "nowhere")
    with pytest.raises(BenchError):
        corpus_files(tmp_path)  # exists but holds no zips
    (tmp_path / "2015-07-21.zip").write_bytes(b"")
    (tmp_path / "2015-07-20.zip").write_bytes(b"")
    assert [p.name for p in corpus_files(tmp_path)] == ["2015-07-20.zip", "2015-07-21.zip"]


def test_cpu_share() -> None:
    # Cumulative CPU seconds: 0.5 s of CPU per wall second between t=1 and t=3.
    series = [(0.0, 0.0), (1.0, 1.0), (2.0, 1.5), (3.0, 2.0), (4.0, 4.0)]
    assert cpu_share(series, 1.0, 3.0) == pytest.approx(0.5)
    assert cpu_share(series, 0.0, 4.0) == pytest.approx(1.0)
    assert cpu_share(series, 1.5, 1.9) is None  # fewer than two samples inside


def test_side_by_side_takes_the_worker_alone_as_the_enrich_stage() -> None:
    from newsflow.bench.report import side_by_side

    report = {
        "articles": 1000,
        "stages": {"produce": {"articles_per_second": 3000.0},
                   "enrich": {"articles_per_second": 150.0, "seconds": 6.0},
                   "end_to_end": {"articles_per_second": 140.0}},
        "worker_replay": {"articles_per_second": 200.0, "cpu_ms_per_article": 4.0,
                          "peak_rss_mb": 210.0},
        "indexer_replay": {"docs_per_second": 500.0},
        "indexer_vs_direct_bulk": 0.95,
        "peak_rss_mb": {"worker": 220.0, "indexer": 150.0},
        "cpu_cores_busy": {"workers": 0.9},
        "latency_seconds": {"p99": 1.2},
    }
    offline = {"articles_per_second": 250.0, "cpu_ms_per_article": 3.0}
    r = side_by_side(report, offline)
    assert r["slowest_stage_alone"] == "enrich_worker_alone"
    assert r["end_to_end_vs_slowest_stage"] == 0.7  # 140 / 200, not 140 / 250
    assert r["end_to_end_vs_offline_enrichment"] == 0.56
    assert r["worker_alone_vs_offline_enrichment"] == 0.8
    assert r["worker_vs_offline_enrichment"] == 0.6
    assert r["offline_vs_worker_alone_cpu_per_article"] == 0.75
    # Without a replay, offline enrichment stands in for the enrich stage.
    del report["worker_replay"]
    r = side_by_side(report, offline)
    assert r["slowest_stage_alone"] == "enrich_offline"
    assert r["end_to_end_vs_slowest_stage"] == 0.56


def test_cores_while_reports_every_process_the_machine_and_their_total() -> None:
    import os

    from newsflow.bench.run import cores_while
    from newsflow.bench.watchers import ProcSampler

    me = ProcSampler({"bench": os.getpid()}, family=False, machine=True)
    me._step()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.3:  # burn CPU so both series move
        sum(i * i for i in range(1000))
    me._step()
    shares = cores_while([me], 0.0, time.monotonic() + 1)
    assert shares["bench"] is not None and 0.5 < shares["bench"] <= 1.05
    assert shares["sampled_total"] == shares["bench"]
    # The machine ran at least this process (psutil's system times tick at 10 ms).
    assert shares["machine"] is not None and shares["machine"] >= 0.5 * shares["bench"]
    assert shares["machine_cores"] == os.cpu_count()


def test_chunks_start_small_and_double_up_to_the_cap() -> None:
    from newsflow.bench.metrics import doubling_chunks

    ids = [str(i) for i in range(20)]
    chunks = doubling_chunks(ids, 2, 6)
    assert [len(c) for c in chunks] == [2, 4, 6, 6, 2]
    assert [i for c in chunks for i in c] == ids  # every id once, oldest first
    assert doubling_chunks([], 2, 6) == []
    assert [len(c) for c in doubling_chunks(ids, 5, 5)] == [5, 5, 5, 5]
