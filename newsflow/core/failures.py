"""The one place that decides whether a failed write is worth retrying.

Shared by the worker (aiokafka sends through Faust), the indexer (kafka-python dead-letter sends,
Elasticsearch bulk writes) and the tools that re-drive records. Three answers:

* ``OK``: done (for Elasticsearch also "a newer version is already there": external versioning
  refuses an older write with 409, which is the guard working, not a failure);
* ``DEAD``: the record itself is the cause and no retry can fix it -- dead-letter it;
* ``RETRY``: the cluster, the network or the configuration is the cause -- retry, never
  dead-letter, never commit past it (callers log how long they have been stuck).

Errors are matched by class name as well as by class so that kafka-python and aiokafka (which
keep separate but same-named exception hierarchies) are judged alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Verdict(enum.Enum):
    OK = "ok"
    DEAD = "dead"
    RETRY = "retry"


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    error_type: str
    reason: str


# --------------------------------------------------------------------------- Kafka sends

# The record is too large for the producer or for the topic, or the topic name is invalid:
# sending the same bytes again can never succeed.
KAFKA_PERMANENT_ERRORS = frozenset(
    {
        "MessageSizeTooLargeError",
        "RecordTooLargeError",
        "RecordListTooLargeError",
        "InvalidTopicError",
        "InvalidRecordError",  # e.g. a record without a key sent to a compacted topic
    }
)
SIZE_ERRORS = frozenset(
    {"MessageSizeTooLargeError", "RecordTooLargeError", "RecordListTooLargeError"}
)


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def kafka_send_verdict(exc: BaseException) -> Judgement:
    """A send (or its acknowledgement) raised ``exc``. Timeouts, unknown topics (may be
    being created), leader moves, disconnections and authorization problems are RETRY: they
    say nothing against the record."""
    names = _names(exc)
    etype = type(exc).__name__
    reason = f"{etype}: {exc}" if str(exc) else etype
    if names & KAFKA_PERMANENT_ERRORS:
        return Judgement(Verdict.DEAD, etype, reason)
    return Judgement(Verdict.RETRY, etype, reason)


def is_size_error(exc: BaseException) -> bool:
    return bool(_names(exc) & SIZE_ERRORS)


# --------------------------------------------------------------------------- Elasticsearch

# Item errors that are about the document itself (its fields do not fit the mapping, a value
# is malformed or too long): the same document fails the same way every time.
ES_DOCUMENT_ERRORS = frozenset(
    {
        "mapper_parsing_exception",
        "document_parsing_exception",
        "strict_dynamic_mapping_exception",
        "illegal_argument_exception",
        "parse_exception",
        "x_content_parse_exception",
        "json_parse_exception",
        "action_request_validation_exception",
        "invalid_type_name_exception",
        "mapper_exception",
        "number_format_exception",
        "date_time_parse_exception",
    }
)
# ...except these messages, which name the cluster's state (an alias swap in progress, a
# missing write index), not the document.
ES_CLUSTER_STATE_MESSAGES = ("no write index is defined", "alias [", "require_alias")
VERSION_CONFLICT = "version_conflict_engine_exception"


def es_item_verdict(status: Any, error_type: str, reason: str) -> Verdict:
    """One bulk item's outcome. Unknown 4xx types are RETRY: wrongly retrying costs a stuck
    partition that logs why; wrongly dead-lettering would drain the whole stream to the DLQ."""
    if isinstance(status, int) and 200 <= status < 300:
        return Verdict.OK
    if error_type == VERSION_CONFLICT or status == 409:
        return Verdict.OK  # the index holds this version or a newer one of the article
    if not isinstance(status, int) or status == 429 or status >= 500:
        return Verdict.RETRY
    if status == 413:
        return Verdict.DEAD  # this one document is over the request size limit
    if error_type in ES_DOCUMENT_ERRORS and not any(
        m in reason for m in ES_CLUSTER_STATE_MESSAGES
    ):
        return Verdict.DEAD
    return Verdict.RETRY


def es_request_verdict(status: int | None, error_type: str | None, chunk_size: int) -> Verdict:
    """A whole bulk request failed with HTTP ``status`` (None: no response at all).

    413 means the body is too large: DEAD for a lone document, otherwise split it (the
    caller splits on DEAD with more than one document). A 400 is only the document's
    fault when Elasticsearch itself says so with a document-level error type; a 400 without
    one (a proxy, a gateway) is RETRY like every other status, or no status at all."""
    if status == 413:
        return Verdict.DEAD
    if status == 400 and (chunk_size > 1 or (error_type or "") in ES_DOCUMENT_ERRORS):
        return Verdict.DEAD
    return Verdict.RETRY


# Item-level 5xx that keep coming back for one document while the cluster takes other writes
# are that document's fault (a poison record); 429 and cluster-state errors never are.
POISON_ATTEMPTS = 8


def may_be_poison(status: Any, error_type: str) -> bool:
    return isinstance(status, int) and status >= 500 and error_type != "cluster_block_exception"
