"""The known-item generator of ``newsflow eval search`` and the ceiling it reports."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from ingest.search_eval_sets import (
    HAMZA_ALEF,
    EvalQuery,
    KnownItemPool,
    reader_form,
)
from newsflow.core.contract import EnrichedArticle


def _doc(doc_id: str, title: str, cluster: str | None = None) -> EnrichedArticle:
    return EnrichedArticle(
        id=doc_id, url=f"https://example.org/{doc_id}", source="t", title=title, body="نص",
        language="ar", ingested_at=datetime(2024, 1, 1, tzinfo=UTC),
        processing={"version": "t"}, cluster_id=cluster)


def _ceiling(docs: list[EnrichedArticle], queries: list[EvalQuery]) -> float:
    return KnownItemPool.from_docs(docs).ceiling(queries)


def _query(text: str, target: str) -> EvalQuery:
    return EvalQuery(text, frozenset({target}), tags=("known-item",), target=target)


@pytest.mark.parametrize(("written", "typed"), [
    ("الوزير", "وزير"), ("بالمدرسة", "مدرسة"), ("وللطلاب", "طلاب"),
    ("والسعودية", "السعودية"),  # a name keeps its article, only the conjunction goes
    ("الرياض", "الرياض"), ("إلكتروني", "إلكتروني"),  # a name; ال not an article
])
def test_reader_form_drops_what_a_reader_does_not_type(written: str, typed: str) -> None:
    assert reader_form(written) == typed


def test_known_items_are_title_words_in_order_and_wire_copies_count() -> None:
    docs = [
        _doc("a", "وزير الخارجية يزور جدة لبحث التعاون"),
        _doc("a2", "وزير الخارجية يزور جدة لبحث التعاون"),  # a wire copy
        _doc("b", "أمير الرياض يفتتح مهرجان التمور"),
        _doc("c", "اليوم في جدة"),  # one content word: never a target
    ]
    pool = KnownItemPool.from_docs(docs)
    items = pool.sample(10, seed=3)
    assert items == KnownItemPool.from_docs(docs).sample(10, seed=3)
    assert {q.target for q in items} == {"a", "a2", "b"}
    for q in items:
        words = {"a": "وزير خارجية يزور جدة لبحث تعاون", "a2": "وزير خارجية يزور جدة لبحث تعاون",
                 "b": "أمير الرياض يفتتح مهرجان تمور"}[q.target or ""].split()
        typed = q.query.split()
        assert len(typed) in (2, 3)
        bare = [w.translate(HAMZA_ALEF) for w in words]
        positions = [(words if w in words else bare).index(w) for w in typed]
        assert positions == sorted(positions)
        assert q.relevant == ({"a", "a2"} if q.target in ("a", "a2") else {"b"})


def test_a_title_no_other_shares_the_words_of_is_certain() -> None:
    docs = [_doc("a", "وزير الخارجية يزور جدة"), _doc("b", "أمير الرياض يفتتح مهرجان")]
    assert _ceiling(docs, [_query("وزير جدة", "a")]) == 1.0


def test_titles_with_the_same_content_words_are_a_coin_toss() -> None:
    # They differ by a function word only: two items, one query, rank 1 or 2 equally likely.
    docs = [_doc("a", "وزير الخارجية يزور جدة"), _doc("b", "وزير الخارجية يزور جدة اليوم")]
    assert _ceiling(docs, [_query("وزير خارجية", "a")]) == 0.75


def test_wire_copies_are_one_item_by_title_or_cluster() -> None:
    docs = [_doc("a", "وزير الخارجية يزور جدة"), _doc("b", "وزير الخارجية يزور جدة اليوم", "k"),
            _doc("c", "وزير الخارجية يزور جدة", "k")]
    # a–c share a title, b–c a cluster: one item, whatever a ranker puts first.
    assert _ceiling(docs, [_query("وزير خارجية", "a")]) == 1.0


def test_a_shorter_title_is_likelier_to_have_given_its_words() -> None:
    docs = [_doc("a", "وزير الخارجية يزور جدة"), _doc("b", "وزير الخارجية يزور جدة ومكة")]
    # Two words: a gives them with 1/C(4,2), b with 1/C(5,2); posterior 10/16 and 6/16.
    two = 10 / 16 + 6 / 16 / 2
    three = 10 / 14 + 4 / 14 / 2  # 1/C(4,3) against 1/C(5,3)
    assert _ceiling(docs, [_query("وزير جدة", "a")]) == round(two, 4)
    assert _ceiling(docs, [_query("وزير يزور جدة", "b")]) == round(three, 4)
    assert _ceiling(docs, [_query("وزير جدة", "a"), _query("وزير يزور جدة", "b")]) \
        == round((two + three) / 2, 4)


def test_bare_alef_weighs_by_how_often_the_generator_drops_hamza() -> None:
    # Two items (the folded titles differ by اليوم); "امير" is b's word as written (weight 1)
    # and a's only bared (weight 0.3).
    docs = [_doc("a", "أمير الرياض يفتتح مهرجان"), _doc("b", "امير الرياض يفتتح مهرجان اليوم")]
    p_b = 1 / 1.3
    assert _ceiling(docs, [_query("امير مهرجان", "a")]) == round(p_b + (1 - p_b) / 2, 4)
    # "أمير" is a's alone.
    assert _ceiling(docs, [_query("أمير مهرجان", "a")]) == 1.0


def test_ceiling_is_the_mean_over_queries_and_zero_for_none() -> None:
    docs = [_doc("a", "وزير الخارجية يزور جدة"), _doc("b", "وزير الخارجية يزور جدة اليوم"),
            _doc("c", "أمير الرياض يفتتح مهرجان")]
    queries = [_query("وزير خارجية", "a"), _query("أمير مهرجان", "c")]
    assert _ceiling(docs, queries) == 0.875
    assert _ceiling(docs, []) == 0.0
    assert math.isclose(_ceiling(docs, [_query("كلمة غائبة", "a")]), 0.0)
