"""``newsflow dlq list|show|replay``: look at dead letters and re-drive them after a fix."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer

from newsflow.cli.base import fail

dlq_app = typer.Typer(help="Dead letters: list, show, replay.", no_args_is_help=True)

StageOpt = Annotated[
    str | None,
    typer.Option(help="only this stage (produce, decode, validate, enrich, route, index)"),
]
ReasonOpt = Annotated[
    str | None, typer.Option(help="substring of the error type or message (case-insensitive)")
]
SinceOpt = Annotated[str | None, typer.Option(help="dead-lettered at or after (ISO 8601)")]
UntilOpt = Annotated[str | None, typer.Option(help="dead-lettered at or before (ISO 8601)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print as JSON")]


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise fail(f"--{name}: not an ISO 8601 time: {value!r}", 2) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _filters(stage: str | None, reason: str | None, since: str | None, until: str | None) -> Any:
    from ingest.dlq import Filters

    return Filters(stage, reason, _time(since, "since"), _time(until, "until"))


def _summary(entry: Any) -> dict[str, Any]:
    from newsflow.core.sanitize import terminal_safe

    dl = entry.letter
    return {
        "at": entry.where, "ts": dl.ts.isoformat(), "stage": dl.stage,
        "error_type": dl.error_type, "key": dl.key, "replays": dl.replays,
        "error": terminal_safe(dl.error[:160]),
    }


def list_dead_letters(
    stage: StageOpt = None, reason: ReasonOpt = None, since: SinceOpt = None,
    until: UntilOpt = None, as_json: JsonOpt = False,
) -> None:
    """Dead letters on the DLQ topic (oldest first), with a count by stage and reason."""
    from rich.console import Console
    from rich.table import Table

    from ingest.dlq import read_dead_letters
    from newsflow.core.settings import get_settings

    rows = [_summary(e) for e in read_dead_letters(get_settings(),
                                                   _filters(stage, reason, since, until))]
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title=f"{len(rows)} dead letter(s)")
    for col in ("at", "ts", "stage", "error_type", "key", "replays", "error"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) if r[c] is not None else "-" for c in
                        ("at", "ts", "stage", "error_type", "key", "replays", "error")))
    Console().print(table)
    counts = Counter(f"{r['stage']}/{r['error_type']}" for r in rows)
    for what, n in counts.most_common():
        typer.echo(f"{n:>8}  {what}")


def show(
    where: Annotated[str, typer.Argument(help="PARTITION:OFFSET on the DLQ topic (see `list`)")],
) -> None:
    """One dead letter in full, with its original decoded (as JSON)."""
    from ingest.dlq import find
    from newsflow.core.deadletter import original_bytes
    from newsflow.core.sanitize import terminal_safe
    from newsflow.core.settings import get_settings

    entry = find(get_settings(), where)
    if entry is None:
        raise fail(f"no dead letter at {where}")
    data = entry.letter.model_dump(mode="json", exclude={"original", "original_b64"})
    data["original_decoded"] = original_bytes(entry.letter).decode("utf-8", "replace")
    text = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode()
    sys.stdout.write(terminal_safe(text) + "\n")


def replay(
    stage: StageOpt = None, reason: ReasonOpt = None, since: SinceOpt = None,
    until: UntilOpt = None,
    max_replays: Annotated[int, typer.Option(help="skip records replayed this often")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would be sent")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Send the kept originals of matching dead letters back to their source topics, with a
    replay-count header and an audit log entry. Each dead letter is replayed at most once, and
    a record that has failed again after MAX_REPLAYS replays is left alone."""
    from ingest.dlq import audit_path, read_dead_letters
    from ingest.dlq import replay as replay_entries
    from newsflow.core.settings import get_settings

    settings = get_settings()
    entries = list(read_dead_letters(settings, _filters(stage, reason, since, until)))
    report = replay_entries(settings, entries, max_replays=max_replays, dry_run=dry_run)
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
        return
    verb = "would replay" if dry_run else "replayed"
    typer.echo(f"{verb} {len(report.replayed)}, skipped {len(report.skipped)} "
               f"(audit log: {audit_path(settings)})")
    for row in report.skipped[:20]:
        typer.echo(f"  skipped {row['dead_letter']}: {row['why']}")


dlq_app.command("list")(list_dead_letters)
dlq_app.command("show")(show)
dlq_app.command("replay")(replay)
