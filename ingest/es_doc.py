"""EnrichedArticle -> Elasticsearch document. The contract stays in ``newsflow.core.contract``; this
module only adds fields that exist for search and dashboards and can always be re-derived:

* ``entity_names`` / ``persons`` / ``locations`` / ``organizations`` / ``misc`` / ``topic_labels``:
  flat keyword arrays, because Kibana's terms aggregations (Lens) cannot reach into nested objects
  and would otherwise mix e.g. person and place names when aggregating ``entities.canonical``.
* ``clitic.title`` / ``clitic.body``: for every word that starts with a one-letter clitic
  (و ف ب ل ك), the word without it. Stock Elasticsearch has no clitic stripper: ``arabic_stem``
  removes و/ال forms but leaves ب/ل/ك before a bare noun (لبوتين, ببوتين stay), and the
  pattern-based filters that could do it live in a module not every cluster loads. Deriving the
  variants here keeps the index template to standard components while names still match
  whatever clitic the writer attached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from newsflow.core.arabic import fold_text, is_arabic_word, without_proclitics, words
from newsflow.core.contract import EnrichedArticle

ENTITY_FIELDS = {"PERS": "persons", "LOC": "locations", "ORG": "organizations", "MISC": "misc"}


def clitic_stripped_text(text: str) -> str:
    """The clitic-free forms of every Arabic word of ``text``, space-separated, in text order."""
    return " ".join(
        v for w in words(fold_text(text)) if is_arabic_word(w) for v in without_proclitics(w)
    )


def _unique(values: Iterable[str]) -> list[str]:
    # dict keeps first-seen order: the most prominent (earliest) names stay first in Discover.
    return list(dict.fromkeys(v for v in values if v))


def to_es_doc(article: EnrichedArticle) -> dict[str, Any]:
    """The document indexed under ``_id = article.id``: the contract as JSON plus derived fields."""
    doc: dict[str, Any] = article.model_dump(mode="json")
    doc["entity_names"] = _unique(e.canonical for e in article.entities)
    for etype, field in ENTITY_FIELDS.items():
        doc[field] = _unique(e.canonical for e in article.entities if e.type == etype)
    doc["topic_labels"] = _unique(t.label for t in article.topics)
    doc["clitic"] = {
        "title": clitic_stripped_text(article.title),
        "body": clitic_stripped_text(article.body),
    }
    return doc
