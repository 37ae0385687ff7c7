"""Per-label streams and `newsflow subscribe` on the real worker, Kafka and Elasticsearch."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from ingest.producer import ArticleProducer
from newsflow.core.clients import kafka_config
from newsflow.core.identity import article_id
from tests.conftest import Pipeline, consume_json
from tests.integration.subscriber_proc import MIXED, POLITICS, SPORT, Subscriber

pytestmark = pytest.mark.integration
LATENCY_BOUND = 2.0  # seconds from produce to printed


def produce(pipeline: Pipeline, articles: dict[str, str]) -> dict[str, float]:
    """{url: body} -> {article id: time the send was acknowledged}."""
    sent = {}
    with ArticleProducer(pipeline.settings) as producer:
        for url, body in articles.items():
            aid = producer.send({"url": url, "title": "خبر", "body": body, "source": "test"})
            producer.flush()
            sent[aid] = time.time()
    return sent


def warm_up(pipeline: Pipeline, name: str) -> None:
    """One article through the whole pipeline first, so the timing below measures a warm
    worker (its first batch also pays for connections and the Elasticsearch lookup)."""
    ids = set(produce(pipeline, {f"https://example.org/warm/{name}": POLITICS + " تمهيد"}))
    assert pipeline.wait_ids(ids) == ids


def label_topic_ids(pipeline: Pipeline, label: str, expected: int) -> list[str]:
    topic = f"{pipeline.settings.topic_label_prefix}{label}"
    records = consume_json(pipeline.settings, topic, expected, timeout=15)
    return [str(r["id"]) for r in records if "retracted" not in r]


def group_offsets(pipeline: Pipeline, group: str) -> dict[int, int | None]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(**kafka_config(pipeline.settings), group_id=group,
                             enable_auto_commit=False)
    try:
        topic = f"{pipeline.settings.topic_label_prefix}sport"
        return {p: consumer.committed(TopicPartition(topic, p))
                for p in sorted(consumer.partitions_for_topic(topic) or ())}
    finally:
        consumer.close(autocommit=False)


def test_label_stream_holds_exactly_its_articles_printed_within_2s(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    sub = Subscriber(pipeline.env, "--label", "sport", log=tmp_path / "sub.log")
    try:
        sub.wait_ready()
        warm_up(pipeline, "labels")
        docs = {f"https://example.org/l/sport-{i}": f"{SPORT} رقم {i}" for i in range(3)}
        docs |= {f"https://example.org/l/politics-{i}": f"{POLITICS} رقم {i}" for i in range(3)}
        docs |= {f"https://example.org/l/mixed-{i}": f"{MIXED} رقم {i}" for i in range(2)}
        sent = produce(pipeline, docs)
        sport = {article_id(u) for u in docs if "/politics-" not in u}
        got = sub.collect(until=sport)
    finally:
        assert sub.stop() == 0
    assert set(got) == sport, "the subscriber printed exactly the sport and mixed articles"
    delays = {aid: got[aid][0][0] - sent[aid] for aid in sport}
    print(f"produce -> printed: max {max(delays.values()):.2f} s over {len(delays)} articles")
    assert max(delays.values()) <= LATENCY_BOUND, delays
    assert all(r["topics"] for recs in got.values() for _, r in recs)

    assert sorted(label_topic_ids(pipeline, "sport", len(sport))) == sorted(sport)
    politics = {article_id(u) for u in docs if "/sport-" not in u}
    assert set(label_topic_ids(pipeline, "politics", len(politics) + 1)) >= politics
    assert not set(label_topic_ids(pipeline, "politics", len(politics) + 1)) & (sport - politics)


def test_losing_a_label_is_told_to_its_subscribers(pipeline: Pipeline, tmp_path: Path) -> None:
    url = "https://example.org/relabel/1"
    aid = article_id(url)
    produce(pipeline, {url: SPORT})
    assert pipeline.wait_ids({aid}) == {aid}
    sub = Subscriber(pipeline.env, "--label", "sport", log=tmp_path / "sub.log")
    try:
        sub.wait_ready()
        produce(pipeline, {url: POLITICS})  # re-enrichment: now politics only
        got = sub.collect(until={aid})
    finally:
        sub.stop()
    [(_, record)] = got[aid]
    assert record["retracted"] is True and record["label"] == "sport"
    assert record["labels"] == ["politics"]


def test_entity_filter_matches_clitic_forms(pipeline: Pipeline, tmp_path: Path) -> None:
    sub = Subscriber(pipeline.env, "--entity", "بوتين", log=tmp_path / "sub.log")
    try:
        sub.wait_ready()
        docs = {
            "https://example.org/e/1": "وبوتين قال إن المحادثات مع الرئيس الأمريكي مستمرة",
            "https://example.org/e/2": "رسالة لبوتين من الرئيس الصيني حول العلاقات",
            "https://example.org/e/3": "الحكومة ناقشت الميزانية الجديدة للعام المقبل",
        }
        produce(pipeline, docs)
        putin = {article_id("https://example.org/e/1"), article_id("https://example.org/e/2")}
        got = sub.collect(until=putin)
    finally:
        sub.stop()
    assert set(got) == putin


def test_group_resumes_after_a_kill_with_nothing_missed(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    args = ("--label", "sport", "--group", f"{pipeline.settings.app_id}-desk")
    first = Subscriber(pipeline.env, *args, log=tmp_path / "first.log")
    try:
        first.wait_ready()
        before = produce(pipeline, {f"https://example.org/g/a{i}": f"{SPORT} أولا {i}"
                                    for i in range(3)})
        got_first = first.collect(until=set(before))
    finally:
        first.stop(signal.SIGKILL)  # no goodbye: whatever was not committed comes again
    assert set(got_first) == set(before)
    during = produce(pipeline, {f"https://example.org/g/b{i}": f"{SPORT} ثانيا {i}"
                                for i in range(3)})
    # "While it was down" means routed while it was down: wait for them on the label topic.
    deadline = time.monotonic() + 30
    while not set(during) <= set(label_topic_ids(pipeline, "sport", 100)):
        assert time.monotonic() < deadline, "the worker did not route the articles"
    committed = group_offsets(pipeline, args[-1])
    again = Subscriber(pipeline.env, *args, log=tmp_path / "again.log")
    try:
        again.wait_ready()
        got_again = again.collect(until=set(during))
    finally:
        assert again.stop() == 0
    assert set(during) <= set(got_again), (
        f"articles produced while it was down; committed before the restart {committed}, "
        f"after {group_offsets(pipeline, args[-1])}; log: {(tmp_path / 'again.log').read_text()}")
    assert set(got_again) <= set(before) | set(during)  # at most re-deliveries, nothing else


def test_async_subscription_reads_the_label_stream(pipeline: Pipeline) -> None:
    from ingest.subscription import AsyncSubscription

    ids = set(produce(pipeline, {f"https://example.org/async/{i}": f"{MIXED} {i}"
                                 for i in range(2)}))

    async def read() -> set[str]:
        seen: set[str] = set()
        async with AsyncSubscription(labels=["politics"], start="beginning",
                                     settings=pipeline.settings) as sub:
            async for item in sub:
                seen.add(item.id)
                if ids <= seen:
                    return seen
        return seen

    assert ids <= asyncio.run(asyncio.wait_for(read(), timeout=60))
