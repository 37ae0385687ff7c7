"""Building and encoding dead letters, shared by every stage that can reject a record."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from pydantic import ValidationError

from newsflow.articles import DeadLetter


def validation_reason(exc: ValidationError) -> str:
    """One readable line: field path and message for each problem."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(x) for x in err["loc"]) or "record"
        parts.append(f"{loc}: {err['msg']}")
    return "; ".join(parts)


def dead_letter(stage: str, reason: str, error_type: str, raw: bytes, key: str | None = None,
                **where: Any) -> DeadLetter:
    """Keeps the original as text when it is UTF-8, else as base64, so it can be replayed."""
    try:
        text: str | None = raw.decode("utf-8")
        b64 = None
    except UnicodeDecodeError:
        text, b64 = None, base64.b64encode(raw).decode()
    return DeadLetter(stage=stage, error=reason, error_type=error_type, original=text,
                      original_b64=b64, key=key, **where)


def encode_dead_letter(dl: DeadLetter) -> bytes:
    return orjson.dumps(dl.model_dump(mode="json", exclude_none=True))
