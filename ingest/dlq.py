"""Reading and re-driving dead letters (``newsflow dlq list|show|replay``).

Replay sends the kept original back to the topic it was read from (``news.raw`` for records
rejected by the producer or the worker, ``news.enriched`` for the indexer's), with headers that
say it is a replay and how many times it has been replayed. Stages that dead-letter a replayed
record copy that count into the new dead letter (``DeadLetter.replays``), so a record that keeps
failing stops being replayed at ``max_replays``. Every replay is appended to an audit log
(JSONL), which also keeps the same dead letter from being replayed twice."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from newsflow.core.clients import kafka_config, kafka_producer_config
from newsflow.core.contract import DeadLetter
from newsflow.core.deadletter import REPLAYS_HEADER, original_bytes
from newsflow.core.settings import Settings

REPLAYED_FROM_HEADER = "newsflow-replayed-from"
DEFAULT_MAX_REPLAYS = 3


@dataclass(frozen=True)
class Entry:
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def where(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass
class Filters:
    stage: str | None = None
    reason: str | None = None  # substring of error_type or error, case-insensitive
    since: datetime | None = None
    until: datetime | None = None

    def match(self, dl: DeadLetter) -> bool:
        if self.stage and dl.stage != self.stage:
            return False
        if self.reason:
            needle = self.reason.lower()
            if needle not in dl.error_type.lower() and needle not in dl.error.lower():
                return False
        if self.since and dl.ts < self.since:
            return False
        return not (self.until and dl.ts > self.until)


def read_dead_letters(settings: Settings, filters: Filters | None = None) -> Iterator[Entry]:
    """Every dead letter on the DLQ topic from the beginning to its current end (not live)."""
    from kafka import KafkaConsumer, TopicPartition

    filters = filters or Filters()
    consumer = KafkaConsumer(
        **kafka_config(settings), group_id=None, enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    try:
        parts = consumer.partitions_for_topic(settings.topic_dlq) or set()
        tps = [TopicPartition(settings.topic_dlq, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        deadline = time.monotonic() + 120
        while remaining and time.monotonic() < deadline:
            for tp, msgs in consumer.poll(timeout_ms=1000).items():
                for m in msgs:
                    entry = _entry(m)
                    if entry is not None and filters.match(entry.letter):
                        yield entry
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()


def _entry(message: Any) -> Entry | None:
    try:
        letter = DeadLetter.model_validate_json(message.value)
    except (ValidationError, ValueError, TypeError):
        return None  # not a dead letter of ours: nothing to replay
    return Entry(message.partition, message.offset, letter)


def find(settings: Settings, where: str) -> Entry | None:
    """``PARTITION:OFFSET`` (or ``OFFSET`` on partition 0)."""
    part, _, off = where.rpartition(":")
    partition, offset = int(part or 0), int(off)
    for entry in read_dead_letters(settings):
        if entry.partition == partition and entry.offset == offset:
            return entry
    return None


def target_topic(settings: Settings, dl: DeadLetter) -> str:
    if dl.source_topic:
        return dl.source_topic
    return settings.topic_enriched if dl.stage == "index" else settings.topic_raw


@dataclass
class ReplayReport:
    replayed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"replayed": len(self.replayed), "skipped": len(self.skipped),
                "records": self.replayed, "skipped_records": self.skipped}


def audit_path(settings: Settings) -> Path:
    return settings.stack_dir / "audit" / f"{settings.topic_dlq}.replays.jsonl"


def _already_replayed(path: Path) -> set[str]:
    if not path.exists():
        return set()
    done = set()
    for line in path.read_bytes().splitlines():
        if line.strip():
            done.add(orjson.loads(line)["dead_letter"])
    return done


def _skip_reason(entry: Entry, done: set[str], max_replays: int, key: str) -> str | None:
    dl = entry.letter
    if key in done:
        return "already replayed (see the audit log)"
    if dl.replays >= max_replays:
        return f"gave up: replayed {dl.replays} time(s) already (max {max_replays})"
    if dl.original_truncated:
        return "original was cut when dead-lettered: replay it from its source coordinates"
    return None


def replay(
    settings: Settings, entries: list[Entry], *, max_replays: int = DEFAULT_MAX_REPLAYS,
    dry_run: bool = False, audit: Path | None = None,
) -> ReplayReport:
    from kafka import KafkaProducer

    audit = audit or audit_path(settings)
    done = _already_replayed(audit)
    report = ReplayReport()
    producer = None if dry_run else KafkaProducer(**kafka_producer_config(settings))
    try:
        for entry in entries:
            dl = entry.letter
            key = f"{settings.topic_dlq}[{entry.partition}]@{entry.offset}"
            row = {"dead_letter": key, "stage": dl.stage, "error_type": dl.error_type,
                   "key": dl.key, "target": target_topic(settings, dl), "replays": dl.replays + 1}
            why = _skip_reason(entry, done, max_replays, key)
            if why:
                report.skipped.append({**row, "why": why})
                continue
            if producer is not None:
                headers = [(REPLAYS_HEADER, str(dl.replays + 1).encode()),
                           (REPLAYED_FROM_HEADER, key.encode())]
                producer.send(row["target"], key=(dl.key or "").encode() or None,
                              value=original_bytes(dl), headers=headers).get(timeout=60)
                _append(audit, {**row, "ts": datetime.now().astimezone().isoformat()})
            report.replayed.append(row)
    finally:
        if producer is not None:
            producer.close()
    return report


def _append(path: Path, row: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as fh:
        fh.write(orjson.dumps(row) + b"\n")
