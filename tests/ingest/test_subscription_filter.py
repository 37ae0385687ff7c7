"""Subscriber-side filters and resume tokens (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.subscription import decode_item
from ingest.subscription_filter import (
    EntityMatcher,
    SubscriptionFilter,
    decode_positions,
    encode_positions,
)
from newsflow.core.contract import EnrichedArticle, Entity, LabelRetraction, Processing, TopicTag
from newsflow.core.settings import Settings


def article(labels: tuple[str, ...] = (), names: tuple[str, ...] = (), source: str = "s",
            language: str = "ar") -> EnrichedArticle:
    return EnrichedArticle(
        id="a1", url="https://example.org/a1", source=source, language=language,
        ingested_at=datetime.now(UTC), processing=Processing(version="t"),
        topics=[TopicTag(label=label, score=1) for label in labels],
        entities=[Entity(type="PERS", text=n, canonical=n, start=0, end=1, confidence=1)
                  for n in names],
    )


@pytest.mark.parametrize("asked", ["بوتين", "وبوتين", "لبوتين", "ببوتين", "فلاديمير بوتين",
                                   "بُوتِين", "  بوتين  "])
def test_entity_in_any_written_form_matches_the_canonical_name(asked: str) -> None:
    assert EntityMatcher(asked).matches(article(names=("فلاديمير بوتين",)))


@pytest.mark.parametrize("asked", ["أوكرانيا", "اوكرانيا", "إوكرانيا", "وأوكرانيا"])
def test_alef_variants_match(asked: str) -> None:
    assert EntityMatcher(asked).matches(article(names=("اوكرانيا",)))


def test_entity_must_be_whole_words_in_order() -> None:
    assert not EntityMatcher("بوت").matches(article(names=("فلاديمير بوتين",)))
    assert not EntityMatcher("بوتين فلاديمير").matches(article(names=("فلاديمير بوتين",)))
    with pytest.raises(ValueError, match="no letters"):
        EntityMatcher("  ")


def test_filters_combine_any_label_and_every_other_field() -> None:
    f = SubscriptionFilter.build(labels=["sport", "politics"], sources=["okaz"])
    assert f.matches(article(("politics",), source="okaz"))
    assert not f.matches(article(("economy",), source="okaz"))
    assert not f.matches(article(("sport",), source="other"))
    assert SubscriptionFilter.build().matches(article())
    assert not SubscriptionFilter.build(languages=["en"]).matches(article())


def test_labels_only_reads_the_label_topics_else_the_enriched_topic() -> None:
    settings = Settings(topic_label_prefix="p.", topic_enriched="e")
    assert SubscriptionFilter.build(labels=["sport", "crime"]).topics(settings) == [
        "p.crime", "p.sport"]
    assert SubscriptionFilter.build(labels=["sport"], entity="بوتين").topics(settings) == ["e"]
    assert SubscriptionFilter.build().topics(settings) == ["e"]


def test_a_retraction_is_passed_on_unless_another_asked_label_remains() -> None:
    f = SubscriptionFilter.build(labels=["sport", "politics"])
    assert f.matches(LabelRetraction(id="a", label="sport", labels=["economy"]))
    assert not f.matches(LabelRetraction(id="a", label="sport", labels=["politics"]))


def test_records_decode_to_articles_or_retractions() -> None:
    art = article(("sport",))
    assert decode_item(art.model_dump_json().encode()) == art
    retraction = LabelRetraction(id="a", label="sport")
    assert isinstance(decode_item(retraction.model_dump_json().encode()), LabelRetraction)


def test_position_tokens_round_trip() -> None:
    positions = {("news.topic.sport", 0): 15, ("news.topic.sport", 2): 9, ("news.enriched", 1): 7}
    token = encode_positions(positions)
    assert token == "news.enriched@1:7;news.topic.sport@0:15,2:9"
    assert decode_positions(token) == positions
    for bad in ("nope", "t@x", "t@1"):
        with pytest.raises(ValueError):
            decode_positions(bad)
