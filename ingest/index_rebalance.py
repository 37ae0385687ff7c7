"""Rebalance bookkeeping for the indexer: which in-flight records became stale because their
partition was revoked, and which partitions must be rewound to their last commit."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any


class _Revocations:
    """ConsumerRebalanceListener state: a revocation counter per partition. kafka-python runs the
    callbacks inside ``consumer.poll()`` (before that poll fetches), and they must return
    promptly, so they only count; records are stamped with the count when polled and dropped
    as stale when it has moved on.

    A revoked partition that comes straight back to us (eager rebalance: everything is revoked,
    then reassigned) keeps its fetch position in kafka-python, which is past the in-flight
    records we just dropped: such partitions are queued for a rewind to the last commit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._epochs: dict[tuple[str, int], int] = {}
        self._revoked: set[tuple[str, int]] = set()
        self._rewind: set[tuple[str, int]] = set()
        self.assigned_once = threading.Event()

    def on_partitions_revoked(self, revoked: Iterable[Any]) -> None:
        with self._lock:
            for tp in revoked:
                key = (tp.topic, tp.partition)
                self._epochs[key] = self._epochs.get(key, 0) + 1
                self._revoked.add(key)

    def on_partitions_assigned(self, assigned: Iterable[Any]) -> None:
        with self._lock:
            keys = {(tp.topic, tp.partition) for tp in assigned}
            self._rewind |= keys & self._revoked
            self._revoked.clear()
        self.assigned_once.set()

    def on_partitions_lost(self, lost: Iterable[Any]) -> None:
        self.on_partitions_revoked(lost)

    def epochs(self) -> dict[tuple[str, int], int]:
        with self._lock:
            return dict(self._epochs)

    def take_rewinds(self) -> set[tuple[str, int]]:
        with self._lock:
            out, self._rewind = self._rewind, set()
            return out

    def request_rewind(self, keys: Iterable[tuple[str, int]]) -> None:
        with self._lock:
            self._rewind |= set(keys)


def _listener(rev: _Revocations) -> Any:
    from kafka import ConsumerRebalanceListener

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked: Any) -> None:
            rev.on_partitions_revoked(revoked)

        def on_partitions_assigned(self, assigned: Any) -> None:
            rev.on_partitions_assigned(assigned)

        def on_partitions_lost(self, lost: Any) -> None:
            rev.on_partitions_lost(lost)

    return Listener()
