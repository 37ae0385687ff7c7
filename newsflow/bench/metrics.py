"""The pure parts of the bench (unit-tested): percentiles, rates from sampled counters, and the
bookkeeping of which produced article became searchable when."""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

POLL_SECONDS = 0.25
IDS_CHUNK = 5000
# The first ids query of a poll asks for the oldest pending ids, twice as many as became
# searchable and at least IDS_FIRST; each further query doubles, up to IDS_CHUNK. An ids query
# costs Elasticsearch about 4 ms of CPU for 250 ids and 33 ms for 5,000 (measured on the local
# node): 5,000 at each of 4 polls a second could take an eighth of a core from the pipeline.
IDS_FIRST = 256
RSS_POLL_SECONDS = 0.2
DEFAULT_STALL_SECONDS = 300.0
Say = Callable[[str], None]
Series = Sequence[tuple[float, int]]


class BenchError(RuntimeError):
    """The benchmark could not run or did not finish; the message says why."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks (numpy's
    default), so p50 of two values is their mean rather than one of them."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def latency_summary(latencies: Sequence[float], resolution: float | None) -> dict[str, Any]:
    if not latencies:
        return {"p50": None, "p95": None, "p99": None, "max": None, "resolution": resolution,
                "samples": 0}
    return {
        "p50": round(percentile(latencies, 50), 3),
        "p95": round(percentile(latencies, 95), 3),
        "p99": round(percentile(latencies, 99), 3),
        "max": round(max(latencies), 3),
        "resolution": None if resolution is None else round(resolution, 3),
        "samples": len(latencies),
    }


@dataclass(frozen=True)
class StageRate:
    seconds: float
    articles_per_second: float | None
    start: float
    end: float
    complete: bool  # the series reached its target

    def as_dict(self, origin: float = 0.0) -> dict[str, Any]:
        """``origin``: the produce start, so stages line up on one timeline in the report."""
        return {
            "seconds": round(self.seconds, 3),
            "articles_per_second": (
                None if self.articles_per_second is None else round(self.articles_per_second, 1)
            ),
            "complete": self.complete,
            "from": round(self.start - origin, 3),
            "to": round(self.end - origin, 3),
        }


def rate_from_series(series: Series, target: int) -> StageRate | None:
    """Throughput of a monotone counter sampled as ``(time, count)``: from the first sample with
    a non-zero count to the first that reaches ``target``.

    Starting at the first non-zero sample (and subtracting its count) measures the stage while it
    works, not while it waits for its input. When everything landed between two samples, the
    preceding sample is the start: the rate is then bounded by the sampling interval, which is
    the honest answer. None when the counter never moved."""
    if target <= 0 or not series:
        return None
    first = next((i for i, (_, c) in enumerate(series) if c > 0), None)
    if first is None:
        return None
    end = next((i for i in range(first, len(series)) if series[i][1] >= target), None)
    complete = end is not None
    if end is None:
        end = len(series) - 1
    start = first
    if series[end][0] <= series[start][0] or min(series[end][1], target) <= series[start][1]:
        if start == 0:
            return StageRate(0.0, None, series[0][0], series[end][0], complete)
        start -= 1
    t0, c0 = series[start]
    t1, c1 = series[end]
    done = min(c1, target) - c0
    seconds = t1 - t0
    rate = done / seconds if seconds > 0 and done > 0 else None
    return StageRate(seconds, rate, t0, t1, complete)


def count_at(series: Series, t: float) -> int:
    """The last sampled value at or before ``t`` (0 before the first sample)."""
    i = bisect.bisect_right([s[0] for s in series], t)
    return series[i - 1][1] if i else 0


def max_lag(upstream: Series, downstream: Series) -> int:
    """Largest ``upstream - downstream`` at the downstream's sample times: how far the indexer
    fell behind the worker. Small means the indexer kept up and was limited by its input."""
    return max((count_at(upstream, t) - c for t, c in downstream), default=0)


def cpu_share(series: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Cores used over [start, end] from cumulative CPU seconds sampled as ``(time, seconds)``:
    1.0 means one core flat out, which for a single-threaded Python process is the ceiling."""
    inside = [(t, c) for t, c in series if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    (t0, c0), (t1, c1) = inside[0], inside[-1]
    return round((c1 - c0) / (t1 - t0), 3)


def median_interval(times: Sequence[float]) -> float | None:
    """The typical gap between successive polls: the resolution of a time stamped by polling."""
    if len(times) < 2:
        return None
    gaps = [b - a for a, b in itertools.pairwise(times)]
    return percentile(gaps, 50)


def doubling_chunks(ids: Sequence[str], first: int, cap: int) -> list[list[str]]:
    """``ids`` in consecutive chunks of ``first``, then twice that, ... up to ``cap`` each."""
    out: list[list[str]] = []
    i, size = 0, max(1, first)
    while i < len(ids):
        out.append(list(ids[i:i + size]))
        i += size
        size = min(cap, size * 2)
    return out


class VisibilityTracker:
    """Which produced ids are searchable yet, and when each was sent and first seen.

    Thread-safe: the producing thread calls ``sent``, the pollers ``mark_visible`` / ``drop``.
    Pending ids stay in send order, so the oldest (most likely visible) are queried first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: dict[str, float] = {}
        self._pending: dict[str, None] = {}  # dict as an ordered set
        self._visible: dict[str, float] = {}
        self._dead: dict[str, str] = {}  # id -> stage that dead-lettered it
        self.duplicates = 0
        self.last_event: float | None = None  # last time an id became visible or dead

    def sent(self, doc_id: str, t: float) -> None:
        with self._lock:
            if doc_id in self._sent:
                # The same URL twice is one document: its latency counts from the first send.
                self.duplicates += 1
                return
            self._sent[doc_id] = t
            if doc_id not in self._dead:
                self._pending[doc_id] = None

    def pending_ids(self) -> list[str]:
        """Ids not yet searchable nor dead-lettered, oldest sent first."""
        with self._lock:
            return list(self._pending)

    def mark_visible(self, ids: Iterable[str], t: float) -> int:
        """Stamp ids first seen at ``t``; returns how many were new."""
        n = 0
        with self._lock:
            for doc_id in ids:
                if doc_id in self._pending:
                    del self._pending[doc_id]
                    self._visible[doc_id] = t
                    n += 1
            if n:
                self.last_event = t if self.last_event is None else max(self.last_event, t)
        return n

    def drop(self, doc_id: str, stage: str, t: float) -> bool:
        """A dead-lettered id: it will never be searchable, so stop waiting for it."""
        with self._lock:
            if doc_id in self._dead or doc_id in self._visible:
                return False
            self._dead[doc_id] = stage
            self._pending.pop(doc_id, None)
            if doc_id in self._sent:
                self.last_event = t if self.last_event is None else max(self.last_event, t)
            return True

    @property
    def n_sent(self) -> int:
        with self._lock:
            return len(self._sent)

    @property
    def n_pending(self) -> int:
        with self._lock:
            return len(self._pending)

    @property
    def n_visible(self) -> int:
        with self._lock:
            return len(self._visible)

    @property
    def n_dead(self) -> int:
        """Dead-lettered ids among those sent (keys the producer never sent do not count)."""
        with self._lock:
            return sum(1 for k in self._dead if k in self._sent)

    def dead_by_stage(self) -> dict[str, int]:
        with self._lock:
            out: dict[str, int] = {}
            for k, stage in self._dead.items():
                if k in self._sent:
                    out[stage] = out.get(stage, 0) + 1
            return out

    def latencies(self) -> list[float]:
        with self._lock:
            return [t - self._sent[k] for k, t in self._visible.items()]

    def accounted(self) -> int:
        """Ids whose fate is known: searchable or dead-lettered."""
        with self._lock:
            return len(self._sent) - len(self._pending)
