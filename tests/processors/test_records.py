"""Failure paths of the stream stage: every bad record becomes a dead letter naming its stage."""

from __future__ import annotations

import base64

import orjson
import pytest

from newsflow.core.identity import article_id
from processors.enrich import Enricher
from processors.records import Coordinates, Enriched, Failed, StageError, decode_raw, process_record


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


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
def test_bad_records_are_dead_lettered(
    enricher: Enricher, value: bytes | None, stage: str, error_type: str
) -> None:
    result = process_record(enricher, b"k1", value, WHERE)
    assert isinstance(result, Failed)
    dl = result.dead_letter
    assert (dl.stage, dl.error_type, dl.key) == (stage, error_type, "k1")
    assert (dl.source_topic, dl.source_partition, dl.source_offset) == ("news.raw", 2, 41)
    if value and error_type == "UnicodeDecodeError":
        assert dl.original is None and base64.b64decode(dl.original_b64 or "") == value
    elif value:
        assert dl.original == value.decode()


def test_enrichment_failure_is_dead_lettered_not_raised(enricher: Enricher) -> None:
    # HTML with no article text passes the contract but leaves nothing to index
    value = b'{"url": "https://e.org/a", "html": "<html><body><script>x()</script></body></html>"}'
    result = process_record(enricher, None, value)
    assert isinstance(result, Failed)
    dl = result.dead_letter
    assert (dl.stage, dl.error_type) == ("enrich", "EmptyArticle")
    assert dl.error == "no readable text after cleaning" and dl.original == value.decode()


def test_good_record_is_keyed_by_article_id(enricher: Enricher) -> None:
    value = orjson.dumps({"url": "https://E.org/a/?utm_source=x", "body": "نص الخبر"})
    result = process_record(enricher, b"ignored", value)
    assert isinstance(result, Enriched)
    assert result.key.decode() == article_id("https://e.org/a") == result.article.id
    assert orjson.loads(result.value)["url"] == "https://e.org/a"


def test_decode_raw_reason_names_the_field() -> None:
    with pytest.raises(StageError) as info:
        decode_raw(b'{"url": 5}')
    assert info.value.message.startswith("url:")
