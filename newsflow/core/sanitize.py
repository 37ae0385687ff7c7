"""Untrusted text that ends up in a terminal, a link or a log: the checks in one place.

* ``clean_label``: drops control and bidirectional-formatting characters from short labels
  (``source``) and URLs, so an ESC sequence or a right-to-left override never reaches a
  terminal or a dashboard through them;
* ``check_link_scheme``: only http/https URLs are articles (``javascript:``, ``file:`` are not);
* ``check_metadata``: free-form metadata is bounded in encoded size and nesting depth;
* ``terminal_safe``: what the CLI prints of stored text;
* ``redact_url``: credentials inside a configured URL are never echoed.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

ALLOWED_SCHEMES = frozenset({"http", "https"})
METADATA_MAX_BYTES = 64 * 1024
METADATA_MAX_DEPTH = 8
# Bidi embeddings/overrides/isolates, marks, and the Arabic letter mark.
_BIDI = "\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_UNSAFE = re.compile(f"[\u0000-\u001f\u007f-\u009f{_BIDI}]")


def clean_label(text: str) -> str:
    return _UNSAFE.sub("", text)


def terminal_safe(text: str) -> str:
    """Control and bidi characters shown as U+FFFD; newlines and tabs kept."""
    return "".join(
        "\ufffd" if (_UNSAFE.match(c) and c not in "\n\t") else c for c in text
    )


def check_link_scheme(url: str) -> None:
    scheme = urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise ValueError(f"URL scheme {scheme!r} is not allowed (only http and https)")


def _depth(value: Any) -> int:
    """Nesting depth of containers, iteratively (a deep value must not hit the recursion
    limit while it is being checked)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > METADATA_MAX_DEPTH:
            return deepest
        stack.extend((child, depth) for child in children)
    return deepest


def check_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    depth = _depth(meta)
    if depth > METADATA_MAX_DEPTH:
        raise ValueError(f"metadata is nested deeper than {METADATA_MAX_DEPTH} levels")
    try:
        size = len(orjson.dumps(meta, default=str))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise ValueError(f"metadata cannot be encoded as JSON: {exc}") from exc
    if size > METADATA_MAX_BYTES:
        raise ValueError(f"metadata is {size} bytes encoded, over {METADATA_MAX_BYTES}")
    return meta


def redact_url(url: str) -> str:
    """``https://user:secret@host:9200`` -> ``https://***@host:9200`` (each of a comma list)."""
    out = []
    for part in url.split(","):
        pieces = urlsplit(part.strip())
        if pieces.username is None and pieces.password is None:
            out.append(part.strip())
            continue
        host = pieces.netloc.rsplit("@", 1)[-1]
        out.append(urlunsplit(pieces._replace(netloc=f"***@{host}")))
    return ",".join(out)
