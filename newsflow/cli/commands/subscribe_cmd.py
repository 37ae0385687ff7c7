"""``newsflow subscribe``: follow enriched articles live, filtered, in the terminal or as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ingest.subscription import Delivery, Subscription


def parse_since(value: str) -> datetime:
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time") from exc
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def subscribe(
    label: Annotated[list[str] | None, typer.Option(
        "--label", help="topic label (repeatable: any of them)")] = None,
    entity: Annotated[str | None, typer.Option(
        help="articles naming this entity, in any written form (وبوتين, لبوتين, أ/ا)")] = None,
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="source (repeatable)")] = None,
    language: Annotated[list[str] | None, typer.Option(
        "--language", help="language code (repeatable)")] = None,
    from_beginning: Annotated[bool, typer.Option(
        "--from-beginning", help="start with everything Kafka still holds")] = False,
    since: Annotated[str | None, typer.Option(
        help="start with articles written to Kafka at/after this ISO date or date-time")] = None,
    group: Annotated[str | None, typer.Option(
        help="consumer group: resume where it left off (commits after printing)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object per line")] = False,
) -> None:
    """Follow enriched articles as they arrive (default: new ones only). Ctrl-C stops.

    Only --label: reads the per-label topics (news.topic.<label>), which also carry
    retractions when an article loses a label. Otherwise filters news.enriched."""
    import signal

    from rich.console import Console

    from ingest.subscription import Start, Subscription

    if from_beginning and since:
        raise typer.BadParameter("--from-beginning and --since exclude each other")
    start: Start = "beginning" if from_beginning else parse_since(since) if since else "new"
    err = Console(stderr=True, highlight=False)
    try:
        sub = Subscription(label or (), entity, source or (), language or (),
                           start=start, group=group)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    sub.on_ready = lambda s: err.print(_ready_line(s, start), style="dim")
    # A supervisor's SIGTERM stops as cleanly as Ctrl-C: last positions committed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    out = Console(highlight=False)
    try:
        for delivery in sub.deliveries():
            if delivery is not None:
                _emit(out, delivery, as_json)
    except KeyboardInterrupt:
        pass
    except LookupError as exc:
        err.print(f"[bold red]subscribe failed:[/] {exc.args[0]}")
        raise typer.Exit(2) from exc
    finally:
        sub.close()
    err.print("stopped", style="dim")


def _ready_line(sub: Subscription, start: object) -> str:
    where = {"new": "new articles only", "beginning": "from the beginning"}.get(
        str(start), f"since {start}")
    group = f", group {sub.group}" if sub.group else ""
    return f"subscribed to {', '.join(sub.topics)} ({where}{group}); Ctrl-C stops"


def _emit(out: Console, delivery: Delivery, as_json: bool) -> None:
    import sys

    if as_json:
        sys.stdout.buffer.write(delivery.value.rstrip(b"\n") + b"\n")
        sys.stdout.buffer.flush()
        return
    _show(out, delivery)


def _is_arabic(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum("\u0600" <= c <= "\u06ff" for c in letters) > len(letters) / 2


def _show(out: Console, delivery: Delivery) -> None:
    """Title (right-aligned when Arabic: terminals with bidi support then read it naturally),
    then source · time · labels, then the most mentioned entities."""
    from collections import Counter

    from rich.text import Text

    from newsflow.core.contract import LabelRetraction

    item = delivery.item
    if isinstance(item, LabelRetraction):
        out.print(Text(f"✗ {item.id} is no longer {item.label} (now: "
                       f"{', '.join(item.labels) or 'no label'})", style="yellow"))
        return
    title = item.title or "(no title)"
    out.print(Text(title, style="bold"), justify="right" if _is_arabic(title) else "left")
    when = (item.published_at or item.ingested_at).isoformat(timespec="minutes")
    labels = ", ".join(t.label for t in item.topics) or "-"
    out.print(Text(f"{item.source or '?'} · {when} · {labels}", style="dim"))
    names = Counter(e.canonical for e in item.entities).most_common(5)
    if names:
        line = "، ".join(name for name, _ in names)
        out.print(Text(line, style="green"), justify="right" if _is_arabic(line) else "left")
    out.print(Text(item.url, style="blue"))
    out.print()
