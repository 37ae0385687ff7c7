"""End to end through real Kafka, the real Faust worker, the real indexer and Elasticsearch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from ingest.producer import ArticleProducer
from ingest.readers import iter_records
from newsflow.core.clients import kafka_config
from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import original_bytes
from newsflow.core.identity import article_id
from tests.conftest import REPO, Pipeline

pytestmark = pytest.mark.integration


def test_500_saudinewsnet_articles_become_searchable(
    pipeline: Pipeline, saudinewsnet: list[Path]
) -> None:
    with ArticleProducer(pipeline.settings) as producer:
        ids = {i for i in producer.send_many(iter_records(saudinewsnet[:1], limit=500)) if i}
    assert producer.summary.sent == 500, producer.summary.as_dict()
    found = pipeline.wait_ids(ids, timeout=240)
    assert found == ids, f"{len(ids - found)} of {len(ids)} never became searchable"
    es = pipeline.es()
    some = sorted(ids)[0]
    doc = es.get(index=pipeline.settings.es_alias, id=some)["_source"]
    assert doc["id"] == some and doc["body"] and doc["body_normalized"]
    es.close()


def test_same_url_with_tracking_parameters_is_one_document(pipeline: Pipeline) -> None:
    base = "https://example.org/news/dup-check"
    with ArticleProducer(pipeline.settings) as producer:
        producer.send({"url": f"{base}?utm_source=twitter", "title": "الأولى", "body": "نص أول"})
        producer.send(
            {"url": f"{base}/?utm_medium=rss&fbclid=x#c", "title": "الثانية", "body": "نص ثان"}
        )
    aid = article_id(base)
    assert pipeline.wait_ids({aid}) == {aid}
    es = pipeline.es()
    es.indices.refresh(index=pipeline.settings.es_alias)
    hits = es.search(
        index=pipeline.settings.es_alias,
        query={"term": {"url": "https://example.org/news/dup-check"}},
    )["hits"]
    assert hits["total"]["value"] == 1
    es.close()


def test_malformed_batch_is_dead_lettered_and_valid_records_indexed(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    good = [
        {
            "url": f"https://example.org/news/good-{i}",
            "title": "خبر سليم",
            "body": f"هذا خبر سليم رقم {i} عن الاقتصاد",
        }
        for i in range(3)
    ]
    batch = tmp_path / "batch.jsonl"
    lines = [
        orjson.dumps(good[0]),
        b'{"url": "https://example.org/broken", "title": ',  # invalid JSON
        b'{"url": "https://example.org/bad-utf8", "body": "\xff\xfe\xfa"}',  # invalid UTF-8
        orjson.dumps(good[1]),
        b'{"title": "no url at all", "body": "x"}',  # missing url
        b'{"url": "https://example.org/types", "title": 42, "published_at": "tomorrow"}',
        orjson.dumps({"url": "https://example.org/huge", "body": "ا" * (5 * 1024 * 1024)}),
        orjson.dumps(good[2]),
    ]
    batch.write_bytes(b"\n".join(lines) + b"\n")
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow", "produce", str(batch), "--json"],
        env=pipeline.env,
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    summary = orjson.loads(proc.stdout)
    assert (summary["sent"], summary["rejected"]) == (3, 5)

    # Records that bypass the producer (a scraper writing to Kafka itself) meet the worker's checks.
    raw = KafkaProducer(**kafka_config(pipeline.settings))
    raw.send(pipeline.settings.topic_raw, key=b"direct-1", value=b"\x00\x01 not json").get(30)
    raw.send(
        pipeline.settings.topic_raw,
        key=b"direct-2",
        value=b'{"url": "https://example.org/direct", "title": ["wrong type"]}',
    ).get(30)
    raw.close()

    ids = {article_id(g["url"]) for g in good}
    assert pipeline.wait_ids(ids) == ids
    dlq = pipeline.dlq_records(expected=7)
    assert len(dlq) == 7, dlq
    by_reason = {(d["stage"], d["error_type"]) for d in dlq}
    assert ("produce", "JSONDecodeError") in by_reason
    assert ("produce", "UnicodeDecodeError") in by_reason
    assert ("decode", "JSONDecodeError") in by_reason or (
        "decode",
        "UnicodeDecodeError",
    ) in by_reason
    assert ("validate", "ValidationError") in by_reason
    reasons = " | ".join(str(d["error"]) for d in dlq)
    for expected in (
        "url: Field required",
        "title: Input should be a valid string",
        "published_at",
        "body: String should have at most 1000000 characters",
    ):
        assert expected in reasons
    huge = next(d for d in dlq if "body: String should have at most" in str(d["error"]))
    kept = original_bytes(DeadLetter.model_validate(huge))  # nothing lost: the whole record
    assert len(kept) > 10 * 1024 * 1024 and orjson.loads(kept)["url"] == "https://example.org/huge"
    assert all(original_bytes(DeadLetter.model_validate(d)) for d in dlq)
    typed = next(d for d in dlq if d["stage"] == "produce" and "title:" in str(d["error"]))
    assert typed["original"] == lines[5].decode()  # the line as read, not a re-serialization
    assert typed["key"] == "batch.jsonl:6"


def test_names_are_found_with_clitics_and_alef_variants(pipeline: Pipeline) -> None:
    from ingest.search import search

    docs = {
        "https://example.org/c/1": "وبوتين قال إن المحادثات مستمرة",
        "https://example.org/c/2": "رسالة لبوتين من بيونغ يانغ",
        "https://example.org/c/3": "ببوتين يثق الحلفاء",
        "https://example.org/c/4": "الحرب في اوكرانيا مستمرة منذ سنوات",
        "https://example.org/c/5": "الحرب في أوكرانيا دخلت عامها الثالث",
    }
    with ArticleProducer(pipeline.settings) as producer:
        for url, body in docs.items():
            producer.send({"url": url, "title": "خبر", "body": body})
    ids = {article_id(u) for u in docs}
    assert pipeline.wait_ids(ids) == ids
    es = pipeline.es()
    putin = {h.id for h in search(es, pipeline.settings, "بوتين", limit=20).hits}
    assert {article_id(f"https://example.org/c/{i}") for i in (1, 2, 3)} <= putin
    for spelling in ("أوكرانيا", "اوكرانيا"):
        found = {h.id for h in search(es, pipeline.settings, spelling, limit=20).hits}
        assert {article_id(f"https://example.org/c/{i}") for i in (4, 5)} <= found
    es.close()


def test_near_duplicate_clusters_survive_a_worker_restart(pipeline: Pipeline) -> None:
    """A new worker rebuilds its near-duplicate index from Elasticsearch, so a wire copy sent
    after a restart still joins the cluster of the first copy."""
    import asyncio

    from newsflow.core.arabic import fold_text
    from processors.dedup_restore import restore_index
    from processors.enrich import Enricher

    story = (
        "أعلنت وزارة الصحة اليوم عن افتتاح مستشفى جديد في مدينة جدة بسعة خمسمئة سرير لخدمة "
        "سكان المنطقة الغربية، وقال الوزير في مؤتمر صحفي إن المستشفى سيضم أقساما متخصصة في "
        "أمراض القلب والأورام وطب الأطفال، وإن العمل فيه سيبدأ مطلع الشهر المقبل بعد اكتمال "
        "تجهيزه بأحدث المعدات الطبية وتعيين الكوادر اللازمة من الأطباء والممرضين والفنيين"
    )
    first = "https://example.org/wire/hospital-a"
    with ArticleProducer(pipeline.settings) as producer:
        producer.send({"url": first, "title": "مستشفى جديد في جدة", "body": story})
    assert pipeline.wait_ids({article_id(first)}) == {article_id(first)}

    restarted = Enricher(pipeline.settings)  # a fresh process's state: empty until restored
    asyncio.run(restore_index(restarted.dedup, pipeline.settings))
    copy = story.replace("اليوم", "أمس")  # a wire copy with one word edited
    cluster = restarted.dedup.assign(article_id("https://example.org/wire/hospital-b"),
                                     fold_text(copy), 0.0)
    assert cluster == article_id(first)
    unrelated = restarted.dedup.assign(article_id("https://example.org/wire/other"),
                                       fold_text("خبر مختلف تماما " * 20), 0.0)
    assert unrelated != article_id(first)


def test_worker_and_indexer_report_no_lag_once_caught_up(pipeline: Pipeline) -> None:
    """`newsflow lag` reads committed offsets from Kafka: after everything above was processed
    both groups must be at the end of their topics (Faust commits every few seconds)."""
    import time

    from ingest.lag import consumer_lag

    with ArticleProducer(pipeline.settings) as producer:
        aid = producer.send({"url": "https://example.org/lag", "title": "خبر", "body": "نص"})
    assert pipeline.wait_ids({aid}) == {aid}
    deadline = time.monotonic() + 60
    rows = consumer_lag(pipeline.settings)
    while any(r.lag for r in rows) and time.monotonic() < deadline:
        time.sleep(1)
        rows = consumer_lag(pipeline.settings)
    assert {r.group for r in rows} == {pipeline.settings.app_id, pipeline.settings.indexer_group}
    assert all(r.end > 0 for r in rows if r.topic == pipeline.settings.topic_raw)
    assert [r for r in rows if r.lag] == []
