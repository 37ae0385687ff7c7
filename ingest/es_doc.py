"""EnrichedArticle -> Elasticsearch document. The contract stays in ``newsflow.articles``; this
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

import re
from collections.abc import Iterable
from typing import Any

from newsflow.articles import EnrichedArticle

CONJUNCTIONS = frozenset("وف")
PREPOSITIONS = frozenset("بلك")
# Shorter remainders are mostly ordinary words with a clitic-looking first letter (لبن -> بن);
# names of interest are at least three letters once the clitic is gone (مصر).
MIN_STEM = 3

# Harakat, dagger alef and tatweel: removed before tokenizing so that a vowelled word is one token
# here exactly as it is one token for Elasticsearch's standard tokenizer.
_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640, 0x200C, 0x200D], None)
_ARABIC_WORD = re.compile(r"[\u0621-\u064A\u066E-\u06D3\u06FA-\u06FF]+")

ENTITY_FIELDS = {"PERS": "persons", "LOC": "locations", "ORG": "organizations", "MISC": "misc"}


def _strip_preposition(word: str) -> list[str]:
    if len(word) - 1 < MIN_STEM or word[0] not in PREPOSITIONS:
        return []
    out = [word[1:]]
    # ل + ال contracts to لل (للرئيس = ل + الرئيس): restore the article the writer dropped.
    if word.startswith("لل") and len(word) - 2 >= MIN_STEM - 1:
        out.append("ال" + word[2:])
    return out


def clitic_variants(word: str) -> list[str]:
    """Forms of ``word`` without a leading conjunction and/or preposition. Over-generates on
    purpose (بيروت also yields يروت): the variants only ever add recall in a low-boost field."""
    out: list[str] = []
    if word[:1] in CONJUNCTIONS and len(word) - 1 >= MIN_STEM:
        rest = word[1:]
        out.append(rest)
        out.extend(_strip_preposition(rest))
    else:
        out.extend(_strip_preposition(word))
    return out


def clitic_stripped_text(text: str) -> str:
    """The clitic-free variants of every word of ``text``, space-separated, in text order."""
    if not text:
        return ""
    words = _ARABIC_WORD.findall(text.translate(_MARKS))
    return " ".join(v for w in words for v in clitic_variants(w))


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




def fold_name(text: str) -> str:
    """Fold a user-typed entity name the way canonical entity names are folded."""
    # Lazy: camel-tools is slow to import and the CLI's fast commands should not pay for it.
    from processors.clean import normalize_search

    return normalize_search(text)
