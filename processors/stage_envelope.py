"""The near-duplicate stage's record format (``processors.dedup_stage``): an *envelope* is a
small JSON head on one line -- id, URL, labels, ingest time, MinHash signature, where the raw
record was read -- then the enriched article JSON without its ``cluster_id``, which the stage
appends (``with_cluster``) without decoding the article again.

Pure and free of Faust, so that the enrichment process (``processors.enrich_process``) writes
envelopes without importing the stream framework."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from processors.delivery import Where
from processors.records import Coordinates, Enriched
from processors.routing import RoutedArticle, article_labels

ENVELOPE_VERSION = 1


class BadEnvelope(ValueError):
    """A record on the stage topic that stage 1 did not write (or wrote for other settings)."""


@dataclass(frozen=True, slots=True)
class Envelope:
    article: RoutedArticle
    ts: float  # ingest time: the index's clock for its age bound
    signature: np.ndarray | None  # None: too few words to compare
    source: Where  # where stage 1 read the raw record
    body: bytes  # the enriched article JSON without "cluster_id"


def envelope(result: Enriched, where: Coordinates) -> bytes:
    """Stage 1's record for ``result`` (enriched with ``Enricher(defer_dedup=True)``)."""
    a = result.article
    head = {"v": ENVELOPE_VERSION, "id": a.id, "url": a.url, "labels": article_labels(a),
            "ts": a.ingested_at.timestamp(), "sig": result.signature,
            "src": [where.topic, where.partition, where.offset]}
    # The head never holds a raw newline (JSON escapes it), so the first one ends it.
    return orjson.dumps(head, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" + result.value


def open_envelope(value: bytes | None, num_perm: int) -> Envelope:
    """Raises ``BadEnvelope`` with the reason a dead letter will carry."""
    head_bytes, newline, body = (value or b"").partition(b"\n")
    if not newline or not body.startswith(b"{") or not body.endswith(b"}"):
        raise BadEnvelope("not a near-duplicate stage envelope (head line + article JSON)")
    try:
        head = orjson.loads(head_bytes)
        version = head.get("v") if isinstance(head, dict) else None
        if version != ENVELOPE_VERSION:
            raise BadEnvelope(f"envelope version {version!r} is not {ENVELOPE_VERSION}")
        sig = head["sig"]
        signature = None if sig is None else np.asarray(sig, dtype=np.uint32)
        article = RoutedArticle(str(head["id"]), str(head["url"]), tuple(map(str, head["labels"])))
        ts, source = float(head["ts"]), raw_source(head)
    except BadEnvelope:
        raise
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise BadEnvelope(f"envelope head: {type(exc).__name__}: {exc}") from exc
    if signature is not None and signature.shape != (num_perm,):
        raise BadEnvelope(f"signature of shape {signature.shape}, this stage expects "
                          f"({num_perm},): were the workers started with other dedup settings?")
    return Envelope(article, ts, signature, source, body)


def raw_source(head: dict[str, Any]) -> Where:
    topic, partition, offset = head["src"]
    return (None if topic is None else str(topic), None if partition is None else int(partition),
            None if offset is None else int(offset))


def with_cluster(body: bytes, cluster_id: str) -> bytes:
    """The article JSON with its cluster id as the last key (``body`` never has one)."""
    return body[:-1] + b',"cluster_id":' + orjson.dumps(cluster_id) + b"}"
