"""Backend ``crf``: a linear-chain CRF (CRFsuite) that reads the rules backend's analysis.

The rules extractor runs first (folding, gazetteer automaton, patterns, memory); the CRF then
labels every word from features of that analysis (see ``crf_features``) and its spans become
the entities. A span the rules also chose keeps the rules' canonical form, confidence and
evidence; a span only the model found has evidence ``model``. Offsets, display text and
canonical forms are made by the same code as the rules backend's, so the output contract is
the same.

The bundled model (``processors/data/ner_crf/``) was trained on the ANERcorp train split
(CAMeL Lab version), which is licensed CC BY-SA 4.0; the model file is a derived work under
the same licence, as its metadata file says.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

from newsflow.core.contract import Entity
from processors.entities.crf_features import FEATURE_VERSION, occurrences
from processors.entities.crf_scorer import CrfScorer, load_weights
from processors.entities.document import Cand, Doc
from processors.entities.rules import EntityExtractor, to_entity

MODEL_RESOURCE = ("data", "ner_crf", "anercorp-train.crfsuite")
METADATA_RESOURCE = ("data", "ner_crf", "anercorp-train.json")
MODEL_CONFIDENCE = 0.7  # a span only the model found (the rules' own spans keep theirs)
LISTED_CONFIDENCE = 0.95  # the gazetteer's confidence in a hand-written multi-word name


class CrfModelMissing(RuntimeError):
    """The CRF model file is absent or was trained with other features."""


def bundled_model() -> tuple[bytes, dict[str, Any]]:
    """The packaged model's bytes and metadata."""
    base = files("processors")
    model = base.joinpath(*MODEL_RESOURCE)
    meta = base.joinpath(*METADATA_RESOURCE)
    if not model.is_file():
        raise CrfModelMissing(
            "the bundled CRF model is missing: train one with `newsflow train ner --train FILE`"
        )
    metadata: dict[str, Any] = json.loads(meta.read_text("utf-8")) if meta.is_file() else {}
    return model.read_bytes(), metadata


def bio_token_spans(labels: list[str]) -> list[tuple[str, int, int]]:
    """(type, first, exclusive end) from BIO labels; an I- that does not continue its type
    opens a new span (conlleval's reading)."""
    spans: list[tuple[str, int, int]] = []
    etype: str | None = None
    start = 0
    for k, label in enumerate([*labels, "O"]):
        prefix, _, ltype = label.partition("-")
        if etype is not None and (prefix != "I" or ltype != etype):
            spans.append((etype, start, k))
            etype = None
        if prefix in ("B", "I") and etype is None:
            etype, start = ltype, k
    return spans


class CrfEntityExtractor:
    """Same interface and output as the rules extractor; thread-safe as it is (the scorer's
    caches only ever gain entries that any thread would compute alike)."""

    backend = "crf"

    def __init__(
        self,
        model: bytes | None = None,
        metadata: dict[str, Any] | None = None,
        rules: EntityExtractor | None = None,
        keep_listed: bool | None = None,
    ) -> None:
        if model is None:
            model, metadata = bundled_model()
        self.metadata = metadata or {}
        version = self.metadata.get("feature_version", FEATURE_VERSION)
        if version != FEATURE_VERSION:
            raise CrfModelMissing(
                f"the CRF model was trained with feature version {version}, this code computes "
                f"version {FEATURE_VERSION}: retrain it with `newsflow train ner`"
            )
        self.scorer = CrfScorer(load_weights(model))
        self.rules = rules if rules is not None else EntityExtractor()
        if keep_listed is None:  # the model's metadata says which scored better when trained
            keep_listed = bool(self.metadata.get("params", {}).get("keep_listed", True))
        self.keep_listed = keep_listed

    def extract(self, text: str) -> list[Entity]:
        if not text:
            return []
        doc, spans, listed = self.analyse(text)
        if self.keep_listed and listed:
            spans = sorted([*spans, *listed], key=lambda c: c.start)
        return [to_entity(doc, c) for c in spans]

    def analyse(self, text: str) -> tuple[Doc, list[Cand], list[Cand]]:
        """The document, the model's spans, and the listed multi-word names the model left
        out (kept when ``keep_listed``); updates the rules' memory."""
        doc, cands, chosen = self.rules.analyse(text)
        occ = occurrences(doc, chosen, cands)
        if not occ.index:
            return doc, [], []
        labels = self.scorer.decode(self.scorer.emissions(occ), occ.sentence_ends)
        by_span = {(c.start, c.end, c.etype): c for c in chosen}
        spans: list[Cand] = []
        taken = [False] * len(doc.words)
        for etype, k0, k1 in bio_token_spans(labels):
            start, end = occ.index[k0], occ.index[k1 - 1] + 1
            cand = by_span.get((start, end, etype))
            if cand is None:
                cand = Cand(start, end, etype, None, MODEL_CONFIDENCE, "model", 0)
            spans.append(cand)
            taken[start:end] = [True] * (end - start)
        return doc, spans, self._listed_left_out(chosen, taken)

    @staticmethod
    def _listed_left_out(chosen: list[Cand], taken: list[bool]) -> list[Cand]:
        """Multi-word names from the hand-written lists that the model labelled O throughout
        (وكالة الأنباء الكورية الشمالية): a listed full name is surer than the model's O."""
        return [
            c
            for c in chosen
            if c.evidence == "gazetteer"
            and c.end - c.start > 1
            and c.confidence >= LISTED_CONFIDENCE
            and not any(taken[c.start : c.end])
        ]
