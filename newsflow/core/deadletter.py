"""Building and encoding dead letters, shared by every stage that can reject a record."""

from __future__ import annotations

import base64
import zlib
from typing import Any

import orjson
from pydantic import ValidationError

from newsflow.core.contract import DeadLetter


def validation_reason(exc: ValidationError) -> str:
    """One readable line: field path and message for each problem."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(x) for x in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


# Kafka header on a record replayed from the DLQ: how many times it has been replayed. Stages copy
# it into the dead letter they make of it, so `newsflow dlq replay` can stop a record that keeps
# failing instead of replaying it for ever.
REPLAYS_HEADER = "newsflow-replays"


def replays_from_headers(headers: object) -> int:
    """The replay count in a record's headers (a list of (key, value) pairs, or a mapping)."""
    items = headers.items() if isinstance(headers, dict) else (headers or [])
    for key, value in items:  # type: ignore[attr-defined]
        name = key.decode() if isinstance(key, bytes) else str(key)
        if name == REPLAYS_HEADER:
            try:
                return max(0, int(value.decode() if isinstance(value, bytes) else value))
            except (TypeError, ValueError):
                return 0
    return 0


INLINE_MAX_BYTES = 2 * 1024 * 1024
# The dead-letter topic's max.message.bytes, and the largest request our producers send.
DLQ_MAX_BYTES = 20 * 1024 * 1024
# Dead letters must always be sendable: an unsendable one would block its partition. The DLQ
# topic is created with max.message.bytes = DLQ_MAX_BYTES (20 MiB); this leaves room for JSON.
KEPT_MAX_BYTES = 16 * 1024 * 1024


def dead_letter(
    stage: str, reason: str, error_type: str, raw: bytes, key: str | None = None, **where: Any
) -> DeadLetter:
    """Keeps the whole original so it can be replayed: as text when it is UTF-8 and small, as
    base64 when it is not UTF-8, zlib-compressed when it is large. Only a record that is still
    over 16 MiB compressed is cut, and says so."""
    text: str | None = None
    b64: str | None = None
    compression = None
    truncated = False
    if len(raw) <= INLINE_MAX_BYTES:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            b64 = base64.b64encode(raw).decode()
    else:
        packed = zlib.compress(raw, 6)
        if len(packed) * 4 // 3 > KEPT_MAX_BYTES:
            packed = zlib.compress(raw[: KEPT_MAX_BYTES // 2], 6)
            truncated = True
            reason += f" [original cut to its first {KEPT_MAX_BYTES // 2} of {len(raw)} bytes]"
        b64, compression = base64.b64encode(packed).decode(), "zlib"
    return DeadLetter(
        stage=stage,
        error=reason,
        error_type=error_type,
        original=text,
        original_b64=b64,
        original_compression=compression,
        original_bytes=len(raw),
        original_truncated=truncated,
        key=key,
        **where,
    )


def original_bytes(dl: DeadLetter) -> bytes:
    """The record as it was received (for replay tools and tests)."""
    if dl.original is not None:
        return dl.original.encode("utf-8")
    data = base64.b64decode(dl.original_b64 or "")
    return zlib.decompress(data) if dl.original_compression == "zlib" else data


def encode_dead_letter(dl: DeadLetter) -> bytes:
    return orjson.dumps(dl.model_dump(mode="json", exclude_none=True))


# Successive budgets for the original when a dead letter is itself refused as too large (a DLQ
# topic created with a smaller max.message.bytes than ours): each refusal moves one step down,
# the last keeps no original at all, so a dead letter always gets through in a bounded number of
# sends. The full record stays readable at its source coordinates, which the reason names.
SHRINK_BUDGETS = (512 * 1024, 64 * 1024, 0)


def shrink_dead_letter(dl: DeadLetter, step: int) -> DeadLetter:
    """``dl`` with its original cut to ``SHRINK_BUDGETS[step]`` bytes (compressed, base64)."""
    budget = SHRINK_BUDGETS[min(step, len(SHRINK_BUDGETS) - 1)]
    raw = original_bytes(dl)
    where = (
        f"{dl.source_topic}[{dl.source_partition}]@{dl.source_offset}"
        if dl.source_topic
        else "its source"
    )
    note = (
        f" [dead letter refused as too large: original cut to {budget} of "
        f"{dl.original_bytes or len(raw)} bytes; the full record is at {where}]"
    )
    packed = zlib.compress(raw[:budget], 6) if budget else b""
    return dl.model_copy(
        update={
            "error": dl.error + note,
            "original": None,
            "original_b64": base64.b64encode(packed).decode() if budget else None,
            "original_compression": "zlib" if budget else None,
            "original_truncated": True,
        }
    )
