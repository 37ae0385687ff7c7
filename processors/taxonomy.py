"""The topic taxonomy: the YAML file users read and extend (labels, weighted terms, scoring),
validated with one readable message per problem, and the merge of the bundled file with extras."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from newsflow.core.arabic import fold_text

# Package data, so an installed wheel finds it outside a checkout.
BUNDLED_TAXONOMY: Traversable = resources.files("processors") / "data" / "topics.yaml"
LABEL_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")




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
