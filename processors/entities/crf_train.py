"""Training the CRF backend's model on a CoNLL ``token TAG`` file (ANERcorp's train split).

Deterministic: sentences are read in file order, the rules extractor that computes the
features starts with an empty memory, and L-BFGS has no random start, so the same file and
settings give the same model bytes.

Held-out scoring (``holdout`` > 0) trains first on the leading part of the file and scores the
trailing part with the full extractor, exactly as ``newsflow eval ner`` scores; the shipped
model is then trained on the whole file. That is where c1/c2 and feature choices are tuned:
never on a test split.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from bisect import bisect_right
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pycrfsuite

from processors.entities.crf import CrfEntityExtractor
from processors.entities.crf_features import (
    FEATURE_VERSION,
    Occurrences,
    occurrences,
    token_features,
)
from processors.entities.document import Doc
from processors.entities.rules import EntityExtractor
from processors.eval_ner import Sentence, evaluate_sentences, read_conll, sentence_text

LICENCE = (
    "CC BY-SA 4.0: trained on the ANERcorp train split (CAMeL Lab version; ANERcorp by "
    "Yassine Benajiba, CC BY-SA 4.0); this model is a derived work under the same licence"
)


def word_labels(
    doc: Doc, occ: Occurrences, offsets: Sequence[tuple[int, int]], tags: list[str]
) -> list[str]:
    """Gold label of each model token (a folded word), from the tag of the file token it lies
    in; a file token split into several words (U.S.) continues its entity on the later ones."""
    starts = [a for a, _ in offsets]
    out: list[str] = []
    prev_tok = -1
    for i in occ.index:
        body_start = doc.folded.body_index(doc.starts[i])
        tok = bisect_right(starts, body_start) - 1
        tag = tags[tok]
        if tok == prev_tok and tag != "O":
            tag = "I-" + tag.partition("-")[2]
        out.append(tag)
        prev_tok = tok
    return out


ModelSequence = tuple[list[list[str]], list[str]]  # (features, labels) of one model sequence


def sentence_sequences(sentences: Sequence[Sentence]) -> list[list[ModelSequence]]:
    """The model sequences of each file sentence (a sentence may hold several, split at . !
    ?), the features from a fresh rules extractor run over the sentences in order (its memory
    carries over, as over a stream; it reads the text only, never the tags)."""
    rules = EntityExtractor()
    out: list[list[ModelSequence]] = []
    for sent in sentences:
        text, offsets = sentence_text([t for t, _ in sent])
        doc, cands, chosen = rules.analyse(text)
        occ = occurrences(doc, chosen, cands)
        if not occ.index:
            out.append([])
            continue
        labels = word_labels(doc, occ, offsets, [t for _, t in sent])
        first = 0
        seqs: list[ModelSequence] = []
        for xseq, end in zip(token_features(occ), occ.sentence_ends, strict=True):
            seqs.append((xseq, labels[first:end]))
            first = end
        out.append(seqs)
    return out


def sequences(sentences: Sequence[Sentence]) -> list[ModelSequence]:
    """(features, labels) of every model sequence of ``sentences``, in order."""
    return [seq for seqs in sentence_sequences(sentences) for seq in seqs]


def fit(
    data: list[ModelSequence],
    path: Path,
    c1: float,
    c2: float,
    max_iterations: int,
    min_freq: int,
    possible_states: int = 0,
) -> None:
    trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
    for xseq, yseq in data:
        trainer.append(xseq, yseq)
    trainer.set_params(
        {
            "c1": c1,
            "c2": c2,
            "max_iterations": max_iterations,
            "feature.minfreq": min_freq,
            # 1: weights for every (attribute, label) pair, not only those seen together
            "feature.possible_states": bool(possible_states),
            "feature.possible_transitions": True,
        }
    )
    trainer.train(str(path))


def holdout_score(
    sentences: Sequence[Sentence], holdout: float, params: dict[str, Any]
) -> dict[str, Any]:
    """Train on the leading part, score the trailing ``holdout`` fraction (whole sentences)."""
    cut = int(len(sentences) * (1 - holdout))
    with tempfile.TemporaryDirectory() as tmp:
        model_path = Path(tmp) / "holdout.crfsuite"
        fit(sequences(sentences[:cut]), model_path, **params)
        model = model_path.read_bytes()
    meta = {"feature_version": FEATURE_VERSION}
    crf = CrfEntityExtractor(model, meta)
    model_only = CrfEntityExtractor(model, meta, keep_listed=False)
    return {
        "sentences": len(sentences) - cut,
        "crf": _summary(evaluate_sentences(sentences[cut:], crf)),
        "crf_without_listed_names": _summary(evaluate_sentences(sentences[cut:], model_only)),
        "rules": _summary(evaluate_sentences(sentences[cut:], EntityExtractor())),
    }


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "micro_f1": round(result["micro"]["f1"], 4),
        "per_type_f1": {k: round(v["f1"], 4) for k, v in result["per_type"].items()},
    }


def training_params(
    c1: float, c2: float, max_iterations: int, min_freq: int, possible_states: int
) -> dict[str, Any]:
    """The trainer settings under the names the metadata and the CV grid use."""
    return {"c1": c1, "c2": c2, "max_iterations": max_iterations, "min_freq": min_freq,
            "possible_states": possible_states}


def train(
    train_path: Path,
    out: Path,
    c1: float = 0.05,
    c2: float = 0.05,
    max_iterations: int = 150,
    min_freq: int = 2,
    possible_states: int = 0,
    holdout: float = 0.0,
    keep_listed: bool = True,
    cv: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on all of ``train_path`` into ``out`` and write ``out`` with a ``.json``
    metadata file beside it; returns the metadata. ``keep_listed`` is stored for the extractor
    to read; ``cv`` (the cross-validation that chose the settings) is stored as it is."""
    started = time.perf_counter()
    sentences = read_conll(train_path)
    params = training_params(c1, c2, max_iterations, min_freq, possible_states)
    held = holdout_score(sentences, holdout, params) if holdout > 0 else None
    out.parent.mkdir(parents=True, exist_ok=True)
    fit(sequences(sentences), out, **params)
    info = pycrfsuite.Tagger()
    info.open(str(out))
    metadata: dict[str, Any] = {
        "model": out.name,
        "licence": LICENCE,
        "trained_on": train_path.name,
        "train_sha256": hashlib.sha256(train_path.read_bytes()).hexdigest(),
        "sentences": len(sentences),
        "tokens": sum(len(s) for s in sentences),
        "feature_version": FEATURE_VERSION,
        "params": {**params, "keep_listed": keep_listed},
        "labels": sorted(info.labels()),
        "model_bytes": out.stat().st_size,
        "holdout": {"fraction": holdout, **held} if held else None,
        "cv": cv,
    }
    meta_path = out.with_suffix(".json")
    meta_path.write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", "utf-8")
    # the time is reported, not stored: the same file and settings give the same two files
    return {**metadata, "seconds": round(time.perf_counter() - started, 1)}
