"""The two query sets of ``newsflow eval search``.

* Known items: from SaudiNewsNet titles, 2–3 title words typed the way a reader would — without
  the article or a glued بال/وال/لل (a place whose name carries the article, الرياض, keeps it:
  that is how people write it), hamza on alef sometimes dropped. The target is the article the
  title came from; wire copies (same title, or the same near-duplicate cluster when the corpus
  was enriched) are equally right. Titles that share the typed words tie, so the set also has a
  ceiling: the MRR@10 that a ranker knowing this generator would expect (``KnownItemPool.ceiling``).
* Judgments: a hand-labelled collection (``tests/data/search_judgments.jsonl``): documents, and
  queries that list their relevant and explicitly not-relevant documents.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import combinations
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
HAMZA_DROP = 0.3  # share of known-item queries typed with bare alef
QUERY_LENGTHS = (2, 3)  # title words a reader types, equally likely


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


@dataclass(frozen=True)
class KnownItemPool:
    """What the known-item generator draws from: each eligible title's content words, and
    which articles answer for the same item (wire copies). Built once per corpus; it samples
    the queries and says what any ranker can expect on them."""

    words: dict[str, list[str]]  # candidate id -> content words in title order
    keys: dict[str, list[str]]  # every titled id -> its title key (and cluster key)
    same: dict[str, set[str]]  # key -> ids

    @classmethod
    def from_docs(cls, docs: Iterable[EnrichedArticle]) -> KnownItemPool:
        same: dict[str, set[str]] = defaultdict(set)
        keys: dict[str, list[str]] = {}
        words: dict[str, list[str]] = {}
        for doc in docs:
            title = fold_text(doc.title)
            if not title:
                continue
            # Wire copies (same title, or one near-duplicate cluster) are the same known item.
            keys[doc.id] = [f"t:{title}"] + ([f"c:{doc.cluster_id}"] if doc.cluster_id else [])
            for key in keys[doc.id]:
                same[key].add(doc.id)
            content = _content_words(doc.title)
            if len(content) >= 3:
                words[doc.id] = content
        return cls(words, keys, same)

    def sample(self, n: int = 300, seed: int = 7) -> list[EvalQuery]:
        """``n`` known-item queries from titles with at least three content words."""
        candidates = list(self.words.items())
        rng = random.Random(seed)
        rng.shuffle(candidates)
        out: list[EvalQuery] = []
        for doc_id, words in candidates[:n]:
            relevant = frozenset(i for key in self.keys[doc_id] for i in self.same[key])
            k = rng.choice(QUERY_LENGTHS)
            picked = [words[i] for i in sorted(rng.sample(range(len(words)), k))]
            if rng.random() < HAMZA_DROP:
                picked = [w.translate(HAMZA_ALEF) for w in picked]
            out.append(EvalQuery(" ".join(picked), relevant, tags=("known-item",),
                                 target=doc_id))
        return out

    def ceiling(self, queries: list[EvalQuery]) -> float:
        """The highest MRR@10 any ranker can expect on ``queries``.

        Titles that hold the same query words tie, and nothing in the query tells them apart,
        so part of every known-item score is chance. This ranks for each query the items by
        their posterior of being its source under :meth:`sample` itself (uniform target,
        uniform choice of words, the hamza drop) — a ranker that knows the generator — and
        returns its expected MRR@10. Wire copies merge into one item (a relaxation: it can
        only raise the bound), so no ranker, ours or stock, can expect more on these queries."""
        item = _items(self)
        by_word: dict[str, set[str]] = defaultdict(set)
        for doc_id, words in self.words.items():
            for word in words:
                by_word[word].add(doc_id)
                by_word[word.translate(HAMZA_ALEF)].add(doc_id)
        total = 0.0
        for q in queries:
            typed = q.query.split()
            ids = set.intersection(*(by_word.get(w, set()) for w in typed)) if typed else set()
            posterior: dict[str, float] = defaultdict(float)
            for doc_id in ids:
                posterior[item[doc_id]] += _likelihood(typed, self.words[doc_id])
            mass = sum(posterior.values())
            if mass:
                best = sorted(posterior.values(), reverse=True)[:10]
                total += sum(p / mass / rank for rank, p in enumerate(best, 1))
        return round(total / len(queries), 4) if queries else 0.0


def _items(pool: KnownItemPool) -> dict[str, str]:
    """Article id -> one id per group of wire copies (title or cluster links, transitively)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for ids in pool.same.values():
        first, *rest = ids
        for other in rest:
            parent[root(other)] = root(first)
    return {doc_id: root(doc_id) for doc_id in pool.keys}


def _likelihood(typed: list[str], words: list[str]) -> float:
    """P(the generator types ``typed`` | it drew this title), up to the uniform prior."""
    k = len(typed)
    if k not in QUERY_LENGTHS or k > len(words):
        return 0.0

    def ways(seq: list[str]) -> int:
        return sum(all(seq[j] == w for j, w in zip(idx, typed, strict=True))
                   for idx in combinations(range(len(seq)), k))

    bared = [w.translate(HAMZA_ALEF) for w in words]
    hits = (1 - HAMZA_DROP) * ways(words) + HAMZA_DROP * ways(bared)
    return hits / len(QUERY_LENGTHS) / math.comb(len(words), k)


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
