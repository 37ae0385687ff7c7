"""One bulk pass of the indexer: a batch's rendered documents -> Elasticsearch, with what came of
each (indexed, superseded, dead, to retry, suspected poison).

The indexer (``ingest.indexer``) runs a batch's first pass in a helper thread while it renders
the next batch, and any further passes (retries) itself; this module owns the Elasticsearch
side of both and never touches Kafka."""

from __future__ import annotations

import time
from typing import Any, cast

from ingest.index_batch import (
    BulkOutcome,
    Failure,
    IndexerStats,
    Prepared,
    Verdict,
    _short,
    bulk_lines,
    chunk_by_bytes,
    classify_bulk_response,
    classify_request_error,
)
from ingest.metrics import IndexerMetrics
from newsflow.core.failures import POISON_ATTEMPTS


class BulkPass:
    """What one pass over a batch's pending documents produced."""

    def __init__(self) -> None:
        self.retry: list[Prepared] = []
        self.dead: list[Failure] = []
        self.reasons: list[str] = []
        self.suspects: dict[int, Failure] = {}  # by id(Prepared.record): maybe poison
        self.any_ok = False


def poison_out(result: BulkPass, strikes: dict[int, int], cluster_took_writes: bool,
               dead: list[Failure]) -> list[Prepared]:
    """Items that failed with an item-level 5xx ``POISON_ATTEMPTS`` times in a row while the
    cluster accepted other documents are the document's fault: dead-letter them."""
    still: list[Prepared] = []
    for p in result.retry:
        key = id(p.record)
        suspect = result.suspects.get(key)
        strikes[key] = strikes.get(key, 0) + 1 if suspect else 0
        if suspect and cluster_took_writes and strikes[key] >= POISON_ATTEMPTS:
            dead.append(Failure(p.record, f"poison_{suspect.error_type}",
                                f"failed {strikes[key]} times while other documents were "
                                f"indexed: {suspect.error}"))
        else:
            still.append(p)
    return still


class BulkWriter:
    """Bulk requests into ``alias``; counts into ``stats`` and ``metrics``. Thread-safe for one
    caller at a time (the indexer never has two passes running)."""

    def __init__(self, es: Any, alias: str, stats: IndexerStats, metrics: IndexerMetrics) -> None:
        self.es, self.alias, self.stats, self.metrics = es, alias, stats, metrics

    def bulk_once(self, items: list[Prepared], refresh: bool = False) -> BulkPass:
        """One pass over ``items``; ``refresh``: the last request asks Elasticsearch to make the
        pass searchable at once (the shards it wrote to) rather than at the next interval."""
        out = BulkPass()
        work = list(chunk_by_bytes(items))
        while work:
            chunk = work.pop(0)
            self.stats.bulk_requests += 1
            outcome = self._request(chunk, work, out, refresh=refresh and not work)
            if outcome is None:
                continue
            self.stats.indexed += len(outcome.ok) - outcome.superseded
            self.metrics.indexed(p.record for p in outcome.ok)
            self.stats.superseded += outcome.superseded
            out.any_ok = out.any_ok or bool(outcome.ok)
            out.dead.extend(outcome.dead)
            out.retry.extend(outcome.retry)
            out.reasons.extend(outcome.retry_reasons)
            out.suspects.update((id(f.record), f) for f in outcome.suspects)
        return out

    def _request(self, chunk: list[Prepared], work: list[list[Prepared]], out: BulkPass,
                 refresh: bool = False) -> BulkOutcome | None:
        """Send one bulk request; a request-level failure is recorded in ``out`` (or split
        into ``work``) and returns None."""
        from elastic_transport import TransportError
        from elasticsearch import ApiError

        started = time.monotonic()
        try:
            resp = self.es.bulk(
                index=self.alias,
                # pre-encoded NDJSON lines: the client forwards bytes untouched
                operations=cast(Any, [line for p in chunk for line in bulk_lines(p)]),
                require_alias=True,
                refresh=True if refresh else None,
            )
        except ApiError as exc:
            status = exc.meta.status
            self.metrics.request_error(status)
            etype = exc.error if isinstance(exc.error, str) else None
            if classify_request_error(status, etype, len(chunk)) is Verdict.DEAD:
                if len(chunk) == 1:
                    out.dead.append(Failure(chunk[0].record, f"http_{status}", _short(str(exc))))
                else:  # find the culprit: halve the request
                    mid = len(chunk) // 2
                    work[:0] = [chunk[:mid], chunk[mid:]]
                return None
            out.retry.extend(chunk)
            out.reasons.append(f"HTTP {status}: {_short(str(exc), 300)}")
            return None
        except TransportError as exc:  # connection refused/reset, timeouts
            self.metrics.request_error(None)
            out.retry.extend(chunk)
            out.reasons.append(f"{type(exc).__name__}: {_short(str(exc), 300)}")
            return None
        self.metrics.bulk(time.monotonic() - started, len(chunk))
        self.metrics.item_errors(resp.body.get("items", []))
        return classify_bulk_response(chunk, resp.body.get("items", []))
