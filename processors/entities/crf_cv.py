"""K-fold cross-validation of the CRF backend's training settings, on a TRAIN split only.

The file's sentences are cut into K contiguous blocks (ANERcorp's sentences run article by
article, so a block holds whole articles and a name seen in training is as new to a held-out
block as it is to unseen text). Features are computed once for the whole file (the rules
extractor reads the text, never the tags), each fold trains on the other K-1 blocks and the
held-out block is scored by the full extractor, exactly as ``newsflow eval ner`` scores it,
with and without the listed names the model left out (``keep_listed``). A setting's figure is
the mean over the folds.

Every result is appended to a JSONL log keyed by the train file's hash, K, the feature
version and the setting, so a search can grow over several runs and the final run (the whole
grid) retrains nothing it has already scored.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from processors.entities.crf import CrfEntityExtractor
from processors.entities.crf_features import FEATURE_VERSION
from processors.entities.crf_train import ModelSequence, fit, sentence_sequences
from processors.entities.rules import EntityExtractor, to_entity
from processors.eval_ner import Sentence, Span, bio_spans, score, sentence_text, spans_to_bio

PARAM_TYPES: dict[str, type] = {
    "c1": float,
    "c2": float,
    "max_iterations": int,
    "min_freq": int,
    "possible_states": int,
}
# left out of a log key at this value, so that rows logged before the parameter existed
# (when it had this value) still match
KEY_DEFAULTS: dict[str, Any] = {"possible_states": 0}


def parse_settings(specs: Sequence[str], base: dict[str, Any]) -> list[dict[str, Any]]:
    """Settings from specs such as ``"c1=0.02,0.05 c2=0.1"`` (every combination of the listed
    values; what a spec leaves out comes from ``base``), in order, without repeats."""
    out: list[dict[str, Any]] = []
    for spec in specs or [""]:
        axes: list[list[tuple[str, Any]]] = []
        for part in spec.replace(";", " ").split():
            name, _, values = part.partition("=")
            kind = PARAM_TYPES.get(name)
            try:
                if kind is None or not values:
                    raise ValueError(part)
                axes.append([(name, kind(v)) for v in values.split(",")])
            except ValueError as exc:
                raise ValueError(
                    f"bad setting {part!r}: write NAME=V1,V2 with NAME one of "
                    + ", ".join(PARAM_TYPES)
                ) from exc
        for combo in itertools.product(*axes):
            setting = {**base, **dict(combo)}
            if setting not in out:
                out.append(setting)
    return out


def fold_bounds(n: int, k: int) -> list[tuple[int, int]]:
    """K contiguous (start, end) blocks covering ``range(n)``."""
    if not 2 <= k <= n:
        raise ValueError(f"cross-validation needs 2 <= K <= {n} sentences, got K={k}")
    cuts = [n * i // k for i in range(k + 1)]
    return list(itertools.pairwise(cuts))


def _log_key(train_sha: str, k: int, setting: dict[str, Any]) -> str:
    named = {n: v for n, v in setting.items() if KEY_DEFAULTS.get(n, object()) != v}
    return json.dumps(
        {"train_sha256": train_sha, "k": k, "feature_version": FEATURE_VERSION, **named},
        sort_keys=True,
    )


def _read_log(log: Path | None) -> dict[str, dict[str, Any]]:
    if log is None or not log.is_file():
        return {}
    rows = [json.loads(line) for line in log.read_text("utf-8").splitlines() if line.strip()]
    return {row["key"]: row for row in rows}


def cross_validate(
    sentences: Sequence[Sentence],
    k: int,
    settings: Sequence[dict[str, Any]],
    train_sha: str,
    log: Path | None = None,
) -> list[dict[str, Any]]:
    """One row per setting (from ``log`` when it was scored before), in ``settings`` order."""
    done = _read_log(log)
    bounds = fold_bounds(len(sentences), k)
    features: list[list[ModelSequence]] | None = None
    rows: list[dict[str, Any]] = []
    for setting in settings:
        key = _log_key(train_sha, k, setting)
        row = done.get(key)
        if row is None:
            features = features if features is not None else sentence_sequences(sentences)
            scores = score_setting(sentences, features, bounds, setting)
            row = {"key": key, "params": setting, **scores}
            if log is not None:
                with log.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            done[key] = row
        rows.append(row)
    return rows


def score_setting(
    sentences: Sequence[Sentence],
    features: list[list[ModelSequence]],
    bounds: list[tuple[int, int]],
    setting: dict[str, Any],
) -> dict[str, Any]:
    """Mean over the folds of the held-out scores, with and without the kept listed names."""
    folds: dict[str, list[dict[str, Any]]] = {"crf": [], "crf_without_listed_names": []}
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "fold.crfsuite"
        for start, end in bounds:
            data = [s for seqs in features[:start] + features[end:] for s in seqs]
            fit(data, model_path, **setting)
            ex = CrfEntityExtractor(model_path.read_bytes(), {"feature_version": FEATURE_VERSION})
            with_listed, without = score_both(sentences[start:end], ex)
            folds["crf"].append(with_listed)
            folds["crf_without_listed_names"].append(without)
    return {name: mean_scores(results) for name, results in folds.items()}


def score_both(
    sentences: Sequence[Sentence], ex: CrfEntityExtractor
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``ex`` scored over ``sentences`` in order with and without the kept listed names, from
    one analysis of each sentence."""
    gold: list[set[Span]] = []
    pred: tuple[list[set[Span]], list[set[Span]]] = ([], [])
    for sent in sentences:
        tokens = [t for t, _ in sent]
        text, offsets = sentence_text(tokens)
        doc, spans, listed = ex.analyse(text)
        gold.append(bio_spans([tag for _, tag in sent]))
        for out, cands in zip(pred, (spans + listed, spans), strict=True):
            ents = [to_entity(doc, c) for c in sorted(cands, key=lambda c: c.start)]
            out.append(bio_spans(spans_to_bio(len(tokens), offsets, ents)))
    return score(gold, pred[0]), score(gold, pred[1])


def mean_scores(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    types = sorted({t for r in results for t in r["per_type"]})
    return {
        "micro_f1": round(fmean(r["micro"]["f1"] for r in results), 4),
        "per_type_f1": {
            t: round(fmean(r["per_type"].get(t, {"f1": 0.0})["f1"] for r in results), 4)
            for t in types
        },
        "fold_micro_f1": [round(r["micro"]["f1"], 4) for r in results],
    }


def rules_baseline(sentences: Sequence[Sentence], k: int) -> dict[str, Any]:
    """The rules backend over the same blocks (each with a fresh memory), for reference."""
    results = []
    for start, end in fold_bounds(len(sentences), k):
        rules = EntityExtractor()
        gold, pred = [], []
        for sent in sentences[start:end]:
            tokens = [t for t, _ in sent]
            text, offsets = sentence_text(tokens)
            gold.append(bio_spans([tag for _, tag in sent]))
            pred.append(bio_spans(spans_to_bio(len(tokens), offsets, rules.extract(text))))
        results.append(score(gold, pred))
    return mean_scores(results)


def best_setting(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, Any], bool, float]:
    """The setting and ``keep_listed`` choice with the highest mean micro F1 (the first on a
    tie, so the order of the grid decides between equals)."""
    candidates = [
        (row[variant]["micro_f1"], -i, row["params"], variant == "crf")
        for i, row in enumerate(rows)
        for variant in ("crf", "crf_without_listed_names")
    ]
    f1, _, params, keep = max(candidates, key=lambda c: (c[0], c[1], c[3]))
    return params, keep, f1


def search(
    train_path: Path,
    k: int,
    settings: Sequence[dict[str, Any]],
    log: Path | None = None,
) -> dict[str, Any]:
    """Cross-validate ``settings`` on ``train_path`` and say which won: the ``cv`` entry of a
    model's metadata."""
    import hashlib

    from processors.eval_ner import read_conll

    sentences = read_conll(train_path)
    sha = hashlib.sha256(train_path.read_bytes()).hexdigest()
    rows = cross_validate(sentences, k, settings, sha, log)
    params, keep, f1 = best_setting(rows)
    return {
        "k": k,
        "folds": "contiguous blocks of sentences, file order",
        "feature_version": FEATURE_VERSION,
        "settings": [{key: row[key] for key in row if key != "key"} for row in rows],
        "earlier_feature_versions": earlier_versions(log, sha, k),
        "rules": rules_baseline(sentences, k),
        "chosen": {**params, "keep_listed": keep, "micro_f1": f1},
    }


def earlier_versions(log: Path | None, train_sha: str, k: int) -> list[dict[str, Any]]:
    """The log's rows for the same file and K under other feature versions (micro F1 only):
    the record of the feature choices."""
    out = []
    for key, row in _read_log(log).items():
        named = json.loads(key)
        if named["train_sha256"] != train_sha or named["k"] != k:
            continue
        if named["feature_version"] == FEATURE_VERSION:
            continue
        out.append(
            {
                "feature_version": named["feature_version"],
                "params": row["params"],
                "crf": row["crf"]["micro_f1"],
                "crf_without_listed_names": row["crf_without_listed_names"]["micro_f1"],
            }
        )
    return out
