"""The article contract, defined once. ``newsflow schema export`` writes these models as JSON
Schema to ``deploy/schemas/``; a test fails when the exported files drift from the code."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from newsflow.core.identity import canonical_url
from newsflow.core.sanitize import check_link_scheme, check_metadata, clean_label

MAX_BODY_CHARS = 1_000_000
EntityType = Literal["PERS", "LOC", "ORG", "MISC"]
EntityEvidence = Literal["gazetteer", "pattern", "memory", "model"]


class RawArticle(BaseModel):
    """What a scraper sends to ``news.raw``. Unknown top-level fields are kept in ``metadata``
    rather than rejected, so a scraper adding a field never loses records."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(min_length=1, max_length=8192)
    title: str | None = Field(None, max_length=10_000)
    body: str | None = Field(None, max_length=MAX_BODY_CHARS, description="plain text")
    html: str | None = Field(None, max_length=5 * MAX_BODY_CHARS, description="raw page HTML")
    source: str | None = Field(None, max_length=200)
    published_at: datetime | None = None
    language: str | None = Field(None, max_length=16, description="ISO 639-1 if known")
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="free-form; at most 64 KiB encoded and 8 levels deep; stored, not indexed",
    )

    @model_validator(mode="before")
    @classmethod
    def _unknown_fields_to_metadata(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = cls.model_fields.keys()
        extra = {k: v for k, v in data.items() if k not in known}
        if not extra:
            return data
        kept = {k: v for k, v in data.items() if k in known}
        meta = kept.get("metadata")
        if meta is None:
            kept["metadata"] = extra
        elif isinstance(meta, dict):
            kept["metadata"] = {**extra, **meta}
        else:
            kept["metadata"] = meta  # let validation report the wrong type
        return kept

    @field_validator("url")
    @classmethod
    def _absolute_url(cls, v: str) -> str:
        v = clean_label(v)  # no control or bidi characters reach a terminal or a link
        canonical_url(v)  # raises ValueError with a readable message
        check_link_scheme(v)
        return v

    @field_validator("source")
    @classmethod
    def _clean_source(cls, v: str | None) -> str | None:
        return clean_label(v) if v is not None else None

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata(cls, v: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(v)

    @field_validator("published_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v

    @model_validator(mode="after")
    def _has_content(self) -> RawArticle:
        if not (self.body or self.html or self.title):
            raise ValueError("article has no title, body or html")
        return self


class Entity(BaseModel):
    type: EntityType
    text: str = Field(description="surface form as written in body")
    canonical: str = Field(description="normalized, clitics stripped: what dashboards aggregate")
    display: str | None = Field(
        default=None,
        description="written form for people (ة and hamza kept, clitics and harakat removed); "
        "None: show canonical",
    )
    start: int = Field(ge=0, description="character offset into body")
    end: int = Field(ge=0)
    confidence: float = Field(ge=0, le=1)
    evidence: EntityEvidence = "gazetteer"


class TopicTag(BaseModel):
    label: str
    score: float = Field(ge=0)
    evidence: list[str] = Field(default_factory=list, description="matched lexicon terms")


class Processing(BaseModel):
    version: str
    stages: dict[str, float] = Field(default_factory=dict, description="stage name -> ms")


class EnrichedArticle(BaseModel):
    """What ``news.enriched`` carries and what Elasticsearch indexes (``_id`` = ``id``)."""

    id: str
    url: str = Field(description="canonical URL")
    source: str | None = None
    title: str = ""
    body: str = Field("", description="clean text for display")
    body_normalized: str = Field("", description="folded text for search")
    language: str | None = None
    published_at: datetime | None = None
    ingested_at: datetime
    entities: list[Entity] = Field(default_factory=list)
    topics: list[TopicTag] = Field(default_factory=list)
    cluster_id: str | None = None
    processing: Processing
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="the raw article's metadata, stored but not indexed"
    )


class LabelRetraction(BaseModel):
    """On ``news.topic.<label>``, keyed by article id: the article no longer carries ``label``
    (re-enrichment changed its topics). Consumers that kept it for this label should drop it.
    Article records never have a ``retracted`` field, so ``"retracted" in record`` tells the two
    apart."""

    retracted: Literal[True] = True
    id: str
    label: str = Field(description="the label this stream is for, which the article lost")
    labels: list[str] = Field(default_factory=list, description="the article's labels now")
    url: str | None = None
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))


class DeadLetter(BaseModel):
    """One failed record on ``news.dlq``: enough to see why and to replay it."""

    stage: str = Field(description="produce, clean, enrich, route, index")
    error: str
    error_type: str
    original: str | None = Field(None, description="the record as text, when it was valid UTF-8")
    original_b64: str | None = Field(
        None, description="the raw bytes in base64, when not UTF-8 or when compressed"
    )
    original_compression: Literal["zlib"] | None = Field(
        None, description="set when original_b64 holds the zlib-compressed record (large ones)"
    )
    original_bytes: int | None = Field(None, ge=0, description="size of the record as received")
    original_truncated: bool = Field(
        False, description="only for records too large to keep even compressed"
    )
    key: str | None = None
    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    replays: int = Field(
        0, ge=0, description="how many times this record had been replayed from the DLQ"
    )


SCHEMAS: dict[str, type[BaseModel]] = {
    "raw_article": RawArticle,
    "enriched_article": EnrichedArticle,
    "dead_letter": DeadLetter,
    "label_retraction": LabelRetraction,
}
