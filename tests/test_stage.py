"""Failure paths of the stream stage: every bad record becomes a dead letter naming its stage."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

from newsflow.articles import EnrichedArticle, Processing, RawArticle
from processors.stage import Coordinates, Enriched, Failed, StageError, decode_raw, process_record


class _Enricher:
    """Stands in for the real enricher where only the shell's routing is under test."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    def enrich(self, raw: RawArticle) -> EnrichedArticle:
        if self.fail:
            raise self.fail
        return EnrichedArticle(
            id="abc", url=raw.url, ingested_at=datetime.now(UTC), processing=Processing(version="t")
        )


WHERE = Coordinates("news.raw", 2, 41)


@pytest.mark.parametrize(
    ("value", "stage", "error_type"),
    [
        (b"{not json", "decode", "JSONDecodeError"),
        (b'{"url": "https://e.org/a", "body": "\xff\xfe"}', "decode", "UnicodeDecodeError"),
        (b"[1,2,3]", "decode", "NotAnObject"),
        (None, "decode", "EmptyRecord"),
        (b'{"body": "no url"}', "validate", "ValidationError"),
        (b'{"url": "https://e.org/a", "title": ["x"]}', "validate", "ValidationError"),
    ],
)
def test_bad_records_are_dead_lettered(value: bytes | None, stage: str, error_type: str) -> None:
    result = process_record(_Enricher(), b"k1", value, WHERE)  # type: ignore[arg-type]
    assert isinstance(result, Failed)
    dl = result.dead_letter
    assert (dl.stage, dl.error_type, dl.key) == (stage, error_type, "k1")
    assert (dl.source_topic, dl.source_partition, dl.source_offset) == ("news.raw", 2, 41)
    if value and error_type == "UnicodeDecodeError":
        assert dl.original is None and base64.b64decode(dl.original_b64 or "") == value
    elif value:
        assert dl.original == value.decode()


def test_enrichment_exception_is_dead_lettered_not_raised() -> None:
    result = process_record(
        _Enricher(RuntimeError("boom")),
        None,  # type: ignore[arg-type]
        b'{"url": "https://e.org/a", "body": "x"}',
    )
    assert isinstance(result, Failed)
    assert (result.dead_letter.stage, result.dead_letter.error_type, result.dead_letter.error) == (
        "enrich",
        "RuntimeError",
        "boom",
    )


def test_good_record_is_keyed_by_article_id() -> None:
    result = process_record(
        _Enricher(),
        b"ignored",  # type: ignore[arg-type]
        b'{"url": "https://e.org/a", "body": "x"}',
    )
    assert isinstance(result, Enriched)
    assert result.key == b"abc" and orjson.loads(result.value)["id"] == "abc"


def test_decode_raw_reason_names_the_field() -> None:
    with pytest.raises(StageError) as info:
        decode_raw(b'{"url": 5}')
    assert info.value.message.startswith("url:")
