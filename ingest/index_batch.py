"""The indexer's pure decisions: what a consumed record becomes (a document or a dead letter),
what a bulk item result means, how a batch is split into requests, and what may be committed.
No Kafka or Elasticsearch client here; ``ingest.indexer`` is the shell that talks to them.

Whether a failure is worth retrying is decided in ``newsflow.core.failures`` (shared with the
worker); this module only pairs those verdicts with the records they are about.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ingest.es_doc import to_es_doc
from newsflow.core.contract import DeadLetter, EnrichedArticle
from newsflow.core.deadletter import dead_letter as make_dead_letter
from newsflow.core.failures import Verdict, es_item_verdict, es_request_verdict, may_be_poison

STAGE = "index"
# Well under Elasticsearch's default http.max_content_length (100 MB): a batch of 500 long
# articles must not become one request the node refuses.
MAX_BULK_BYTES = 10 * 1024 * 1024
# How long a poll waits for more when a batch is open and may be flushed once drained: long
# enough for a fetch already on the wire (a broker round trip on a LAN is well under this), short
# next to a refresh interval.
IDLE_POLL_SECONDS = 0.01

__all__ = ["Verdict"]


@dataclass(frozen=True)
class ConsumedRecord:
    """The parts of a Kafka record the indexer needs; decoupled from kafka-python's type."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    # How many times this partition had been revoked from us when the record was polled: a
    # record whose partition was revoked since is stale (its new owner re-reads it).
    epoch: int = 0
    replays: int = 0  # from the record's replay header (see newsflow dlq replay)
    timestamp_ms: int | None = None  # the record's timestamp: the raw record's produce time

    @property
    def tp(self) -> tuple[str, int]:
        return (self.topic, self.partition)


@dataclass(frozen=True)
class Prepared:
    """A record that passed the contract and is ready for the bulk body."""

    record: ConsumedRecord
    doc_id: str
    source: bytes  # the JSON document
    # External version (ingested_at in ms): Elasticsearch refuses a write older than what it
    # holds, so replaying an old record never overwrites a newer version of the article.
    version: int = 0


@dataclass(frozen=True)
class Failure:
    record: ConsumedRecord
    error_type: str
    error: str


def prepare(record: ConsumedRecord) -> Prepared | Failure:
    """Decode, validate against the contract and render the ES document; a record that cannot
    be indexed is a ``Failure`` bound for the DLQ (retrying would never fix it)."""
    if record.value is None:
        return Failure(record, "empty_record", "record has no value (tombstone?)")
    try:
        text = record.value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Failure(record, "unicode_decode_error", str(exc))
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Failure(record, "json_decode_error", str(exc))
    try:
        article = EnrichedArticle.model_validate(data)
    except ValidationError as exc:
        return Failure(record, "validation_error", _short(str(exc)))
    return Prepared(
        record, article.id, orjson.dumps(to_es_doc(article)), article_version(article)
    )


def article_version(article: EnrichedArticle) -> int:
    return int(article.ingested_at.timestamp() * 1000)


def _short(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_text(error: Any) -> tuple[str, str]:
    """(type, readable reason) of a bulk item's ``error`` object, including the root cause
    (a mapper_parsing_exception's reason alone does not say which value was wrong)."""
    if not isinstance(error, dict):
        return "unknown_error", _short(str(error))
    etype = str(error.get("type", "unknown_error"))
    # Each reason is capped on its own: ES quotes the offending value in the outer reason, and
    # a long value must not push the root cause out of the message.
    parts = [f"{etype}: {_short(str(error.get('reason', '')), 500)}"]
    cause = error.get("caused_by")
    while isinstance(cause, dict) and len(parts) < 4:
        parts.append(f"caused by {cause.get('type')}: {_short(str(cause.get('reason', '')), 500)}")
        cause = cause.get("caused_by")
    return etype, _short("; ".join(parts))


def classify_item(item: dict[str, Any]) -> tuple[Verdict, str, str]:
    """One entry of a bulk response's ``items`` -> (verdict, error_type, error)."""
    verdict, etype, reason, _status = classify_item_status(item)
    return verdict, etype, reason


def classify_item_status(item: dict[str, Any]) -> tuple[Verdict, str, str, Any]:
    result: dict[str, Any] = next(iter(item.values()), {}) if item else {}
    status = result.get("status")
    if isinstance(status, int) and 200 <= status < 300 and "error" not in result:
        return Verdict.OK, "", "", status
    etype, reason = _error_text(result.get("error", f"status {status}"))
    verdict = es_item_verdict(status, etype, reason)
    if verdict is Verdict.RETRY and etype == "index_not_found_exception":
        reason += " (does the alias exist? run `newsflow setup`)"
    return verdict, etype, reason, status


@dataclass
class BulkOutcome:
    ok: list[Prepared] = field(default_factory=list)
    dead: list[Failure] = field(default_factory=list)
    retry: list[Prepared] = field(default_factory=list)
    retry_reasons: list[str] = field(default_factory=list)
    # Retried items whose failure may be the document's own (item-level 5xx), by doc position.
    suspects: list[Failure] = field(default_factory=list)
    superseded: int = 0  # refused because the index holds the same or a newer version


def classify_bulk_response(
    sent: Sequence[Prepared], items: Sequence[dict[str, Any]]
) -> BulkOutcome:
    """Pair a bulk response's items with what was sent (same order, by the bulk API contract)."""
    if len(items) != len(sent):
        # Cannot tell which item is which: treat the whole chunk as not done.
        out = BulkOutcome(retry=list(sent))
        out.retry_reasons.append(f"bulk returned {len(items)} items for {len(sent)} sent")
        return out
    out = BulkOutcome()
    for prepared, item in zip(sent, items, strict=True):
        verdict, etype, reason, status = classify_item_status(item)
        if verdict is Verdict.OK:
            out.ok.append(prepared)
            out.superseded += status == 409
        elif verdict is Verdict.DEAD:
            out.dead.append(Failure(prepared.record, etype, reason))
        else:
            out.retry.append(prepared)
            out.retry_reasons.append(reason)
            if may_be_poison(status, etype):
                out.suspects.append(Failure(prepared.record, etype, reason))
    return out


def classify_request_error(
    status: int | None, error_type: str | None = None, chunk_size: int = 2
) -> Verdict:
    """A whole bulk request of ``chunk_size`` documents failed with HTTP ``status`` (None: no
    response at all). ``DEAD`` with several documents means "split it to find the culprit"; see
    ``newsflow.core.failures.es_request_verdict``."""
    return es_request_verdict(status, error_type, chunk_size)


def dead_letter(failure: Failure, now: Callable[[], Any] | None = None) -> DeadLetter:
    """The DLQ record for ``failure``, with the whole original (see
    newsflow.core.deadletter) and the exact source coordinates."""
    rec = failure.record
    extra: dict[str, Any] = {"ts": now()} if now is not None else {}
    return make_dead_letter(
        STAGE,
        failure.error,
        failure.error_type,
        rec.value if rec.value is not None else b"",
        key=rec.key.decode("utf-8", "replace") if rec.key is not None else None,
        source_topic=rec.topic,
        source_partition=rec.partition,
        source_offset=rec.offset,
        replays=rec.replays,
        **extra,
    )


def committable_offsets(
    records: Iterable[ConsumedRecord], unhandled: Iterable[ConsumedRecord] = ()
) -> dict[tuple[str, int], int]:
    """Next offset to commit per partition: one past the last record that has no unhandled
    record at or before it. Offsets are taken from the records themselves, not assumed
    contiguous (compaction and transaction markers leave gaps)."""
    blocked: dict[tuple[str, int], int] = {}
    for rec in unhandled:
        blocked[rec.tp] = min(rec.offset, blocked.get(rec.tp, rec.offset))
    out: dict[tuple[str, int], int] = {}
    for rec in records:
        limit = blocked.get(rec.tp)
        if limit is not None and rec.offset >= limit:
            continue
        out[rec.tp] = max(out.get(rec.tp, 0), rec.offset + 1)
    return out


def backoff_delay(
    attempt: int, cap: float, base: float = 0.5, rand: Callable[[], float] = random.random
) -> float:
    """Capped exponential backoff with "equal jitter": at least half the exponential step (so a
    flapping cluster is not hammered) and never above ``cap``."""
    step = min(cap, base * (2 ** max(0, attempt - 1)))
    return step / 2 + rand() * step / 2


def bulk_lines(prepared: Prepared) -> list[bytes]:
    # No _index: the request names the alias (require_alias) so writes follow its write index.
    action: dict[str, Any] = {"_id": prepared.doc_id}
    if prepared.version > 0:
        action |= {"version": prepared.version, "version_type": "external"}
    return [orjson.dumps({"index": action}), prepared.source]


def chunk_by_bytes(
    items: Sequence[Prepared], max_bytes: int = MAX_BULK_BYTES
) -> Iterator[list[Prepared]]:
    """Split a batch into bulk requests of at most ``max_bytes`` (a lone oversize document still
    gets its own request, so Elasticsearch can reject exactly that one)."""
    chunk: list[Prepared] = []
    size = 0
    for p in items:
        n = len(p.source) + len(p.doc_id) + 32
        if chunk and size + n > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(p)
        size += n
    if chunk:
        yield chunk


def drop_stale(items: Iterable[Any], epochs: Mapping[tuple[str, int], int]) -> list[Any]:
    """Keep the items (records, or anything with ``.record``) whose partition has not been
    revoked since they were polled."""
    def current(x: Any) -> bool:
        r = x if isinstance(x, ConsumedRecord) else x.record
        return epochs.get(r.tp, 0) == r.epoch

    return [x for x in items if current(x)]


@dataclass
class IndexerStats:
    consumed: int = 0
    indexed: int = 0
    dead_lettered: int = 0
    superseded: int = 0
    retries: int = 0
    batches: int = 0
    bulk_requests: int = 0
    commits: int = 0
    commit_failures: int = 0
    dropped_on_revoke: int = 0
    lag: int | None = None
    started_at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def should_flush(count: int, nbytes: int, *, drained: bool, age_seconds: float, max_count: int,
                 max_bytes: int, max_seconds: float) -> bool:
    """Whether a batch of ``count`` records (``nbytes``) goes to Elasticsearch now.

    As soon as the consumer has nothing more (``drained``: the last short poll brought nothing
    new), so an article waits for company only while company is already arriving; else when it
    is full by count or bytes (bounded requests and memory), or at the latest ``max_seconds``
    after its first record (a steady trickle must not grow a batch forever). Under load records
    arrive while a bulk request is in flight, so the next poll brings many and batches grow by
    themselves; when the input is quiet a batch of one is the lowest latency there is."""
    if not count:
        return False
    return drained or count >= max_count or nbytes >= max_bytes or age_seconds >= max_seconds
