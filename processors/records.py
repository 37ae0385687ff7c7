"""One raw Kafka record to either an enriched record or a dead letter, naming the stage that
failed. Pure apart from the enricher's own state, so the Faust agent stays a thin shell and the
failure paths are unit-testable without a broker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import orjson
from pydantic import ValidationError

from newsflow.core.contract import DeadLetter, EnrichedArticle, RawArticle
from newsflow.core.deadletter import dead_letter, validation_reason

if TYPE_CHECKING:
    from processors.enrich import Enricher


@dataclass(frozen=True, slots=True)
class Enriched:
    key: bytes
    value: bytes  # with a deferred cluster: the article JSON without its "cluster_id" key
    article: EnrichedArticle
    signature: np.ndarray | None = None  # MinHash, when the cluster is decided downstream


@dataclass(frozen=True, slots=True)
class Failed:
    dead_letter: DeadLetter


@dataclass(frozen=True, slots=True)
class Coordinates:
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    replays: int = 0  # from the record's replay header (see newsflow dlq replay)
    timestamp: float | None = None  # the record's (produce) time, seconds


class StageError(Exception):
    def __init__(self, stage: str, message: str, error_type: str) -> None:
        super().__init__(message)
        self.stage, self.message, self.error_type = stage, message, error_type


def decode_raw(value: bytes | None) -> RawArticle:
    if value is None:
        raise StageError("decode", "empty record (null value)", "EmptyRecord")
    try:
        data = orjson.loads(value)  # orjson rejects invalid UTF-8 itself
    except orjson.JSONDecodeError as exc:
        kind = "UnicodeDecodeError" if "utf-8" in str(exc).lower() else "JSONDecodeError"
        raise StageError("decode", f"invalid record: {exc}", kind) from exc
    if not isinstance(data, dict):
        raise StageError(
            "decode", f"expected a JSON object, got {type(data).__name__}", "NotAnObject"
        )
    try:
        return RawArticle.model_validate(data)
    except ValidationError as exc:
        raise StageError("validate", validation_reason(exc), "ValidationError") from exc


def encode_enriched(article: EnrichedArticle, *, without_cluster: bool = False) -> bytes:
    """``without_cluster``: leave the key out, for the near-duplicate stage to append
    (``processors.dedup_stage.with_cluster``) without decoding the article again."""
    if without_cluster:
        return orjson.dumps(article.model_dump(mode="json", exclude={"cluster_id"}))
    return orjson.dumps(article.model_dump(mode="json"))


def process_record(
    enricher: Enricher, key: bytes | None, value: bytes | None, where: Coordinates = Coordinates()
) -> Enriched | Failed:
    """Never raises for a bad record: every failure comes back as a dead letter."""
    try:
        raw = decode_raw(value)
        try:
            article, signature = enricher.enrich_signed(raw)
        except Exception as exc:  # one bad record must not stop the partition
            raise StageError("enrich", str(exc) or repr(exc), type(exc).__name__) from exc
        try:
            value = encode_enriched(article, without_cluster=enricher.defer_dedup)
        except Exception as exc:  # e.g. metadata orjson cannot encode
            raise StageError("encode", str(exc) or repr(exc), type(exc).__name__) from exc
        return Enriched(article.id.encode(), value, article, signature)
    except StageError as exc:
        return Failed(
            dead_letter(
                exc.stage,
                exc.message,
                exc.error_type,
                value or b"",
                key=key.decode("utf-8", "replace") if key else None,
                source_topic=where.topic,
                source_partition=where.partition,
                source_offset=where.offset,
                replays=where.replays,
            )
        )
