"""Score the topic tagger against a labelled JSONL file.

Each line is ``{"text": ..., "topics": [labels], "title": optional}``. Texts go through the same
``fold_text`` as the pipeline so the figures describe what production does."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from newsflow.core.arabic import fold_text
from processors.topics import TopicTagger


class EvalFileError(ValueError):
    """The evaluation file is missing or a line is malformed; the message names the line."""


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def read_examples(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalFileError(f"{path}: {exc}") from exc
    out: list[dict[str, Any]] = []
    for no, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalFileError(f"{path}:{no}: not JSON: {exc}") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise EvalFileError(f"{path}:{no}: expected an object with a 'text' string")
        topics = obj.get("topics")
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise EvalFileError(f"{path}:{no}: 'topics' must be a list of label strings")
        out.append(obj)
    return out


def score_predictions(
    pairs: Iterable[tuple[set[str], set[str]]], labels: Iterable[str] = ()
) -> dict[str, Any]:
    """Micro and per-label P/R/F1 from (gold, predicted) label sets."""
    counts: dict[str, list[int]] = {label: [0, 0, 0] for label in labels}  # tp, fp, fn
    n = 0
    exact = 0
    for gold, pred in pairs:
        n += 1
        exact += gold == pred
        for label in gold | pred:
            c = counts.setdefault(label, [0, 0, 0])
            if label in gold and label in pred:
                c[0] += 1
            elif label in pred:
                c[1] += 1
            else:
                c[2] += 1
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    per_label = {
        label: {**_prf(*c), "support": c[0] + c[2], "predicted": c[0] + c[1]}
        for label, c in sorted(counts.items())
    }
    return {
        "articles": n,
        "exact_match": round(exact / n, 4) if n else 0.0,
        "micro": _prf(tp, fp, fn),
        "per_label": per_label,
    }


def evaluate_topics(path: Path | str, tagger: TopicTagger) -> dict[str, Any]:
    examples = read_examples(Path(path))
    pairs = []
    errors: list[dict[str, Any]] = []
    for ex in examples:
        title = fold_text(ex.get("title") or "")
        pred = {t.label for t in tagger.tag(title, fold_text(ex["text"]))}
        gold = set(ex["topics"])
        pairs.append((gold, pred))
        if gold != pred:
            errors.append(
                {"text": ex["text"][:80], "gold": sorted(gold), "predicted": sorted(pred)}
            )
    result = score_predictions(pairs, tagger.labels)
    result["errors"] = errors
    return result
