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
