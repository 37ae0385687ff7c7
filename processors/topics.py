"""Topic labels from a weighted Arabic lexicon (IPTC Media Topics top level).

Dictionary-based on purpose: every tag is explained by the terms that produced it (``evidence``),
users can read and extend the taxonomy, and matching a 2k-character article costs tens of
microseconds. One Aho-Corasick automaton holds every term of every label; each raw hit is then
accepted only if the text around it is a clitic prefix and suffix bounded by word edges, so
``وبالمباراة`` and ``مباراتها`` match ``مباراة`` but ``محاربة`` does not match ``حرب``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import ahocorasick
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsflow.core.arabic import PREFIXES, SUFFIXES, TAA_SUFFIXES, fold_text, strip_marks
from newsflow.core.contract import TopicTag
from newsflow.core.settings import Settings

# Package data, so an installed wheel finds it outside a checkout.
BUNDLED_TAXONOMY: Traversable = resources.files("processors") / "data" / "topics.yaml"
LABEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# --- taxonomy file --------------------------------------------------------------------------


_MAX_PREFIX = max(map(len, PREFIXES))
_MAX_SUFFIX = max(map(len, SUFFIXES))


class TaxonomyError(ValueError):
    """A taxonomy file is missing, unreadable or invalid; the message names the file."""


class ScoringModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_boost: float = Field(1.5, ge=0, description="weight multiplier for a term in the title")
    title_only_boost: float = Field(
        2.0,
        ge=1,
        description="extra multiplier for title terms when there is no body (video and photo "
        "items): the title is then all the evidence there is",
    )
    reference_words: int = Field(
        150, ge=1, description="body length at which no length penalty applies"
    )
    min_relative: float = Field(
        0.3, ge=0, le=1, description="drop labels scoring below this fraction of the best label"
    )
    max_labels: int = Field(4, ge=1)
    max_evidence: int = Field(5, ge=1)
    unit: float = Field(
        4.0,
        gt=0,
        description="raw points per score unit: with the defaults a strong term in the title, or "
        "two typical terms in a short body, reach 1",
    )


class ScoringPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title_boost: float | None = Field(None, ge=0)
    title_only_boost: float | None = Field(None, ge=1)
    reference_words: int | None = Field(None, ge=1)
    min_relative: float | None = Field(None, ge=0, le=1)
    max_labels: int | None = Field(None, ge=1)
    max_evidence: int | None = Field(None, ge=1)
    unit: float | None = Field(None, gt=0)


class LabelModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    iptc: str | None = Field(None, description="IPTC Media Topic code this label follows")
    threshold: float | None = Field(None, ge=0, description="overrides the global threshold")
    terms: dict[float, list[str]] = Field(
        default_factory=dict, description="weight -> terms written in ordinary Arabic spelling"
    )

    @field_validator("terms")
    @classmethod
    def _weights_and_terms(cls, v: dict[float, list[str]]) -> dict[float, list[str]]:
        for weight, terms in v.items():
            if not weight > 0:
                raise ValueError(f"term weight must be > 0, got {weight}")
            for term in terms:
                if not isinstance(term, str) or not fold_text(term):
                    raise ValueError(f"empty or non-text term {term!r} (weight {weight})")
        return v


class TaxonomyFile(BaseModel):
    """Schema of ``topics.yaml`` and of user files that replace or extend it."""

    model_config = ConfigDict(extra="forbid")

    version: int = 1
    scoring: ScoringPatch = Field(default_factory=ScoringPatch)
    neutral: list[str] = Field(
        default_factory=list,
        description="phrases that score nothing but hide the terms inside them "
        "(e.g. 'خادم الحرمين الشريفين' must not count as religion)",
    )
    labels: dict[str, LabelModel] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _label_names(cls, v: dict[str, LabelModel]) -> dict[str, LabelModel]:
        for name in v:
            if not LABEL_RE.match(name):
                raise ValueError(f"label {name!r} must be lower_snake_case ([a-z][a-z0-9_]*)")
        return v


def load_taxonomy_file(path: Path | Traversable) -> TaxonomyFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TaxonomyError(f"{path}: taxonomy file not found") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy: {exc}") from exc
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}: expected a mapping with 'labels:' at the top level")
    try:
        return TaxonomyFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise TaxonomyError(f"{path}: invalid taxonomy: {problems}") from exc


@dataclass(frozen=True)
class LabelSpec:
    name: str
    description: str
    threshold: float | None
    terms: dict[str, float]  # surface term as written -> weight
    iptc: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    labels: dict[str, LabelSpec]
    neutral: tuple[str, ...]
    scoring: ScoringModel


def merge_taxonomies(base: TaxonomyFile, extra: TaxonomyFile | None = None) -> Taxonomy:
    """``extra`` adds labels, adds terms to existing labels (re-stating a term changes its
    weight) and may override description, threshold and scoring values."""
    scoring = ScoringModel()
    labels: dict[str, dict[str, Any]] = {}
    neutral: list[str] = []
    for part in (base, extra):
        if part is None:
            continue
        scoring = scoring.model_copy(update=part.scoring.model_dump(exclude_none=True))
        neutral.extend(part.neutral)
        for name, lab in part.labels.items():
            cur = labels.setdefault(
                name, {"description": "", "threshold": None, "iptc": None, "terms": {}}
            )
            for key in ("description", "threshold", "iptc"):
                val = getattr(lab, key)
                if val is not None:
                    cur[key] = val
            for weight, terms in lab.terms.items():
                for term in terms:
                    cur["terms"][term] = float(weight)
    specs: dict[str, LabelSpec] = {}
    for name, cur in labels.items():
        if not cur["terms"]:
            raise TaxonomyError(f"label {name!r} has no terms")
        specs[name] = LabelSpec(
            name, cur["description"], cur["threshold"], cur["terms"], cur["iptc"]
        )
    if not specs:
        raise TaxonomyError("taxonomy defines no labels")
    return Taxonomy(specs, tuple(dict.fromkeys(neutral)), scoring)


# --- matching -------------------------------------------------------------------------------


def _match_key(term: str) -> str:
    """Normalized form the automaton stores. A leading article is removed because the prefix
    check re-admits it together with و/ب/ل/لل; it is kept when too little would remain
    (الله would otherwise become the preposition له)."""
    key = fold_text(term)
    if key.startswith("ال") and len(key.split(" ", 1)[0]) >= 5:
        key = key[2:]
    return key


def _display(term: str) -> str:
    """Evidence shows the term as the taxonomy spells it, without marks or extra spaces."""
    return " ".join(strip_marks(term).split())


@dataclass
class _Entry:
    # (label index, weight, canonical term) for every label listing this key; empty = neutral.
    targets: list[tuple[int, float, str]]
    # The ت-stem of a term ending in ة (حكومت-ها): valid only before a pronoun suffix.
    taa_stem: bool = False


class TopicTagger:
    """Multi-label tagger. ``tag`` is pure and thread-safe once constructed."""

    def __init__(self, taxonomy: Taxonomy, threshold: float = 1.0) -> None:
        self.taxonomy = taxonomy
        self.threshold = threshold
        self.labels = list(taxonomy.labels)
        self._thresholds = {
            name: spec.threshold if spec.threshold is not None else threshold
            for name, spec in taxonomy.labels.items()
        }
        entries: dict[str, _Entry] = {}
        for li, spec in enumerate(taxonomy.labels.values()):
            # الحرب and حرب share a key; counting both would double every mention.
            per_key: dict[str, tuple[float, str]] = {}
            for term, weight in spec.terms.items():
                key = _match_key(term)
                shown = _display(term)
                prev = per_key.get(key)
                if prev is None or weight > prev[0]:
                    per_key[key] = (weight, prev[1] if prev else shown)
            for key, (weight, shown) in per_key.items():
                entries.setdefault(key, _Entry([])).targets.append((li, weight, shown))
        for phrase in taxonomy.neutral:
            entries.setdefault(_match_key(phrase), _Entry([]))
        # Feminine forms: ة-final terms also match their ات plural and their ت-stem. Derived keys
        # never override a term that is listed in its own right.
        derived: dict[str, _Entry] = {}
        for key, entry in entries.items():
            if key.endswith("ه") and len(key) >= 4 and " " not in key:
                derived.setdefault(key[:-1] + "ات", _Entry(entry.targets))
                derived.setdefault(key[:-1] + "ت", _Entry(entry.targets, taa_stem=True))
        for key, entry in derived.items():
            entries.setdefault(key, entry)
        self._automaton = ahocorasick.Automaton()
        for key, entry in entries.items():
            self._automaton.add_word(key, (len(key), entry))
        self._automaton.make_automaton()

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicTagger:
        base = load_taxonomy_file(settings.topics_file or BUNDLED_TAXONOMY)
        extra = (
            load_taxonomy_file(settings.topics_extra_file) if settings.topics_extra_file else None
        )
        return cls(merge_taxonomies(base, extra), threshold=settings.topic_threshold)

    @classmethod
    def bundled(cls, threshold: float = 1.0) -> TopicTagger:
        return cls(merge_taxonomies(load_taxonomy_file(BUNDLED_TAXONOMY)), threshold=threshold)

    # A hit is valid when the characters between the word start and the hit form a proclitic
    # and those between the hit and the word end form an enclitic. This loop runs ~60 times per
    # article, so the common case (a space on both sides) is tested first and inline.
    def _matches(self, text: str) -> list[tuple[int, int, _Entry]]:
        n = len(text)
        found: list[tuple[int, int, _Entry]] = []
        prefixes, suffixes, taa_suffixes = PREFIXES, SUFFIXES, TAA_SUFFIXES
        for end, (length, entry) in self._automaton.iter(text):
            start = end - length + 1
            i = start
            if start > 0 and text[start - 1].isalnum():
                i -= 1
                while i > 0 and text[i - 1].isalnum() and start - i <= _MAX_PREFIX:
                    i -= 1
                if text[i:start] not in prefixes or (i > 0 and text[i - 1].isalnum()):
                    continue
            j = end + 1
            if j < n and text[j].isalnum():
                j += 1
                while j < n and text[j].isalnum() and j - end <= _MAX_SUFFIX:
                    j += 1
                if j < n and text[j].isalnum():
                    continue
                if text[end + 1 : j] not in (taa_suffixes if entry.taa_stem else suffixes):
                    continue
            elif entry.taa_stem:
                continue
            found.append((i, j, entry))
        if len(found) < 2:
            return found
        # A term inside a longer matched phrase (القدم in كرة القدم, عاصفة in عاصفة الحزم) is
        # part of that phrase, not a mention of its own.
        found.sort(key=lambda m: (m[0], -m[1]))
        kept: list[tuple[int, int, _Entry]] = []
        reach = -1
        for m in found:
            if m[1] > reach:
                kept.append(m)
                reach = m[1]
        return kept

    def _accumulate(self, text: str, counts: dict[tuple[int, str], list[float]], slot: int) -> None:
        for _s, _e, entry in self._matches(text):
            for li, weight, canonical in entry.targets:
                rec = counts.setdefault((li, canonical), [weight, 0.0, 0.0])
                rec[slot] += 1

    def scores(self, title: str, text_normalized: str) -> dict[str, tuple[float, list[str]]]:
        """Every label with a positive score and its evidence, before thresholds."""
        # Both come folded (``fold_text``), as the enricher has them: folding again would cost
        # more than the matching itself.
        body, head = text_normalized, title
        counts: dict[tuple[int, str], list[float]] = {}  # -> [weight, body hits, title hits]
        self._accumulate(body, counts, 1)
        if head:
            self._accumulate(head, counts, 2)
        if not counts:
            return {}
        sc = self.taxonomy.scoring
        n_words = body.count(" ") + 1 if body else 0
        # Long articles mention many things in passing; a square-root length penalty keeps a
        # single weak mention in a long article below threshold without starving short items.
        length_norm = math.sqrt(max(1.0, n_words / sc.reference_words))
        title_boost = sc.title_boost * (sc.title_only_boost if not body.strip() else 1.0)
        per_label: dict[int, list[tuple[float, str]]] = {}
        for (li, canonical), (weight, body_hits, title_hits) in counts.items():
            # Diminishing returns: the tenth repetition of a term says little more than the third.
            contrib = weight * (1 + math.log(body_hits)) / length_norm if body_hits else 0.0
            if title_hits:
                contrib += weight * title_boost
            per_label.setdefault(li, []).append((contrib, canonical))
        out: dict[str, tuple[float, list[str]]] = {}
        for li, items in per_label.items():
            items.sort(key=lambda x: (-x[0], x[1]))
            total = sum(c for c, _ in items) / sc.unit
            out[self.labels[li]] = (total, [t for _, t in items[: sc.max_evidence]])
        return out

    def tag(self, title: str, text_normalized: str) -> list[TopicTag]:
        raw = self.scores(title, text_normalized)
        if not raw:
            return []
        sc = self.taxonomy.scoring
        best = max(s for s, _ in raw.values())
        chosen = [
            (label, s, ev)
            for label, (s, ev) in raw.items()
            if s >= self._thresholds[label] and s >= sc.min_relative * best
        ]
        chosen.sort(key=lambda x: (-x[1], x[0]))
        return [
            TopicTag(label=label, score=round(s, 3), evidence=ev)
            for label, s, ev in chosen[: sc.max_labels]
        ]
