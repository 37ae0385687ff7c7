"""Readers and the contract: bad input is reported with a reason, never dropped or fatal."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import orjson
import pytest

from ingest.producer import RejectedArticle, encode_article, to_raw_article
from ingest.readers import iter_path, iter_records
from newsflow.core.identity import article_id
from newsflow.core.schema import default_schema_dir, schema_documents, stale


def test_jsonl_with_bad_lines(tmp_path: Path) -> None:
    f = tmp_path / "batch.jsonl"
    f.write_bytes(
        b'{"url": "https://e.org/1", "title": "t", "body": "b"}\n'
        b"{not json}\n"
        b'{"url": "https://e.org/2", "body": "\xff\xfe bad"}\n'
        b"[1, 2]\n"
        b"\n"
    )
    recs = list(iter_path(f))
    assert [r.origin for r in recs] == [
        "batch.jsonl:1",
        "batch.jsonl:2",
        "batch.jsonl:3",
        "batch.jsonl:4",
    ]
    assert recs[0].data is not None and recs[0].data["url"] == "https://e.org/1"
    assert [r.error_type for r in recs[1:]] == [
        "JSONDecodeError",
        "UnicodeDecodeError",
        "NotAnObject",
    ]
    assert recs[2].raw.startswith(b'{"url"')  # the original bytes are kept for the DLQ


def test_json_array_and_saudinewsnet_zip(tmp_path: Path) -> None:
    day = [
        {
            "source": "sabq",
            "url": "http://sabq.org/x",
            "date_extracted": "2015-07-21 02:51:32",
            "title": "عنوان",
            "author": "كاتب",
            "content": "نص الخبر",
        }
    ]
    z = tmp_path / "2015-07-21.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("2015-07-21.json", json.dumps(day, ensure_ascii=False))
    (rec,) = list(iter_path(z))
    assert rec.data == {
        "source": "sabq",
        "url": "http://sabq.org/x",
        "title": "عنوان",
        "body": "نص الخبر",
        "published_at": "2015-07-21T02:51:32",
        "metadata": {"author": "كاتب", "date_extracted": "2015-07-21 02:51:32"},
    }
    arr = tmp_path / "a.json"
    arr.write_text(json.dumps(day * 3), encoding="utf-8")
    assert len(list(iter_records([arr, z], limit=2))) == 2


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"title": "no url"}, "url: Field required"),
        ({"url": "not-a-url", "body": "x"}, "not an absolute URL"),
        (
            {"url": "https://e.org/a", "title": 5, "body": "x"},
            "title: Input should be a valid string",
        ),
        ({"url": "https://e.org/a", "body": "x", "published_at": "yesterday"}, "published_at"),
        ({"url": "https://e.org/a"}, "no title, body or html"),
        ({"url": "https://e.org/a", "body": "x" * 1_000_001}, "body: String should have at most"),
        (
            {"url": "https://e.org/a", "body": "x", "metadata": [1]},
            "metadata: Input should be a valid",
        ),
    ],
)
def test_contract_rejections_have_reasons(record: dict[str, object], reason: str) -> None:
    with pytest.raises(RejectedArticle) as info:
        to_raw_article(record)
    assert reason in info.value.reason


def test_unknown_fields_are_kept_in_metadata() -> None:
    art = to_raw_article(
        {"url": "https://e.org/a", "body": "x", "author": "س", "metadata": {"k": 1}}
    )
    assert art.metadata == {"author": "س", "k": 1}


def test_encoded_key_is_article_id() -> None:
    key, value = encode_article(
        to_raw_article({"url": "https://E.org/a/?utm_source=x", "body": "x"})
    )
    assert key.decode() == article_id("https://e.org/a")
    assert orjson.loads(value)["url"] == "https://E.org/a/?utm_source=x"  # raw keeps what was sent


def test_exported_json_schemas_match_the_code() -> None:
    assert stale(default_schema_dir()) == [], "run `newsflow schema export`, commit deploy/schemas"
    raw = orjson.loads(schema_documents()["raw_article.schema.json"])
    assert raw["required"] == ["url"]
    enriched = orjson.loads(schema_documents()["enriched_article.schema.json"])
    assert {"id", "entities", "topics", "cluster_id", "processing"} <= set(enriched["properties"])
