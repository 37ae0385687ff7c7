"""The index template and the document it receives: they must agree (the mapping is strict),
and the template may only use analysis components every Elasticsearch 8.x has."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.es_doc import to_es_doc
from ingest.es_setup import load_template, template_for
from newsflow.core.arabic import fold_text, without_proclitics
from newsflow.core.arabic_segment import segment_folded, segment_text
from newsflow.core.contract import EnrichedArticle, Entity, Processing, TopicTag
from newsflow.core.settings import Settings

# Built-in names of stock Elasticsearch 8.x (server + analysis-common module).
STOCK_FILTERS = {"lowercase", "decimal_digit", "arabic_normalization", "arabic_stem"}
STOCK_TOKENIZERS = {"standard", "whitespace"}


def full_article() -> EnrichedArticle:
    return EnrichedArticle(
        id="a1", url="https://example.com/a1", source="aljazeera", title="وبوتين في لبنان",
        body="قال الرئيس لبوتين إن أوكرانيا", body_normalized="قال الرئيس لبوتين ان اوكرانيا",
        language="ar", published_at=datetime(2024, 5, 1, tzinfo=UTC),
        ingested_at=datetime(2024, 5, 1, 1, tzinfo=UTC),
        entities=[
            Entity(type="PERS", text="لبوتين", canonical="بوتين", start=11, end=17,
                   confidence=0.9),
            Entity(type="LOC", text="أوكرانيا", canonical="اوكرانيا", start=21, end=29,
                   confidence=0.8, evidence="pattern"),
            Entity(type="ORG", text="الناتو", canonical="الناتو", start=0, end=1, confidence=1),
            Entity(type="MISC", text="الروسية", canonical="روسي", start=0, end=1, confidence=1),
            Entity(type="PERS", text="بوتين", canonical="بوتين", start=0, end=1, confidence=1),
        ],
        topics=[TopicTag(label="conflict", score=3.0, evidence=["حرب"])],
        cluster_id="c1",
        processing=Processing(version="0.1.0", stages={"clean": 1.0, "enrich": 2.5}),
    )


def _mapped_paths(props: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, spec in props.items():
        path = f"{prefix}{name}"
        out[path] = spec
        out.update(_mapped_paths(spec.get("properties", {}), f"{path}."))
    return out


def _doc_paths(doc: dict[str, Any], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in doc.items():
        path = f"{prefix}{key}"
        out.add(path)
        items = value if isinstance(value, list) else [value]
        for v in items:
            if isinstance(v, dict):
                out |= _doc_paths(v, f"{path}.")
    return out


def test_every_document_field_is_mapped() -> None:
    mappings = load_template()["template"]["mappings"]
    assert mappings["dynamic"] == "strict"
    mapped = _mapped_paths(mappings["properties"])
    doc_paths = _doc_paths(to_es_doc(full_article()))
    dynamic_ok = {p for p in doc_paths if p.startswith("processing.stages.")}
    assert doc_paths - dynamic_ok - set(mapped) == set()


def test_every_contract_field_is_mapped() -> None:
    # A field added to EnrichedArticle must be added to the template in the same change.
    mapped = set(load_template()["template"]["mappings"]["properties"])
    assert set(EnrichedArticle.model_fields) <= mapped


def test_template_uses_stock_components_only() -> None:
    analysis = load_template()["template"]["settings"]["index"]["analysis"]
    custom_filters = set(analysis.get("filter", {}))
    for filt in analysis["filter"].values():
        assert filt["type"] in {"stop", "stemmer", "pattern_capture"}
    for cf in analysis["char_filter"].values():
        assert cf["type"] == "mapping"
    for name, analyzer in analysis["analyzer"].items():
        assert analyzer["tokenizer"] in STOCK_TOKENIZERS, name
        assert set(analyzer["filter"]) <= STOCK_FILTERS | custom_filters, name
        assert analyzer["char_filter"][0] == "ar_fold", name
        assert set(analyzer["char_filter"]) <= set(analysis["char_filter"]), name
    # Only Kibana's search analyzer bares hamza seats: the Python seg terms already do.
    assert analysis["analyzer"]["ar_seg_guess"]["char_filter"] == ["ar_fold", "ar_hamza_seats"]
    assert "arabic_stem" not in analysis["analyzer"]["ar_exact"]["filter"]


def test_template_is_aimed_at_the_configured_alias() -> None:
    tpl = template_for(Settings(es_alias="t123-news"))
    assert tpl["index_patterns"] == ["t123-news-*"]
    assert tpl["_meta"]["checksum"] == template_for(Settings(es_alias="t123-news"))["_meta"][
        "checksum"]
    assert template_for(Settings())["index_patterns"] == ["news-*"]


def test_derived_arrays() -> None:
    doc = to_es_doc(full_article())
    assert doc["entity_names"] == ["بوتين", "اوكرانيا", "الناتو", "روسي"]
    assert doc["persons"] == ["بوتين"]
    assert doc["locations"] == ["اوكرانيا"]
    assert doc["organizations"] == ["الناتو"]
    assert doc["misc"] == ["روسي"]
    assert doc["topic_labels"] == ["conflict"]
    assert doc["published_at"].startswith("2024-05-01T00:00:00")
    assert EnrichedArticle.model_validate(
        {k: v for k, v in doc.items() if k in EnrichedArticle.model_fields}) == full_article()


@pytest.mark.parametrize(
    ("word", "variants"),
    [
        ("وبوتين", ["بوتين", "وتين"]),
        ("لبوتين", ["بوتين"]),
        ("ببوتين", ["بوتين"]),
        ("فلبنان", ["لبنان", "بنان"]),
        ("للرئيس", ["لرئيس", "الرئيس"]),
        ("وبالقدس", ["بالقدس", "القدس"]),
        ("بمصر", ["مصر"]),
        ("لبن", []),  # a two-letter remainder is not a name
        ("مصر", []),
        ("القدس", []),
    ],
)
def test_without_proclitics(word: str, variants: list[str]) -> None:
    assert without_proclitics(word) == variants


def test_seg_text_is_the_segmentation_of_every_word() -> None:
    assert segment_text("قال وَبُوتين: مصر ٢٠٢٤ Putin") == "قال بوتين مصر 2024 putin"
    assert segment_text("") == ""
    doc = to_es_doc(full_article())
    # Hamza seats are written bare in the search terms: رئيس -> رءيس.
    assert doc["seg"] == {"title": "بوتين في لبنان", "body": "قال رءيس بوتين ان اوكرانيا"}


def test_seg_body_from_body_normalized_equals_segmenting_the_body() -> None:
    # The indexer segments body_normalized (already folded) instead of folding the body again;
    # an article without it (another producer) is segmented from the body.
    article = full_article()
    assert article.body_normalized == fold_text(article.body)
    assert segment_folded(article.body_normalized) == segment_text(article.body)
    bare = article.model_copy(update={"body_normalized": ""})
    assert to_es_doc(bare)["seg"] == to_es_doc(article)["seg"]


def test_display_arrays_follow_the_folded_ones() -> None:
    doc = to_es_doc(full_article())
    assert doc["entity_display"] == ["بوتين", "أوكرانيا", "الناتو", "روسي"]
    assert doc["locations_display"] == ["أوكرانيا"]
    assert len(doc["persons_display"]) == len(doc["persons"])


def test_default_field_for_kibana_points_at_mapped_text_fields() -> None:
    tpl = load_template()["template"]
    mapped = _mapped_paths(tpl["mappings"]["properties"])
    for spec in tpl["settings"]["index"]["query"]["default_field"]:
        field = spec.split("^")[0]
        parent, _, sub = field.partition(".")
        assert field in mapped or sub in mapped.get(parent, {}).get("fields", {}), field


def test_fold_name() -> None:
    assert fold_text("أوكرانيا") == "اوكرانيا"
    assert fold_text("مُصْطَفَى") == "مصطفي"
    assert fold_text("القاهرة") == "القاهره"
