"""Reading article records from files: JSONL, JSON arrays, and the SaudiNewsNet daily zips.

Every record comes out as a ``SourceRecord``: either a decoded JSON object or the reason it could
not be decoded, always with its origin and raw bytes, so a bad line is reported and dead-lettered
rather than dropped or fatal."""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import ijson
import orjson


@dataclass(frozen=True, slots=True)
class SourceRecord:
    origin: str  # "file.jsonl:12" or "2015-07-21.zip/2015-07-21.json[40]"
    raw: bytes
    data: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None


def from_saudinewsnet(rec: dict[str, Any]) -> dict[str, Any]:
    """SaudiNewsNet names the body ``content`` and has only an extraction date, which is the
    closest thing it has to a publication date (papers were crawled daily)."""
    if "content" not in rec or "url" not in rec:
        return rec
    out = {k: v for k, v in rec.items() if k not in ("content", "date_extracted", "author")}
    out["body"] = rec.get("content")
    if rec.get("date_extracted"):
        out["published_at"] = str(rec["date_extracted"]).replace(" ", "T")
    meta = {k: rec[k] for k in ("author", "date_extracted") if rec.get(k)}
    if meta:
        out["metadata"] = {**meta, **(rec.get("metadata") or {})}
    return out


def _object(origin: str, raw: bytes, value: Any) -> SourceRecord:
    if not isinstance(value, dict):
        return SourceRecord(
            origin,
            raw,
            error=f"expected a JSON object, got {type(value).__name__}",
            error_type="NotAnObject",
        )
    return SourceRecord(origin, raw, data=from_saudinewsnet(value))


def _decode(origin: str, raw: bytes) -> SourceRecord:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return SourceRecord(
            origin, raw, error=f"invalid UTF-8: {exc}", error_type="UnicodeDecodeError"
        )
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return SourceRecord(origin, raw, error=f"invalid JSON: {exc}", error_type="JSONDecodeError")
    return _object(origin, raw, value)


def _iter_lines(name: str, stream: BinaryIO) -> Iterator[SourceRecord]:
    for lineno, line in enumerate(stream, start=1):
        stripped = line.strip()
        if stripped:
            yield _decode(f"{name}:{lineno}", stripped)


def _iter_document(name: str, stream: BinaryIO) -> Iterator[SourceRecord]:
    """A whole-file JSON document: an array of objects (streamed item by item, never read
    whole), or one object. A syntax error mid-array ends the file with one error record."""
    buffered: Any = stream if hasattr(stream, "peek") else io.BufferedReader(cast(Any, stream))
    if _first_byte(buffered) != b"[":
        yield _decode(name, buffered.read())
        return
    count = 0
    try:
        for item in ijson.items(buffered, "item", use_float=True):
            yield _object(f"{name}[{count}]", orjson.dumps(item), item)
            count += 1
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
        yield SourceRecord(
            f"{name}[{count}]",
            b"",
            error=f"invalid JSON after {count} item(s): {exc}",
            error_type="JSONDecodeError",
        )


def _first_byte(stream: Any) -> bytes:
    """The first non-whitespace byte, without consuming it."""
    while True:
        head: bytes = stream.peek(64)
        if not head:
            return b""
        stripped = head.lstrip()
        if stripped:
            return stripped[:1]
        stream.read(len(head))


def _iter_zip(path: Path) -> Iterator[SourceRecord]:
    with zipfile.ZipFile(path) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir() or info.filename.startswith("__MACOSX"):
                continue
            member = f"{path.name}/{info.filename}"
            # Streamed from the archive: a small zip can hold a member hundreds of MB long.
            if info.filename.endswith((".jsonl", ".ndjson")):
                with zf.open(info) as fh:
                    yield from _iter_lines(member, cast(BinaryIO, fh))
            elif info.filename.endswith(".json"):
                with zf.open(info) as fh:
                    yield from _iter_document(member, cast(BinaryIO, fh))


def _sniff(name: str, stream: BinaryIO) -> Iterator[SourceRecord]:
    """Standard input or an unknown extension: a JSON array if it starts with '[', else JSONL."""
    head = stream.peek(64)[:64] if hasattr(stream, "peek") else b""
    if head.lstrip()[:1] == b"[":
        yield from _iter_document(name, stream)
    else:
        yield from _iter_lines(name, stream)


def iter_path(path: str | Path) -> Iterator[SourceRecord]:
    if str(path) == "-":
        yield from _sniff("<stdin>", sys.stdin.buffer)
        return
    p = Path(path)
    if p.is_dir():
        for child in sorted(p.iterdir()):
            if child.suffix in (".zip", ".json", ".jsonl", ".ndjson"):
                yield from iter_path(child)
        return
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    if p.suffix == ".zip":
        yield from _iter_zip(p)
    elif p.suffix == ".json":
        with p.open("rb") as fh:
            yield from _iter_document(p.name, fh)
    else:
        with p.open("rb") as fh:
            yield from _sniff(p.name, fh)


def iter_records(paths: Iterable[str | Path], limit: int | None = None) -> Iterator[SourceRecord]:
    n = 0
    for path in paths:
        for rec in iter_path(path):
            yield rec
            n += 1
            if limit is not None and n >= limit:
                return


def count_hint(paths: Iterable[str | Path]) -> int | None:
    """Cheap total for a progress bar: lines of JSONL files; None when unknown (zips, stdin)."""
    total = 0
    for path in paths:
        p = Path(path)
        if str(path) == "-" or p.suffix in (".zip", ".json") or p.is_dir() or not p.exists():
            return None
        with p.open("rb") as fh:
            total += sum(1 for line in fh if line.strip())
    return total
