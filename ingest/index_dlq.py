"""Sending the indexer's dead letters: acknowledged before any offset past them is committed.

A send the broker refuses as too large (a DLQ topic with a smaller ``max.message.bytes`` than
ours, a producer limit) is re-sent with the original cut down, step by step, so that it always
gets through in a bounded number of sends; every other failure is retried (and said so in the
log) because committing past an unsent dead letter would lose the record."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from ingest.index_batch import Failure, backoff_delay, dead_letter
from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import SHRINK_BUDGETS, encode_dead_letter, shrink_dead_letter
from newsflow.core.failures import Verdict, is_size_error, kafka_send_verdict

log = logging.getLogger("newsflow.indexer")
DLQ_SEND_TIMEOUT = 30.0


class DeadLetterSender:
    def __init__(
        self,
        make_producer: Callable[[], Any],
        topic: str,
        max_retry_seconds: float,
        wait: Callable[[float], None],
        keep_current: Callable[[list[Failure]], list[Failure]],
    ) -> None:
        self.make_producer = make_producer
        self.producer = make_producer()
        self.topic = topic
        self.max_retry_seconds = max_retry_seconds
        self.wait = wait  # backs off without leaving the group; raises when stopping
        self.keep_current = keep_current  # drops entries of partitions revoked meanwhile
        self.sent = 0

    def send_all(self, failures: list[Failure]) -> None:
        """Every failure on the DLQ, acknowledged; returns only when that is true (or raises
        the shutdown signal of ``wait``)."""
        pending: list[tuple[Failure, DeadLetter, int]] = [(f, dead_letter(f), 0) for f in failures]
        attempt = 0
        first_failure: float | None = None
        while pending:
            pending = self._send_once(pending)
            if not pending:
                break
            attempt += 1
            first_failure = first_failure or time.monotonic()
            delay = backoff_delay(attempt, self.max_retry_seconds)
            log.warning(
                "%d dead letter(s) not acknowledged (attempt %d, stuck %.0fs, retrying in "
                "%.1fs): offsets stay uncommitted until they are",
                len(pending), attempt, time.monotonic() - first_failure, delay,
            )
            self.wait(delay)
            current = {id(f) for f in self.keep_current([p[0] for p in pending])}
            pending = [p for p in pending if id(p[0]) in current]

    def _send_once(
        self, pending: list[tuple[Failure, DeadLetter, int]]
    ) -> list[tuple[Failure, DeadLetter, int]]:
        """One send of each; returns what must be sent again (shrunk when it was too large)."""
        futures: list[tuple[Failure, DeadLetter, int, Any, BaseException | None]] = []
        for f, dl, step in pending:
            try:
                fut = self.producer.send(self.topic, key=f.record.key, value=encode_dead_letter(dl))
                futures.append((f, dl, step, fut, None))
            except Exception as exc:  # raised on the spot: too large for the producer, buffer
                futures.append((f, dl, step, None, exc))
        again: list[tuple[Failure, DeadLetter, int]] = []
        fatal = False
        for f, dl, step, fut, error in futures:
            if fut is not None:
                try:
                    fut.get(timeout=DLQ_SEND_TIMEOUT)
                except Exception as exc:
                    error = exc
            if error is None:
                self._log_sent(f)
                continue
            fatal = fatal or kafka_send_verdict(error).verdict is Verdict.DEAD
            again.append(self._next_try(f, dl, step, error))
        if fatal:
            self._renew_producer()
        return again

    def _renew_producer(self) -> None:
        """An idempotent kafka-python producer that had a batch refused (too large) is in a
        fatal state: every later send fails the same way. Start a fresh one."""
        try:
            self.producer.close(timeout=5)
        except Exception:
            log.debug("error closing the failed DLQ producer", exc_info=True)
        self.producer = self.make_producer()

    def close(self) -> None:
        self.producer.close()

    def _next_try(
        self, f: Failure, dl: DeadLetter, step: int, error: BaseException
    ) -> tuple[Failure, DeadLetter, int]:
        judged = kafka_send_verdict(error)
        if judged.verdict is Verdict.DEAD and is_size_error(error) and step < len(SHRINK_BUDGETS):
            log.warning(
                "dead letter for %s[%d]@%d refused as too large (%s): cutting its original to "
                "%d bytes", f.record.topic, f.record.partition, f.record.offset, judged.reason,
                SHRINK_BUDGETS[step],
            )
            return f, shrink_dead_letter(dl, step), step + 1
        log.warning("dead letter send failed: %s", judged.reason)
        return f, dl, step

    def _log_sent(self, f: Failure) -> None:
        self.sent += 1
        log.info(
            "dead-lettered %s[%d]@%d: %s", f.record.topic, f.record.partition, f.record.offset,
            f.error[:200],
        )
