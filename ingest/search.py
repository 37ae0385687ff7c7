"""Article search over the ``news`` alias: query building (pure) and result shaping.

Ranking idea: the unstemmed ``*.exact`` fields decide (a name query must rank لبنان above the
milk article that the stemmer reduces to the same لبن), the ``clitic.*`` fields let a name match
when the writer glued a clitic to it (ولبنان, لبوتين), and the stemmed fields add recall for
ordinary words (الحكومات ~ حكومة)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from elasticsearch import Elasticsearch

from newsflow.core.arabic import fold_text
from newsflow.core.sanitize import redact_url
from newsflow.core.settings import Settings

# Control characters cannot occur in cleaned article text, so they delimit highlights without
# colliding with anything an article says; the CLI turns them into styles, --json into <em>.
HL_PRE = "\x02"
HL_POST = "\x03"
FRAGMENT_SIZE = 160
# Bodies are capped at 1M characters; stay under the default index.highlight.max_analyzed_offset.
MAX_ANALYZED_OFFSET = 999_999
# Up to two words: all must match; longer queries may miss a quarter (stop words, typos).
MINIMUM_SHOULD_MATCH = "2<-25%"
EXACT_FIELDS = ["title.exact^4", "body.exact^2", "clitic.title^2", "clitic.body^1"]
STEMMED_FIELDS = ["title^2", "body^1"]
SOURCE_EXCLUDES = ["body", "body_normalized", "clitic"]


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
    return {"match_phrase": {field_name: {"query": text, "slop": 1, "boost": boost,
                                          "_name": "phrase"}}}


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
        body["_source"] = {"excludes": ["body_normalized", "clitic"]}
        return body

    should: list[dict[str, Any]] = [
        {
            # One analyzer for these fields, so cross_fields may find one word in the exact
            # text and the next in the clitic variants ("زيارة لبوتين" for زيارة بوتين).
            "multi_match": {
                "query": text,
                "type": "cross_fields",
                "fields": EXACT_FIELDS,
                "minimum_should_match": MINIMUM_SHOULD_MATCH,
                "_name": "exact",
            }
        },
        {
            "multi_match": {
                "query": text,
                "type": "best_fields",
                "fields": STEMMED_FIELDS,
                "tie_breaker": 0.3,
                "minimum_should_match": MINIMUM_SHOULD_MATCH,
                "_name": "stemmed",
            }
        },
        _phrase("title.exact", text, boost=3),
        _phrase("body.exact", text, boost=2),
    ]
    body["query"] = {"bool": {"should": should, "minimum_should_match": 1, "filter": filters}}
    body["highlight"] = {
        "pre_tags": [HL_PRE],
        "post_tags": [HL_POST],
        "encoder": "default",
        "require_field_match": False,
        "max_analyzed_offset": MAX_ANALYZED_OFFSET,
        "fields": {
            "body.exact": {
                "fragment_size": FRAGMENT_SIZE,
                "number_of_fragments": 2,
                "no_match_size": FRAGMENT_SIZE,
            },
            "body": {"fragment_size": FRAGMENT_SIZE, "number_of_fragments": 2},
        },
    }
    return body


def _top_entities(src: dict[str, Any], n: int = 5) -> list[str]:
    # Most-mentioned first: the flat entity_names list is in order of first mention only.
    counts = Counter(e.get("canonical") for e in src.get("entities") or [] if e.get("canonical"))
    if counts:
        return [name for name, _ in counts.most_common(n)]
    return list(src.get("entity_names") or [])[:n]


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
