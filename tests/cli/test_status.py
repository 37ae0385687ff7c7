"""`newsflow status` arithmetic on two scrapes (the I/O is covered by the integration test)."""

from __future__ import annotations

from newsflow.status import Endpoint, endpoint_rows, rate


def _samples(n_in: float, lag: float) -> dict[str, list[tuple[dict[str, str], float]]]:
    return {
        "newsflow_records_in_total": [({"station": "indexer"}, n_in)],
        "newsflow_records_out_total": [({"station": "indexer", "destination": "elasticsearch"},
                                        n_in)],
        "newsflow_consumer_lag": [({"station": "indexer"}, lag)],
        "process_resident_memory_bytes": [({}, 100 * 2**20)],
        "newsflow_produce_to_indexed_seconds_bucket": [
            ({"le": "0.5"}, 50.0), ({"le": "1.0"}, 99.0), ({"le": "+Inf"}, 100.0)],
    }


def test_rates_come_from_the_difference_of_two_scrapes() -> None:
    ep = Endpoint("indexer", "http://x/metrics", _samples(100, 5), _samples(300, 2), seconds=2.0)
    assert rate(ep, "newsflow_records_in_total", station="indexer") == 100.0
    rows = dict(endpoint_rows(ep))
    assert rows["records in /s"] == "100" and rows["consumer lag"] == "2"
    assert rows["RSS"] == "100 MB"
    assert rows["produce→indexed p50"] == "500.0 ms"


def test_an_unreachable_endpoint_says_so() -> None:
    ep = Endpoint("worker", "http://127.0.0.1:1/metrics", error="ConnectionRefusedError")
    assert "unreachable" in endpoint_rows(ep)[0][1]


def _worker(n_env: float, owner: bool) -> dict[str, list[tuple[dict[str, str], float]]]:
    samples: dict[str, list[tuple[dict[str, str], float]]] = {
        "newsflow_records_in_total": [({"station": "worker"}, n_env)],
        "newsflow_records_out_total": [({"station": "worker", "destination": "dedup_stage"},
                                        n_env)],
    }
    if owner:
        samples["newsflow_records_in_total"].append(({"station": "dedup"}, n_env))
        samples["newsflow_records_out_total"].append(
            ({"station": "dedup", "destination": "enriched"}, n_env))
        samples["newsflow_consumer_lag"] = [({"station": "dedup"}, 3.0)]
        samples["newsflow_stage_seconds_bucket"] = [
            ({"station": "dedup", "stage": "decide", "le": "0.0001"}, 0.0),
            ({"station": "dedup", "stage": "decide", "le": "0.00025"}, n_env),
            ({"station": "dedup", "stage": "decide", "le": "+Inf"}, n_env)]
    return samples


def test_the_near_duplicate_stage_shows_on_the_worker_that_runs_it() -> None:
    owner = dict(endpoint_rows(Endpoint("worker", "u", _worker(10, True), _worker(30, True),
                                        seconds=2.0)))
    assert owner["records out /s"] == "10" and owner["near-duplicate stage out /s"] == "10"
    assert owner["near-duplicate stage lag"] == "3"
    assert owner["near-duplicate decide p99"].endswith(" ms")
    other = dict(endpoint_rows(Endpoint("worker", "u", _worker(10, False), _worker(30, False),
                                        seconds=2.0)))
    assert "near-duplicate stage out /s" not in other
