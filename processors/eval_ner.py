"""Entity-level evaluation on CoNLL ``token TAG`` files with BIO tags.

Scoring is exact span + type, as seqeval's default (conlleval) mode does: an ``I-X`` after ``O``
or after another type opens a new entity. Implemented here as small pure functions so the
default install needs no extra dependency.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from newsflow.core.contract import Entity

Sentence = list[tuple[str, str]]
Span = tuple[str, int, int]  # (type, first token, exclusive end token)


def read_conll(path: str | Path) -> list[Sentence]:
    """Sentences of (token, tag); blank lines separate sentences; extra columns are ignored
    except the last, which is the tag."""
    sentences: list[Sentence] = []
    current: Sentence = []
    with Path(path).open(encoding="utf-8") as fh:
        for raw in fh:
            parts = raw.split()
            if not parts:
                if current:
                    sentences.append(current)
                    current = []
                continue
            if len(parts) == 1:
                raise ValueError(f"{path}: line without a tag: {raw!r}")
            current.append((parts[0], parts[-1]))
    if current:
        sentences.append(current)
    return sentences


def bio_spans(tags: Sequence[str]) -> set[Span]:
    """Entity spans from BIO tags (conlleval chunking)."""
    spans: set[Span] = set()
    etype: str | None = None
    start = 0
    for i, tag in enumerate([*tags, "O"]):
        prefix, _, ttype = tag.partition("-")
        starts_new = prefix == "B" or (prefix == "I" and ttype != etype) or prefix == "O"
        if etype is not None and starts_new:
            spans.add((etype, start, i))
            etype = None
        if prefix in ("B", "I") and etype is None:
            etype, start = ttype, i
    return spans


def spans_to_bio(
    n_tokens: int, token_offsets: Sequence[tuple[int, int]], ents: Iterable[Entity]
) -> list[str]:
    """Tag tokens from entity character spans: every token the entity overlaps is inside it
    (ANERcorp tags whole tokens, clitics included)."""
    tags = ["O"] * n_tokens
    for ent in sorted(ents, key=lambda e: e.start):
        inside = [
            i
            for i, (a, b) in enumerate(token_offsets)
            if a < ent.end and b > ent.start and tags[i] == "O"
        ]
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + ent.type
    return tags


def sentence_text(tokens: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join tokens with spaces and return each token's character span."""
    offsets: list[tuple[int, int]] = []
    pos = 0
    for tok in tokens:
        offsets.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    return " ".join(tokens), offsets


def _prf(tp: int, n_pred: int, n_gold: int) -> dict[str, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def score(gold: Sequence[set[Span]], pred: Sequence[set[Span]]) -> dict[str, Any]:
    """Micro and per-type precision/recall/F1 over aligned per-sentence span sets."""
    tp: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    for g, p in zip(gold, pred, strict=True):
        for span in g:
            n_gold[span[0]] += 1
        for span in p:
            n_pred[span[0]] += 1
        for span in g & p:
            tp[span[0]] += 1
    per_type: dict[str, dict[str, float]] = {}
    for etype in sorted(set(n_gold) | set(n_pred)):
        prf = _prf(tp[etype], n_pred[etype], n_gold[etype])
        per_type[etype] = {**prf, "support": n_gold[etype]}
    micro = _prf(sum(tp.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"micro": micro, "per_type": per_type}


def evaluate_conll(path: str | Path, backend: str = "rules") -> dict[str, Any]:
    """Run a fresh extractor of ``backend`` over a CoNLL file, sentence by sentence in file
    order (the entity memory carries over, as it does over a stream of articles)."""
    from processors.entities import make_extractor

    sentences = read_conll(path)
    extractor = make_extractor(backend)
    gold: list[set[Span]] = []
    pred: list[set[Span]] = []
    n_tokens = 0
    elapsed = 0.0
    for sent in sentences:
        tokens = [t for t, _ in sent]
        text, offsets = sentence_text(tokens)
        t0 = time.perf_counter()
        ents = extractor.extract(text)
        elapsed += time.perf_counter() - t0
        n_tokens += len(tokens)
        gold.append(bio_spans([tag for _, tag in sent]))
        pred.append(bio_spans(spans_to_bio(len(tokens), offsets, ents)))
    result = score(gold, pred)
    result.update(
        {
            "tokens_per_second": n_tokens / elapsed if elapsed > 0 else 0.0,
            "backend": backend,
            "tokens": n_tokens,
            "sentences": len(sentences),
        }
    )
    return result
