"""Entities, topic tags, near-duplicates, the Elasticsearch document and search all fold and
tokenize with ``newsflow.core.arabic``: these tests pin that what one of them produces is what
the others look for, on spellings that differ only by the noise folding removes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.es_doc import clitic_stripped_text, to_es_doc
from ingest.search import entity_filter_values
from newsflow.core.arabic import fold, fold_text, without_proclitics, words
from newsflow.core.contract import RawArticle
from processors.dedup import word_bytes
from processors.enrich import Enricher
from processors.topics import TopicTagger

# The same names written with harakat, hamza, tatweel, teh marbuta and a Persian yeh.
BODY = (
    "قال الرئيس الروسي فلاديمير بُوتين إن أوكرانـيا لن تنضم إلى حلف الناتو، "
    "وأضاف بوتين في القاهرة أن المباراة النهائية لكرة القدم ستقام في موسكو."
)
NOISY_NAMES = {"بوتين": "بُوتين", "أوكرانيا": "اوكرانيا", "القاهرة": "القاهره"}


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def test_fold_text_is_fold_collapsed() -> None:
    for text in (BODY, "  «KCNA»  News ٢٠٢٤ ", "ایران کتاب ـــ"):
        assert fold_text(text) == " ".join(fold(text).text.split())
        assert fold_text(fold_text(text)) == fold_text(text)  # idempotent


def test_body_normalized_is_fold_text_of_body(enricher: Enricher) -> None:
    article = enricher.enrich(RawArticle(url="https://example.org/a", title="عنوان", body=BODY))
    assert article.body_normalized == fold_text(article.body)
    # near-duplicate shingles use exactly the tokenizer's words
    assert [w.decode() for w in word_bytes(article.body_normalized)] == words(
        article.body_normalized
    )


def test_entity_canonicals_are_what_search_filters_on(enricher: Enricher) -> None:
    article = enricher.enrich(RawArticle(url="https://example.org/b", title="", body=BODY))
    doc = to_es_doc(article)
    for typed in ("فلاديمير بوتين", "فلاديمير بُوتين", "أوكرانيا", "اوكرانيا", "القاهرة", "القاهره"):
        values = entity_filter_values(typed)
        assert values and values[0] in doc["entity_names"], (typed, doc["entity_names"])
    for entity in article.entities:
        assert entity.canonical == fold_text(entity.canonical)  # stored folded


def test_topic_terms_match_folded_text_whatever_the_spelling() -> None:
    tagger = TopicTagger.bundled()
    clean = tagger.tag("", fold_text("المباراة النهائية لكرة القدم والمنتخب والدوري"))
    noisy = tagger.tag("", fold_text("المُبَارَاة النـهائيّة لكرة القَدَم والمُنتخب والدّوري"))
    assert clean and [t.label for t in clean] == [t.label for t in noisy]


def test_clitic_field_words_come_from_the_one_clitic_table() -> None:
    text = "وبوتين لبوتين ببوتين فلبنان"
    expected = [v for w in words(fold_text(text)) for v in without_proclitics(w)]
    assert clitic_stripped_text(text).split() == expected
    assert "بوتين" in expected and "لبنان" in expected


def test_noisy_spellings_fold_to_one_key() -> None:
    for written, noisy in NOISY_NAMES.items():
        assert fold_text(written) == fold_text(noisy)


def test_to_es_doc_timestamps_are_untouched(enricher: Enricher) -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    article = enricher.enrich(RawArticle(url="https://example.org/c", body=BODY), now=now)
    assert to_es_doc(article)["ingested_at"].startswith("2024-05-01")
