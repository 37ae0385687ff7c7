"""Article search over the ``news`` alias: query building (pure) and result shaping.

Ranking idea: every query word must match (one may be missing from a query of three words or
more) in the ``seg.*`` fields, whose terms come from the same Python segmentation as the
documents' (``newsflow.core.arabic_segment``): وزير finds الوزير / ووزير / بالوزير, and لبنان
never matches اللبن. Among those, the unstemmed ``*.exact`` fields lift the exact spelling and
phrases, the stemmed fields the typed word form (they keep a glued ب/ل and strip only the article
and Lucene's suffixes: بارتفاع ranks its own title above one saying ارتفاع), and the query words
in the title in the typed order, a few words apart at most, lift it most. The stemmed fields never
decide on their own whether a document matches (their stemmer maps لبنان to لبن, وزير to زير)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.arabic import ARTICLE, fold_text, with_proclitics
from newsflow.core.arabic_segment import display_form, segment_query
from newsflow.core.sanitize import redact_url
from newsflow.core.settings import Settings

# Control characters cannot occur in cleaned article text, so they delimit highlights without
# colliding with anything an article says; the CLI turns them into styles, --json into <em>.
HL_PRE = "\x02"
HL_POST = "\x03"
FRAGMENT_SIZE = 160
# Bodies are capped at 1M characters; stay under the default index.highlight.max_analyzed_offset.
MAX_ANALYZED_OFFSET = 999_999
# Up to two words: all must match; three to five: one may be missing; longer: three quarters.
MINIMUM_SHOULD_MATCH = "2<-1 5<75%"
SEG_FIELDS = {"seg.title": 5.0, "seg.body": 1.0}
EXACT_FIELDS = ["title.exact^4", "body.exact^2"]
STEMMED_FIELDS = ["title^2", "body^1"]
# Scoring-only clauses, among the documents the segmented words matched: the exact spelling
# and the stemmed word form (the typed clitics and suffix, without the article) lift a
# document; the query words in the title in the order typed, at most TITLE_ORDER_SLOP words
# apart and whatever clitics they carry (an ordered span over the seg.title terms), most.
# The boosts were chosen on known-item samples drawn with seeds 11, 13 and 17 and checked on
# 19, 23, 29 and 31 (`newsflow eval search` reports seed 7, which was not used): the ordered
# title span (+0.007 MRR@10 on average over the slop-3 seg.title phrase it replaced, up on all
# seven samples) and STEMMED_BOOST 2.0 (was 0.2: +0.006, up on six of seven); other settings
# moved MRR@10 by less than +-0.005 and stay round numbers. On seed 7 the two are neutral
# (+0.0003). Most remaining misses are near-duplicate titles (another paper's wording of the
# same story, not labelled relevant) or two common words that many titles hold.
EXACT_BOOST = 0.6
STEMMED_BOOST = 2.0
PHRASE_BOOSTS = {"title.exact": 3.0, "body.exact": 2.0}
TITLE_ORDER_BOOST = 3.0
TITLE_ORDER_SLOP = 5
SOURCE_EXCLUDES = ["body", "body_normalized", "seg"]


class SearchError(RuntimeError):
    """A search could not run; the message says what to do."""


@dataclass
class SearchHit:
    id: str
    score: float | None
    title: str
    source: str | None
    url: str
    published_at: str | None
    topics: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    snippets: list[str] = field(default_factory=list)


@dataclass
class SearchResults:
    query: str
    total: int
    took_ms: int
    hits: list[SearchHit] = field(default_factory=list)
    facets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # see ingest.facets

    def as_dict(self, pre: str = "<em>", post: str = "</em>") -> dict[str, Any]:
        out = asdict(self)
        for hit in out["hits"]:
            hit["snippets"] = [
                s.replace(HL_PRE, pre).replace(HL_POST, post) for s in hit["snippets"]
            ]
        return out


def _since_value(since: str | date | datetime | None) -> str | None:
    if since is None or since == "":
        return None
    if isinstance(since, datetime | date):
        return since.isoformat()
    return since  # ISO date or date math ("now-7d") — Elasticsearch parses both


def entity_filter_values(entity: str) -> list[str]:
    """Canonical names are stored folded by the same ``fold_text`` (alef variants, ى, ة,
    diacritics), so the typed name folded is the value to filter on."""
    folded = fold_text(entity)
    return [folded] if folded else []


def _phrase(field_name: str, text: str, boost: float) -> dict[str, Any]:
    # Slop 1 lets one word sit inside the phrase (a title or a middle name) and still boost.
    return {"match_phrase": {field_name: {"query": text, "slop": 1, "boost": boost}}}


def _word_clause(alternatives: tuple[str, ...]) -> dict[str, Any]:
    """One query word: any of its segmentation alternatives, in the title or the body. The
    terms are already segmented, so they skip the fields' search analyzer (``ar_seg_guess``,
    the clitic guesses for Kibana's query bar, which cannot call Python)."""
    terms = " ".join(alternatives)
    return {
        "dis_max": {
            "queries": [
                {"match": {f: {"query": terms, "boost": boost, "analyzer": "ar_seg"}}}
                for f, boost in SEG_FIELDS.items()
            ],
            "tie_breaker": 0.3,
        }
    }


def _title_in_order(words: list[tuple[str, ...]]) -> dict[str, Any]:
    """Every query word in the title, in the typed order, any of its segmentation alternatives,
    at most TITLE_ORDER_SLOP words in between; closer scores higher. The terms are segmented
    and folded already (what ``ar_seg`` indexes), so they go in as span terms."""
    clauses: list[dict[str, Any]] = []
    for alts in words:
        terms = [{"span_term": {"seg.title": t}} for t in alts]
        clauses.append(terms[0] if len(terms) == 1 else {"span_or": {"clauses": terms}})
    return {"span_near": {"clauses": clauses, "slop": TITLE_ORDER_SLOP, "in_order": True,
                          "boost": TITLE_ORDER_BOOST}}


def text_query(text: str, filters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The ranked part of the search: segmented words decide, exact/phrase/stemmed score.
    No clause is named (``_name``): named queries make Elasticsearch re-run every clause on
    every returned hit to list which matched, about a third of the fetch phase here."""
    words = segment_query(text)
    scoring: list[dict[str, Any]] = [
        {"multi_match": {"query": text, "type": "cross_fields", "fields": EXACT_FIELDS,
                         "boost": EXACT_BOOST}},
        {"multi_match": {"query": text, "type": "best_fields", "fields": STEMMED_FIELDS,
                         "tie_breaker": 0.3, "boost": STEMMED_BOOST}},
    ]
    if len(words) > 1:
        scoring += [_phrase(f, text, boost=b) for f, b in PHRASE_BOOSTS.items()]
        scoring.append(_title_in_order(words))
    if not words:  # nothing searchable (punctuation only): match nothing rather than all
        return {"bool": {"must": [{"match_none": {}}], "filter": filters or []}}
    segmented = {
        "bool": {
            "should": [_word_clause(alts) for alts in words],
            "minimum_should_match": MINIMUM_SHOULD_MATCH,
        }
    }
    return {"bool": {"must": [segmented], "should": scoring, "filter": filters or []}}


def surface_forms(term: str) -> list[str]:
    """Folded written forms of a segmented term with its proclitics and article (وزير ->
    الوزير، ووزير، بالوزير...), so the highlighter can mark what the document actually says."""
    forms = {term} | {form for form, _ in with_proclitics(term)}
    if not term.startswith(ARTICLE):
        forms |= {form for form, _ in with_proclitics(ARTICLE + term)}
    if "ء" in term:  # the terms write hamza seats bare (مسءول): the text has ؤ or ئ
        forms |= {f.replace("ء", seat) for f in forms for seat in "ؤئ"}
    return sorted(forms)


def highlight_query(text: str) -> dict[str, Any]:
    forms = sorted({f for alts in segment_query(text) for t in alts for f in surface_forms(t)})
    should: list[dict[str, Any]] = [{"match": {"body.exact": text}}]
    if forms:
        should.append({"terms": {"body.exact": forms}})
    return {"bool": {"should": should}}


def build_query(
    query: str,
    topic: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    since: str | date | datetime | None = None,
    limit: int = 10,
) -> dict[str, Any]:
    """The ``_search`` body. An empty ``query`` lists the newest articles matching the filters."""
    filters: list[dict[str, Any]] = []
    if topic:
        filters.append({"term": {"topic_labels": topic}})
    if entity:
        filters.append({"terms": {"entity_names": entity_filter_values(entity)}})
    if source:
        filters.append({"term": {"source": source}})
    since_value = _since_value(since)
    if since_value:
        filters.append({"range": {"published_at": {"gte": since_value}}})

    text = " ".join(query.split())
    body: dict[str, Any] = {
        "size": max(0, limit),
        "track_total_hits": True,
        "_source": {"excludes": SOURCE_EXCLUDES},
    }
    if not text:
        body["query"] = {"bool": {"filter": filters}} if filters else {"match_all": {}}
        body["sort"] = [{"published_at": {"order": "desc", "unmapped_type": "date"}}]
        body["_source"] = {"excludes": ["body_normalized", "seg"]}
        return body

    body["query"] = text_query(text, filters)
    body["highlight"] = {
        "pre_tags": [HL_PRE],
        "post_tags": [HL_POST],
        "encoder": "default",
        "require_field_match": False,
        "max_analyzed_offset": MAX_ANALYZED_OFFSET,
        "fields": {
            "body.exact": {
                "highlight_query": highlight_query(text),
                "fragment_size": FRAGMENT_SIZE,
                "number_of_fragments": 2,
                "no_match_size": FRAGMENT_SIZE,
            },
        },
    }
    return body


def _top_entities(src: dict[str, Any], n: int = 5) -> list[str]:
    """Most-mentioned first (entity_names is in order of first mention only), each in its most
    frequent written form; the folded key is only for filters and aggregations."""
    mentions = [e for e in src.get("entities") or [] if e.get("canonical")]
    counts = Counter(e["canonical"] for e in mentions)
    if counts:
        forms: dict[str, Counter[str]] = {}
        for e in mentions:
            shown = e.get("display") or display_form(e.get("text") or "", e["canonical"])
            forms.setdefault(e["canonical"], Counter())[shown] += 1
        return [forms[name].most_common(1)[0][0] for name, _ in counts.most_common(n)]
    return list(src.get("entity_display") or src.get("entity_names") or [])[:n]


def _snippets(hit: dict[str, Any]) -> list[str]:
    hl = hit.get("highlight") or {}
    # Exact-field highlights are whole words as typed; the stemmed field's come next; a doc that
    # matched only through clitic variants gets body.exact's no-match fragment (its opening).
    exact = list(hl.get("body.exact") or [])
    if any(HL_PRE in s for s in exact):
        return exact
    if hl.get("body"):
        return list(hl["body"])
    if exact:
        return exact
    body = (hit.get("_source") or {}).get("body") or ""
    return [body[:FRAGMENT_SIZE]] if body else []


def parse_hit(hit: dict[str, Any]) -> SearchHit:
    src = hit.get("_source") or {}
    return SearchHit(
        id=str(hit.get("_id")),
        score=hit.get("_score"),
        title=src.get("title") or "",
        source=src.get("source"),
        url=src.get("url") or "",
        published_at=src.get("published_at"),
        topics=list(src.get("topic_labels") or []),
        entities=_top_entities(src),
        snippets=_snippets(hit),
    )


def search(
    es: Elasticsearch,
    settings: Settings,
    query: str,
    topic: str | None = None,
    entity: str | None = None,
    source: str | None = None,
    since: str | date | datetime | None = None,
    limit: int = 10,
    facets: bool = False,
) -> SearchResults:
    from elastic_transport import TransportError
    from elasticsearch import ApiError, NotFoundError

    from ingest.facets import facet_aggs, parse_facets

    body = build_query(query, topic=topic, entity=entity, source=source, since=since, limit=limit)
    if facets:
        body["aggs"] = facet_aggs()
    try:
        resp = es.search(index=settings.es_alias, **body)
    except NotFoundError as exc:
        raise SearchError(
            f"index/alias {settings.es_alias!r} not found at {redact_url(settings.es_url)}: "
            "run `newsflow setup`"
        ) from exc
    except ApiError as exc:
        raise SearchError(f"Elasticsearch rejected the search: {exc}") from exc
    except TransportError as exc:
        raise SearchError(
            f"Elasticsearch at {redact_url(settings.es_url)} is unreachable "
            f"({type(exc).__name__}); "
            "is the stack running? (`newsflow stack up`)"
        ) from exc
    data = resp.body
    hits = data.get("hits", {})
    total = hits.get("total", {})
    return SearchResults(
        query=query,
        total=int(total.get("value", 0)) if isinstance(total, dict) else int(total or 0),
        took_ms=int(data.get("took", 0)),
        hits=[parse_hit(h) for h in hits.get("hits", [])],
        facets=parse_facets(data.get("aggregations")) if facets else {},
    )
