"""The search segmentation (index and query side alike), with the packaged word list."""

from __future__ import annotations

import pytest

from newsflow.core.arabic import fold_text
from newsflow.core.arabic_segment import (
    display_form,
    lexicon,
    parse_lexicon,
    segment_query,
    segment_text,
    segment_word,
)


def seg(word: str) -> tuple[str, ...]:
    return segment_word(fold_text(word))


@pytest.mark.parametrize(
    ("word", "terms"),
    [
        # و that belongs to the word stays; the conjunction goes (Lucene: وزير -> زير).
        ("وزير", ("وزير",)), ("الوزير", ("وزير",)), ("ووزير", ("وزير",)),
        ("بالوزير", ("وزير",)), ("للوزير", ("وزير",)), ("والوزير", ("وزير",)),
        ("ولاية", ("ولايه",)), ("الولاية", ("ولايه",)), ("وزارة", ("وزاره",)),
        # Names are never split or stemmed (Lucene: لبنان -> لبن, the word for milk).
        ("لبنان", ("لبنان",)), ("ولبنان", ("لبنان",)), ("بلبنان", ("لبنان",)),
        ("اللبن", ("لبن",)), ("لبن", ("لبن",)), ("إيران", ("ايران",)),
        ("وبوتين", ("بوتين",)), ("لبوتين", ("بوتين",)),
        # A name that carries the article keeps it, whatever clitic comes before.
        ("الرياض", ("الرياض",)), ("بالرياض", ("الرياض",)), ("للرياض", ("الرياض",)),
        # The city جدة is never written with the article: الجدة is the grandmother.
        ("جدة", ("جده",)), ("الجدة", ("الجده",)),
        # وجدة is Oujda in a gazetteer but nearly always "and Jeddah" in the news.
        ("وجدة", ("جده",)),
        # Broken plurals meet their singular (a hand-written list; suffixes alone cannot).
        ("المدارس", ("مدارس", "مدرسه")), ("مدارسها", ("مدارس", "مدرسه")),
        ("الأطفال", ("اطفال", "طفل")), ("الدول", ("دول", "دوله")),
        ("مشاريع", ("مشاريع", "مشروع")), ("الوزراء", ("وزراء", "وزير")),
        # Light suffixes, ة restored from ت / ات; ة itself is never removed.
        ("الحكومات", ("حكومه",)), ("حكومتها", ("حكومه",)), ("حكومته", ("حكومه",)),
        ("الوزيرين", ("وزير",)), ("المدرسين", ("مدرس",)),
        ("مدرسة", ("مدرسه",)), ("مدرس", ("مدرس",)),
        # No suffix removal lands on a name: انسان is not انس.
        ("الإنسان", ("انسان",)),
        # Function words and short remainders stay whole.
        ("الله", ("الله",)), ("التي", ("التي",)),
        # Hamza seats vary in spelling; both spellings give one term.
        ("مسؤول", ("مسءول",)), ("مسئول", ("مسءول",)), ("المسؤولين", ("مسءول",)),
        ("الرئيس", ("رءيس",)), ("بالجزائر", ("الجزاءر",)),
        # Non-Arabic tokens pass through.
        ("iphone", ("iphone",)), ("2024", ("2024",)),
    ],
)
def test_segment_word(word: str, terms: tuple[str, ...]) -> None:
    assert seg(word) == terms


def test_ambiguous_reading_indexes_both() -> None:
    # وقال is و + قال far more often than a word of its own; both terms keep either query working.
    assert "قال" in seg("وقال")


def test_text_and_query_agree() -> None:
    text = "وقال الوزيرُ إن لبنان ـ بالرياض"
    terms = segment_text(text).split()
    assert [t for alts in segment_query(text) for t in alts] == terms
    assert segment_query("وزير الوزير") == [("وزير",), ("وزير",)]


def test_lexicon_is_packaged_and_has_names() -> None:
    lex = lexicon()
    assert len(lex.counts) > 50_000
    assert lex.is_name("لبنان") and not lex.is_name("لبن")
    assert lex.evidence("وزير") > 100 * max(1, lex.evidence("زير"))


def test_parse_lexicon_lines() -> None:
    lex = parse_lexicon(["وزير\t10\t", "لبنان\t5\tN", ""])
    assert lex.counts == {"وزير": 10, "لبنان": 5}
    assert lex.names == frozenset({"لبنان"})


@pytest.mark.parametrize(
    ("surface", "canonical", "shown"),
    [
        ("السعودية", "السعوديه", "السعودية"),
        ("وزارة الخارجية", "وزاره الخارجيه", "وزارة الخارجية"),
        ("وبالقاهرة", "القاهره", "القاهرة"),
        ("جِدَّة", "جده", "جدة"),
        ("بوتين", "فلاديمير بوتين", "فلاديمير بوتين"),  # an alias: the canonical name
    ],
)
def test_display_form(surface: str, canonical: str, shown: str) -> None:
    assert display_form(surface, canonical) == shown


def test_preload_loads_the_word_lists_before_any_word_is_segmented() -> None:
    from newsflow.core import arabic_segment

    arabic_segment.lexicon.cache_clear()
    arabic_segment.broken_plurals.cache_clear()
    arabic_segment.preload()
    assert arabic_segment.lexicon.cache_info().currsize == 1
    assert arabic_segment.broken_plurals.cache_info().currsize == 1
    assert arabic_segment.lexicon().counts  # the packaged list, not an empty one
