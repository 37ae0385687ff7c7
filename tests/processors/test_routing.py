"""Per-label routing (processors.routing) and its previous-label memory, without Kafka."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from newsflow.core.contract import EnrichedArticle, LabelRetraction, Processing, TopicTag
from processors.label_router import LabelRouter, PreviousLabels
from processors.routing import LabelRouting, label_records, parse_label_streams


def article(aid: str, *labels: str) -> EnrichedArticle:
    return EnrichedArticle(
        id=aid, url=f"https://example.org/{aid}", title="t", ingested_at=datetime.now(UTC),
        topics=[TopicTag(label=label, score=1.0) for label in labels],
        processing=Processing(version="test"),
    )


ALL = LabelRouting("news.topic.", None)


def flat(per_article: list[list[tuple[str, bytes, bytes]]]) -> list[tuple[str, bytes, bytes]]:
    return [r for records in per_article for r in records]


def test_parse_label_streams() -> None:
    assert parse_label_streams("*") is None
    assert parse_label_streams("") == frozenset()
    assert parse_label_streams(" sport, politics ,") == {"sport", "politics"}


def test_each_label_gets_the_article_unchanged_keyed_by_id() -> None:
    a = article("a1", "sport", "economy")
    value = b'{"id": "a1"}'
    assert label_records(ALL, a, value, previous=()) == [
        ("news.topic.sport", b"a1", value),
        ("news.topic.economy", b"a1", value),
    ]


def test_only_configured_labels_have_streams() -> None:
    routing = LabelRouting("p.", frozenset({"sport"}))
    assert label_records(routing, article("a", "sport", "economy"), b"v", ()) == [
        ("p.sport", b"a", b"v")
    ]
    assert label_records(LabelRouting("p.", frozenset()), article("a", "sport"), b"v", ()) == []
    assert routing.topics(["sport", "economy", "sport"]) == ["p.sport"]


def test_a_lost_label_gets_a_retraction() -> None:
    records = label_records(ALL, article("a1", "politics"), b"v", previous=("sport", "politics"))
    assert [(t, k) for t, k, _ in records] == [
        ("news.topic.politics", b"a1"), ("news.topic.sport", b"a1")]
    retraction = LabelRetraction.model_validate(orjson.loads(records[1][2]))
    assert (retraction.id, retraction.label, retraction.labels) == ("a1", "sport", ["politics"])
    assert orjson.loads(records[1][2])["retracted"] is True


def test_unknown_previous_labels_retract_nothing() -> None:
    assert label_records(ALL, article("a1"), b"v", previous=None) == []


def test_memory_evicts_least_recently_used() -> None:
    memory = PreviousLabels(capacity=2)
    memory.remember("a", ("sport",))
    memory.remember("b", ())
    assert memory.get("a") == ("sport",)  # a is now the most recent
    memory.remember("c", ("economy",))
    assert "b" not in memory and memory.get("a") == ("sport",) and len(memory) == 2


def test_router_asks_the_index_only_for_articles_it_has_not_routed() -> None:
    asked: list[list[str]] = []

    def lookup(ids: list[str]) -> dict[str, tuple[str, ...]]:
        asked.append(ids)
        return {"old": ("sport",), **{i: () for i in ids if i != "old"}}

    router = LabelRouter(ALL, lookup)
    first = flat(asyncio.run(router.records(
        [article("old", "politics"), article("new", "sport")], [b"1", b"2"])))
    assert asked == [["old", "new"]]
    assert ("news.topic.sport", b"old") in [(t, k) for t, k, v in first if b"retracted" in v]
    # Relabelled again in one batch: the second version sees the first one's labels.
    again = flat(asyncio.run(router.records(
        [article("new", "economy"), article("new", "sport")], [b"3", b"4"])))
    assert asked == [["old", "new"]]  # both known now: no second lookup
    topics = [(t, b"retracted" in v) for t, _k, v in again]
    assert topics == [("news.topic.economy", False), ("news.topic.sport", True),
                      ("news.topic.sport", False), ("news.topic.economy", True)]
    assert router.stats.retractions == 3 and router.stats.previous_unknown == 0


def test_router_without_the_index_still_routes_and_counts_the_unknown() -> None:
    def broken(ids: list[str]) -> dict[str, tuple[str, ...]]:
        raise ConnectionError("elasticsearch down")

    router = LabelRouter(ALL, broken)
    records = asyncio.run(router.records([article("x", "sport")], [b"v"]))
    assert records == [[("news.topic.sport", b"x", b"v")]]
    assert (router.stats.previous_unknown, router.stats.lookups_failed) == (1, 1)


@pytest.mark.parametrize("streams", ["*", "sport"])
def test_setup_names_a_topic_per_taxonomy_label(streams: str) -> None:
    from newsflow.core.settings import Settings
    from newsflow.provision import label_stream_topics

    topics = label_stream_topics(Settings(topic_label_prefix="x.", label_streams=streams))
    assert "x.sport" in topics
    assert (len(topics) > 10) == (streams == "*")


def test_user_added_labels_get_a_stream(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from newsflow.core.settings import Settings
    from newsflow.provision import label_stream_topics

    extra = tmp_path / "extra.yaml"
    extra.write_text("labels:\n  hajj:\n    terms:\n      2: [الحج, الحجاج]\n", encoding="utf-8")
    assert "x.hajj" in label_stream_topics(Settings(topic_label_prefix="x.",
                                                    topics_extra_file=extra))
