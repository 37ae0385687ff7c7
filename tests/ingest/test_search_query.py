"""The search request body and result shaping, without Elasticsearch."""

from __future__ import annotations

from datetime import date
from typing import Any

from ingest.search import HL_POST, HL_PRE, build_query, entity_filter_values, parse_hit


def _filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    return list(body["query"]["bool"]["filter"])


def _segmented(body: dict[str, Any]) -> dict[str, Any]:
    (must,) = body["query"]["bool"]["must"]
    return dict(must["bool"])


def test_text_query_segmented_words_decide_exact_stemmed_phrase_score() -> None:
    body = build_query("  بوتين   لبنان ")
    seg = _segmented(body)
    assert seg["minimum_should_match"] == "2<-1 5<75%"
    seg_terms = [q["match"]["seg.body"]["query"] for c in seg["should"]
                 for q in c["dis_max"]["queries"] if "seg.body" in q["match"]]
    assert seg_terms == ["بوتين", "لبنان"]
    should = body["query"]["bool"]["should"]
    fields = [f for c in should if "multi_match" in c for f in c["multi_match"]["fields"]]
    assert {"title.exact^4", "body.exact^2", "title^2", "body^1"} <= set(fields)
    assert should[0]["multi_match"]["query"] == "بوتين لبنان"
    phrases = [c["match_phrase"] for c in should if "match_phrase" in c]
    assert {"body.exact", "title.exact"} == {next(iter(p)) for p in phrases}
    (span,) = [c["span_near"] for c in should if "span_near" in c]
    assert span["in_order"] is True
    assert span["clauses"] == [{"span_term": {"seg.title": "بوتين"}},
                               {"span_term": {"seg.title": "لبنان"}}]
    assert _filters(body) == []
    assert body["size"] == 10


def test_title_order_span_takes_every_alternative() -> None:
    from newsflow.core.arabic_segment import segment_query

    plural, _ = segment_query("مدارس الرياض")
    assert plural == ("مدارس", "مدرسه")  # the broken plural and its singular
    (span,) = [c["span_near"] for c in build_query("مدارس الرياض")["query"]["bool"]["should"]
               if "span_near" in c]
    assert span["clauses"] == [
        {"span_or": {"clauses": [{"span_term": {"seg.title": t}} for t in plural]}},
        {"span_term": {"seg.title": "الرياض"}},
    ]
    assert "span_near" not in str(build_query("لبنان")["query"])  # one word: no span


def test_query_words_are_segmented_like_documents() -> None:
    from newsflow.core.arabic_segment import segment_text

    seg = _segmented(build_query("بالوزير ولبنان"))
    terms = [c["dis_max"]["queries"][0]["match"]["seg.title"]["query"] for c in seg["should"]]
    assert terms == ["وزير", "لبنان"] == segment_text("بالوزير ولبنان").split()


def test_titles_outrank_bodies_and_stemmed_never_decides() -> None:
    body = build_query("لبنان")
    exact, stemmed = body["query"]["bool"]["should"][:2]
    boost = {f.split("^")[0]: float(f.split("^")[1]) for f in
             exact["multi_match"]["fields"] + stemmed["multi_match"]["fields"]}
    assert boost["title.exact"] > boost["body.exact"] and boost["title"] > boost["body"]
    # The stemmed fields are only in the scoring clauses, never in what must match.
    assert "title" not in str(body["query"]["bool"]["must"]).replace("seg.title", "")


def test_punctuation_only_query_matches_nothing() -> None:
    assert build_query("؟!")["query"]["bool"]["must"] == [{"match_none": {}}]


def test_filters() -> None:
    body = build_query("حرب", topic="conflict", entity="أوكرانيا", source="bbc",
                       since=date(2024, 1, 2), limit=3)
    assert _filters(body) == [
        {"term": {"topic_labels": "conflict"}},
        {"terms": {"entity_names": ["اوكرانيا"]}},
        {"term": {"source": "bbc"}},
        {"range": {"published_at": {"gte": "2024-01-02"}}},
    ]
    assert body["size"] == 3


def test_since_passes_date_math_through() -> None:
    assert _filters(build_query("x", since="now-7d")) == [
        {"range": {"published_at": {"gte": "now-7d"}}}]


def test_entity_filter_folds_like_canonical_names() -> None:
    assert entity_filter_values("القاهرة") == ["القاهره"]
    assert entity_filter_values("بوتين") == ["بوتين"]
    assert entity_filter_values(" مُحَمَّد  مرسي ") == ["محمد مرسي"]
    assert entity_filter_values("  ") == []


def test_empty_query_lists_newest_with_filters() -> None:
    body = build_query("", topic="sports")
    assert body["query"] == {"bool": {"filter": [{"term": {"topic_labels": "sports"}}]}}
    assert body["sort"][0]["published_at"]["order"] == "desc"
    assert "highlight" not in body
    assert build_query("")["query"] == {"match_all": {}}


def test_highlight_for_terminal() -> None:
    hl = build_query("بوتين")["highlight"]
    assert hl["pre_tags"] == [HL_PRE] and hl["post_tags"] == [HL_POST]
    # One highlighted field (the stemmed one doubled the cost); its highlight_query marks the
    # clitic forms the segmented match found.
    assert set(hl["fields"]) == {"body.exact"}
    forms = hl["fields"]["body.exact"]["highlight_query"]["bool"]["should"][1]["terms"]
    assert {"بوتين", "وبوتين", "لبوتين"} <= set(forms["body.exact"])
    assert all(f["fragment_size"] == 160 for f in hl["fields"].values())


def test_parse_hit_prefers_exact_highlight_and_counts_entities() -> None:
    hit = {
        "_id": "a1", "_score": 3.5,
        "_source": {
            "title": "t", "source": "s", "url": "u", "published_at": "2024-01-01T00:00:00Z",
            "topic_labels": ["conflict"],
            "entities": [{"canonical": "لبنان", "text": "لبنان"},
                         {"canonical": "بوتين", "text": "بوتين"},
                         {"canonical": "بوتين", "text": "بوتين"},
                         {"canonical": "جده", "text": "جدة", "display": "جدة"}],
        },
        "highlight": {"body.exact": [f"قال {HL_PRE}بوتين{HL_POST}"], "body": ["x"]},
    }
    out = parse_hit(hit)
    assert out.entities == ["بوتين", "لبنان", "جدة"]
    assert out.snippets == [f"قال {HL_PRE}بوتين{HL_POST}"]
    assert out.topics == ["conflict"] and out.score == 3.5


def test_parse_hit_falls_back_to_stemmed_highlight() -> None:
    hit = {"_id": "a", "_source": {}, "highlight": {"body.exact": ["opening"],
                                                    "body": [f"{HL_PRE}x{HL_POST}"]}}
    assert parse_hit(hit).snippets == [f"{HL_PRE}x{HL_POST}"]
    assert parse_hit({"_id": "a", "_source": {}, "highlight": {"body.exact": ["opening"]}}
                     ).snippets == ["opening"]


def test_terminal_highlight_keeps_spacing_and_styles_matches() -> None:
    from newsflow.cli.commands.search_cmd import highlighted

    text = highlighted(f"قال {HL_PRE}بوتين{HL_POST} إن\nلبنان")
    assert text.plain == "  قال بوتين إن لبنان"
    styled = [text.plain[s.start:s.end] for s in text.spans if s.style]
    assert styled == ["بوتين"]
