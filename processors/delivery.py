"""Getting the worker's outputs to the broker: every output of a batch is acknowledged, or
dead-lettered with its reason, before the batch is acked (Faust commits it).

Nothing escapes as an exception: a send that raises on the spot (record over the producer's
limit, buffer timeout) is judged like a failed acknowledgement. Failures the record causes
(``newsflow.core.failures``: too large for the topic, invalid topic) send a dead letter in its
place, keeping the raw input; failures of the cluster are retried -- for as long as it takes,
because acking past an unsent record would lose it, but logged with how long it has lasted.
A dead letter refused as too large is cut down step by step until it fits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import (
    REPLAYS_HEADER,
    SHRINK_BUDGETS,
    dead_letter,
    encode_dead_letter,
    shrink_dead_letter,
)
from newsflow.core.failures import Verdict, is_size_error, kafka_send_verdict

log = logging.getLogger(__name__)
SEND_RETRY_CAP = 30.0
ROUTE_STAGE = "route"


@dataclass
class Output:
    """One record to send, with what is needed to dead-letter it instead."""

    topic: Any  # faust.TopicT
    key: bytes
    value: bytes
    raw: bytes  # the input record as this station read it (news.raw, or the stage's topic)
    where: tuple[str | None, int | None, int | None]
    dead: DeadLetter | None = None  # set when this output is itself a dead letter
    shrink_step: int = 0
    replays: int = 0  # carried as a header so later stages know the record is a replay
    timestamp: float | None = None  # seconds; None: the producer's clock at send time
    partition: int | None = None  # None: by key (the near-duplicate stage's topic: always 0)

    @property
    def headers(self) -> list[tuple[str, bytes]] | None:
        return [(REPLAYS_HEADER, str(self.replays).encode())] if self.replays else None


# Starts one send and returns its acknowledgement (awaited later); raises when the producer
# refuses the record on the spot.
Sender = Callable[[Output], Awaitable[Awaitable[Any]]]
Where = tuple[str | None, int | None, int | None]
# The input a dead letter replacing ``out`` keeps, and where it was read: ``out.raw`` and
# ``out.where`` unless a station knows better (the near-duplicate stage reads news.raw back).
Original = Callable[[Output], Awaitable[tuple[bytes, Where]]]


def send_via_producer(app: Any) -> Sender:
    """Straight to the app's producer (aiokafka underneath), what the worker uses. Faust's
    ``Topic.send`` wraps every record in a FutureMessage, a channel hop and sensor calls: a
    quarter of the worker's event-loop time for nothing we read (our own metrics count sends)."""

    async def start(out: Output) -> Awaitable[Any]:
        return cast(Awaitable[Any], await app.producer.send(
            out.topic.get_topic_name(), out.key, out.value, out.partition, out.timestamp,
            out.headers))

    return start


async def _send_all(send: Sender, outputs: list[Output]) -> list[BaseException | None]:
    """Start every send in order, then collect every acknowledgement: one error (or None) per
    output. No task per record: the sends are started one after the other (each returns as soon
    as the record is in the producer's buffer) and their futures awaited together."""
    acks: list[Awaitable[Any] | BaseException] = []
    for out in outputs:
        try:
            acks.append(await send(out))
        except Exception as exc:  # judged by the caller; never allowed to end the agent
            acks.append(exc)
    errors: list[BaseException | None] = []
    for ack in acks:
        if isinstance(ack, BaseException):
            errors.append(ack)
            continue
        try:
            await ack
        except Exception as exc:
            errors.append(exc)
        else:
            errors.append(None)
    return errors


class Delivery:
    def __init__(self, dlq_topic: Any, send: Sender,
                 original: Original | None = None) -> None:
        self.dlq_topic = dlq_topic
        self.send = send
        self.original = original
        self.retries = 0
        self.rerouted = 0  # outputs replaced by a dead letter because the record was the cause
        self.on_dead_letter: Callable[[DeadLetter], None] = lambda dl: None

    async def deliver_all(self, outputs: list[Output]) -> None:
        """Returns once every output (or the dead letter replacing it) is acknowledged."""
        pending = outputs
        attempt = 0
        first_failure: float | None = None
        while pending:
            errors = await _send_all(self.send, pending)
            failed = [(o, e) for o, e in zip(pending, errors, strict=True) if e is not None]
            pending = [await self._next_try(o, e) for o, e in failed]
            # Unchanged outputs are retries (re-routed or shrunk ones are new attempts).
            retrying = [n for n, (o, _e) in zip(pending, failed, strict=True) if n is o]
            if not retrying:
                continue  # re-routed outputs go out at once
            attempt += 1
            self.retries += len(retrying)
            first_failure = first_failure or time.monotonic()
            delay = min(SEND_RETRY_CAP, 0.5 * 2 ** (attempt - 1))
            log.warning(
                "%d send(s) not acknowledged (attempt %d, stuck %.0fs, retrying in %.1fs; "
                "the batch is not committed meanwhile): %s",
                len(retrying), attempt, time.monotonic() - first_failure, delay,
                kafka_send_verdict(failed[0][1]).reason,
            )
            await asyncio.sleep(delay)

    async def _next_try(self, out: Output, exc: BaseException) -> Output:
        judged = kafka_send_verdict(exc)
        if judged.verdict is Verdict.RETRY:
            return out
        if out.dead is None:  # an enriched record the topic cannot take: dead-letter it
            self.rerouted += 1
            raw, where = await self.original(out) if self.original else (out.raw, out.where)
            dl = dead_letter(
                ROUTE_STAGE,
                f"enriched record of {len(out.value)} bytes refused by {out.topic}: "
                f"{judged.reason}",
                judged.error_type,
                raw,
                key=out.key.decode("utf-8", "replace"),
                source_topic=where[0],
                source_partition=where[1],
                source_offset=where[2],
                replays=out.replays,
            )
            self.on_dead_letter(dl)
            log.warning("dead-lettered %s at stage route: %s", dl.key, dl.error[:300])
            return Output(self.dlq_topic, out.key, encode_dead_letter(dl), raw, where, dl,
                          replays=out.replays)
        if is_size_error(exc) and out.shrink_step < len(SHRINK_BUDGETS):
            dl = shrink_dead_letter(out.dead, out.shrink_step)
            log.warning("dead letter %s refused as too large: original cut", dl.key)
            return Output(out.topic, out.key, encode_dead_letter(dl), out.raw, out.where, dl,
                          out.shrink_step + 1, out.replays)
        log.error("dead letter %s cannot be sent (%s); retrying", out.dead.key, judged.reason)
        return out
