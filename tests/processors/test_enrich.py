"""The functional core end to end: a raw article in, an enriched article out (no Kafka)."""

from __future__ import annotations

import orjson
import pytest

from ingest.es_setup import load_template
from newsflow.core.contract import RawArticle
from newsflow.core.identity import article_id
from newsflow.runner import SAMPLES
from processors.enrich import EmptyArticle, Enricher
from processors.language import detect_language


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher()


def _seed() -> RawArticle:
    first = SAMPLES.read_text(encoding="utf-8").splitlines()[0]
    return RawArticle.model_validate(orjson.loads(first))


def test_seed_article(enricher: Enricher) -> None:
    art = enricher.enrich(_seed())
    assert art.id == article_id("https://example.org/news/kim-putin-birthday")
    assert art.language == "ar" and art.title == "كيم جونغ أون يهنئ بوتين بعيد ميلاده"
    for e in art.entities:
        assert art.body[e.start : e.end] == e.text
    found = {(e.type, e.text) for e in art.entities}
    expected = {
        ("PERS", "كيم جونغ أون"), ("PERS", "فلاديمير بوتين"), ("PERS", "بوتين"), ("PERS", "كيم"),
        ("LOC", "روسيا"), ("LOC", "أوكرانيا"), ("LOC", "موسكو"), ("LOC", "بيونغ يانغ"),
        ("ORG", "وكالة الأنباء الكورية الشمالية"), ("ORG", "KCNA"),
    }  # fmt: skip
    assert expected <= found, expected - found
    labels = {t.label for t in art.topics}
    assert {"politics", "conflict"} <= labels
    assert art.cluster_id == art.id
    assert set(art.processing.stages) == {"clean", "language", "entities", "topics", "dedup"}


def test_every_stage_timing_is_mapped_in_the_index_template(enricher: Enricher) -> None:
    # Mapped up front, a new index takes its first article without a dynamic mapping update.
    stages = enricher.enrich(_seed()).processing.stages
    mapped = load_template()["template"]["mappings"]["properties"]["processing"]["properties"]
    fields = mapped["stages"]["properties"]
    assert set(stages) <= set(fields), set(stages) - set(fields)
    assert {f["type"] for f in fields.values()} == {"float"}


def test_html_article_is_extracted(enricher: Enricher) -> None:
    html = (
        "<html><body><nav>الرئيسية</nav><article><h1>زيارة</h1>"
        + "<p>وصل الرئيس الروسي فلاديمير بوتين إلى القاهرة في زيارة رسمية تستمر يومين.</p>" * 2
        + "</article><script>track()</script></body></html>"
    )
    art = enricher.enrich(RawArticle(url="https://e.org/html", html=html))
    assert "القاهرة" in art.body and "track" not in art.body
    assert ("LOC", "القاهرة") in {(e.type, e.text) for e in art.entities}


def test_empty_article_is_an_error(enricher: Enricher) -> None:
    with pytest.raises(EmptyArticle):
        enricher.enrich(RawArticle(url="https://e.org/empty", html="<html><body></body></html>"))


def test_resent_article_keeps_its_cluster(enricher: Enricher) -> None:
    body = " ".join(["تواصل الحكومة خطتها لتطوير شبكة الطرق في المناطق الشمالية"] * 5)
    a = enricher.enrich(RawArticle(url="https://e.org/wire-1", body=body))
    b = enricher.enrich(RawArticle(url="https://e.org/wire-2", body=body + " اليوم"))
    again = enricher.enrich(RawArticle(url="https://e.org/wire-2?utm_source=x", body="نص مختلف"))
    assert b.cluster_id == a.id and again.cluster_id == a.id


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("أعلنت الحكومة اليوم عن خطة جديدة للنقل العام", "ar"),
        ("این یک متن فارسی است که درباره اقتصاد ایران نوشته شده", "fa"),
        # Arabic with a Persian-style ya in one name, and with a Latin title: still Arabic
        ("التقى الوزير اليوم نظيره في طهران لبحث العلاقات مع مسؤول يدعى علی رضا", "ar"),
        ("عرض فيلم The Godfather للمخرج فرانسيس كوبولا في مهرجان السينما", "ar"),
        ("The government announced a new public transport plan today", "en"),
        ("Le gouvernement a annoncé aujourd'hui un nouveau plan de transport", "fr"),
        ("   ", None),
    ],
)
def test_detect_language(text: str, lang: str | None) -> None:
    assert detect_language(text) == lang


def test_detect_language_reads_every_line() -> None:
    # fastText classifies one line: the text is joined, not cut at its first newline (or refused).
    assert detect_language("Le\ngouvernement a annoncé aujourd'hui\nun nouveau plan") == "fr"


def test_the_language_model_is_loaded_by_the_enricher() -> None:
    from processors.language import language_model

    language_model.cache_clear()
    Enricher()
    # Arabic text never reaches the classifier: without this load at start, the first
    # non-Arabic article would hold up its worker's partitions while the model loads.
    assert language_model.cache_info().currsize == 1
