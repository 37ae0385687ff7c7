"""The two query sets of ``newsflow eval search``.

* Known items: from SaudiNewsNet titles, 2–3 title words typed the way a reader would — without
  the article or a glued بال/وال/لل (a place whose name carries the article, الرياض, keeps it:
  that is how people write it), hamza on alef sometimes dropped. The target is the article the
  title came from; wire copies (same title, or the same near-duplicate cluster when the corpus
  was enriched) are equally right.
* Judgments: a hand-labelled collection (``tests/data/search_judgments.jsonl``): documents, and
  queries that list their relevant and explicitly not-relevant documents.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from newsflow.core.arabic import fold_text, is_arabic_word, strip_marks
from newsflow.core.arabic_segment import lexicon
from newsflow.core.contract import EnrichedArticle

# Words a reader leaves out of a remembered title (they carry no topic).
_FUNCTION_WORDS_TEXT = """
في من على إلى الى عن مع أن إن ان التي الذي الذين هذا هذه ذلك تلك بعد قبل حول خلال بين عند منذ
ضد دون غير كل بعض أي او أو ثم لا لم لن ما ماذا كيف هل قد كان كانت يكون تكون وفي ومن وعلى وإلى
لدى عبر نحو أمام تحت فوق حتى إلا أمس اليوم غدا أكثر أقل جدا فقط أيضا وقال قال يقول تقول وأن
"""
FUNCTION_WORDS = frozenset(fold_text(w) for w in _FUNCTION_WORDS_TEXT.split())
# Written prefixes a reader does not type, longest first (the article with its clitics).
READER_DROPS = ("وبال", "فبال", "وال", "فال", "بال", "كال", "ولل", "فلل", "لل", "ال")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$")
HAMZA_ALEF = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا"})


@dataclass(frozen=True)
class EvalQuery:
    query: str
    relevant: frozenset[str]
    not_relevant: frozenset[str] = frozenset()
    tags: tuple[str, ...] = ()
    target: str | None = None


@dataclass
class JudgedCollection:
    docs: list[EnrichedArticle] = field(default_factory=list)
    queries: list[EvalQuery] = field(default_factory=list)


def reader_form(word: str) -> str:
    """``word`` as a reader types it: no harakat, no article or article-bearing clitic unless
    the article belongs to a name."""
    written = strip_marks(word)
    folded = fold_text(written)
    lex = lexicon()
    if lex.is_name(folded):
        return written
    for prefix in READER_DROPS:
        rest = folded[len(prefix) :]
        # The written word must start with the clitics (إلكتروني folds to الكتروني: no article).
        if written.startswith(prefix) and folded.startswith(prefix) and len(rest) >= 3:
            if lex.is_name("ال" + rest):
                return "ال" + written[len(written) - len(rest) :]
            return written[len(written) - len(rest) :]
    return written


def _content_words(title: str) -> list[str]:
    out = []
    for word in strip_marks(title).split():
        word = _EDGE_PUNCT.sub("", word)  # «، {} [] quotes...: a reader types the word only
        folded = fold_text(word)
        if " " in folded or not is_arabic_word(folded) or folded in FUNCTION_WORDS:
            continue
        typed = reader_form(word)
        if len(fold_text(typed)) >= 3:
            out.append(typed)
    return out


def known_items(
    docs: Iterable[EnrichedArticle], n: int = 300, seed: int = 7
) -> list[EvalQuery]:
    """``n`` known-item queries from titles with at least three content words."""
    same: dict[str, set[str]] = defaultdict(set)  # title key or near-duplicate cluster -> ids
    keys: dict[str, list[str]] = {}
    candidates: list[tuple[str, list[str]]] = []
    for doc in docs:
        title = fold_text(doc.title)
        if not title:
            continue
        # Wire copies (same title, or one near-duplicate cluster) are the same known item.
        keys[doc.id] = [f"t:{title}"] + ([f"c:{doc.cluster_id}"] if doc.cluster_id else [])
        for key in keys[doc.id]:
            same[key].add(doc.id)
        words = _content_words(doc.title)
        if len(words) >= 3:
            candidates.append((doc.id, words))
    rng = random.Random(seed)
    rng.shuffle(candidates)
    out: list[EvalQuery] = []
    for doc_id, words in candidates[:n]:
        relevant = frozenset(i for key in keys[doc_id] for i in same[key])
        k = rng.choice((2, 3)) if len(words) >= 3 else 2
        picked = [words[i] for i in sorted(rng.sample(range(len(words)), k))]
        if rng.random() < 0.3:
            picked = [w.translate(HAMZA_ALEF) for w in picked]
        out.append(EvalQuery(" ".join(picked), relevant, tags=("known-item",), target=doc_id))
    return out


def load_judgments(path: Path, ingested_at: str = "2024-01-01T00:00:00Z") -> JudgedCollection:
    """Lines ``{"doc": id, "title", "body"}`` and ``{"query", "relevant": [...],
    "not_relevant": [...], "tags": [...]}``; every query's ids must be documents of the file."""
    out = JudgedCollection()
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        rec = orjson.loads(line)
        if "_comment" in rec:
            continue
        if "doc" in rec:
            out.docs.append(EnrichedArticle(
                id=rec["doc"], url=f"judged://{rec['doc']}", source="judged",
                title=rec.get("title", ""), body=rec.get("body", ""), language="ar",
                ingested_at=ingested_at, processing={"version": "judged"}))
        elif "query" in rec:
            out.queries.append(EvalQuery(rec["query"], frozenset(rec.get("relevant", [])),
                                         frozenset(rec.get("not_relevant", [])),
                                         tuple(rec.get("tags", []))))
        else:
            raise ValueError(f"{path}:{n}: neither a doc nor a query")
    ids = {d.id for d in out.docs}
    for q in out.queries:
        unknown = (q.relevant | q.not_relevant) - ids
        if unknown or not q.relevant:
            raise ValueError(f"{path}: query {q.query!r}: no relevant doc or unknown ids "
                             f"{sorted(unknown)}")
    return out
