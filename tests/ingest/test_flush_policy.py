"""The indexer's flush policy (``ingest.index_batch.should_flush``)."""

from __future__ import annotations

from ingest.index_batch import should_flush

LIMITS = {"max_count": 3, "max_bytes": 100, "max_seconds": 1.0}


def test_an_open_batch_is_flushed_as_soon_as_the_consumer_has_nothing_more() -> None:
    assert should_flush(1, 1, drained=True, age_seconds=0.0, **LIMITS)
    assert not should_flush(1, 1, drained=False, age_seconds=0.0, **LIMITS)


def test_bounded_by_count_bytes_and_age_while_records_keep_coming() -> None:
    assert should_flush(3, 3, drained=False, age_seconds=0.0, **LIMITS)
    assert should_flush(2, 100, drained=False, age_seconds=0.0, **LIMITS)
    assert not should_flush(2, 60, drained=False, age_seconds=0.5, **LIMITS)
    assert should_flush(1, 1, drained=False, age_seconds=1.0, **LIMITS)


def test_nothing_to_flush() -> None:
    assert not should_flush(0, 0, drained=True, age_seconds=5.0, **LIMITS)
