"""EnrichedArticle -> Elasticsearch document. The contract stays in ``newsflow.core.contract``; this
module only adds fields that exist for search and dashboards and can always be re-derived:

* ``entity_names`` / ``persons`` / ``locations`` / ``organizations`` / ``misc`` / ``topic_labels``:
  flat keyword arrays of folded keys (filters and aggregations), because Kibana's terms
  aggregations (Lens) cannot reach into nested objects and would otherwise mix e.g. person and
  place names when aggregating ``entities.canonical``;
* ``entity_display`` / ``persons_display`` / ...: the same entities in written form (the most
  frequent spelling in the article, with ة and hamza: «وزارة الخارجية», not «وزاره الخارجيه»),
  in the same order, for people to read;
* ``seg.title`` / ``seg.body``: every word's search terms from
  ``newsflow.core.arabic_segment.segment_text`` (proclitics resolved with a word list, names kept
  whole, light suffixes removed), whitespace-analyzed in the index. The query side calls the same
  function, so the morphology is right on any cluster with stock analysis components only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from newsflow.core.arabic_segment import display_form, segment_folded, segment_text
from newsflow.core.contract import EnrichedArticle, Entity

ENTITY_FIELDS = {"PERS": "persons", "LOC": "locations", "ORG": "organizations", "MISC": "misc"}


def _unique(values: Iterable[str]) -> list[str]:
    # dict keeps first-seen order: the most prominent (earliest) names stay first in Discover.
    return list(dict.fromkeys(v for v in values if v))


def entity_display(e: Entity) -> str:
    return e.display or display_form(e.text, e.canonical)


def display_names(entities: Iterable[Entity]) -> dict[str, str]:
    """canonical -> its most frequent written form among the mentions (first seen on ties)."""
    forms: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entities:
        forms[e.canonical][entity_display(e)] += 1
    return {canonical: c.most_common(1)[0][0] for canonical, c in forms.items()}


def to_es_doc(article: EnrichedArticle) -> dict[str, Any]:
    """The document indexed under ``_id = article.id``: the contract as JSON plus derived fields."""
    doc: dict[str, Any] = article.model_dump(mode="json")
    shown = display_names(article.entities)
    doc["entity_names"] = _unique(e.canonical for e in article.entities)
    doc["entity_display"] = [shown[c] for c in doc["entity_names"]]
    for etype, field in ENTITY_FIELDS.items():
        doc[field] = _unique(e.canonical for e in article.entities if e.type == etype)
        doc[f"{field}_display"] = [shown[c] for c in doc[field]]
    doc["topic_labels"] = _unique(t.label for t in article.topics)
    # An article no stage clustered is its own cluster, so counting or collapsing on
    # cluster_id (Kibana's unique count, a collapsed search) never lumps such articles together.
    doc["cluster_id"] = article.cluster_id or article.id
    # body_normalized is fold_text(body) by the contract, so its words are the body's.
    seg_body = (segment_folded(article.body_normalized) if article.body_normalized
                else segment_text(article.body))
    doc["seg"] = {"title": segment_text(article.title), "body": seg_body}
    return doc
