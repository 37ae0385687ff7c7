"""``newsflow search``: ranked article search in the terminal (or as JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from newsflow.core.clients import elasticsearch_client
from newsflow.core.sanitize import terminal_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ingest.search import SearchResults


def search(
    query: Annotated[str, typer.Argument(help="words or a name, Arabic or not; '' lists newest")],
    topic: Annotated[str | None, typer.Option(help="only articles with this topic label")] = None,
    entity: Annotated[str | None, typer.Option(help="only articles naming this entity")] = None,
    source: Annotated[str | None, typer.Option(help="only articles from this source")] = None,
    since: Annotated[
        str | None,
        typer.Option(help="published on/after: ISO date or Elasticsearch date math (now-7d)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="how many results")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Search indexed articles (ranked; names match with clitics and alef variants).

    Exact spellings rank first; وبوتين / لبوتين and أوكرانيا / اوكرانيا still match."""
    import orjson
    from rich.console import Console
    from rich.markup import escape

    from ingest.search import SearchError
    from ingest.search import search as run_search
    from newsflow.core.settings import get_settings

    settings = get_settings()
    es = elasticsearch_client(settings)
    try:
        results = run_search(
            es, settings, query, topic=topic, entity=entity, source=source, since=since, limit=limit
        )
    except SearchError as exc:
        # escape: an Elasticsearch reason such as "[/news/_search]" reads as a closing tag.
        message = escape(str(exc))
        Console(stderr=True).print(f"[bold red]search failed:[/] {message}", highlight=False)
        raise typer.Exit(2) from exc
    finally:
        es.close()
    if as_json:
        typer.echo(orjson.dumps(results.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    _print(Console(), results)


def _print(console: Console, results: SearchResults) -> None:
    from rich.text import Text

    console.print(
        f"[bold]{results.total}[/] match(es) for [bold cyan]{results.query or '*'}[/] "
        f"[dim]({results.took_ms} ms)[/]",
        highlight=False,
    )
    for rank, hit in enumerate(results.hits, 1):
        console.print()
        head = Text(f"{rank}. ", style="bold")
        head.append(terminal_safe(hit.title or "(no title)"), style="bold")
        console.print(head)
        score = f"{hit.score:.2f}" if hit.score is not None else "-"
        meta = f"{hit.source or '?'} · {(hit.published_at or '')[:16]} · score {score}"
        console.print(Text(terminal_safe(meta), style="dim"))
        if hit.topics:
            topics = terminal_safe("topics: " + ", ".join(hit.topics))
            console.print(Text(topics, style="magenta"))
        if hit.entities:
            entities = terminal_safe("entities: " + "، ".join(hit.entities))
            console.print(Text(entities, style="green"))
        for snippet in hit.snippets:
            console.print(highlighted(terminal_safe(snippet)))
        if hit.url:
            console.print(Text(terminal_safe(hit.url), style="blue underline"))


def highlighted(snippet: str) -> Text:
    """Rich Text with Elasticsearch's highlight markers turned into bold yellow spans. Arabic is
    left in logical order: terminals with bidi support display it right-to-left as is."""
    from rich.text import Text

    from ingest.search import HL_POST, HL_PRE

    out = Text("  ")
    on = False
    # Markers alternate open/close, so splitting on both toggles the style at each one.
    for part in snippet.replace(HL_POST, HL_PRE).split(HL_PRE):
        if part:
            out.append(part.replace("\n", " "), style="bold yellow" if on else None)
        on = not on
    return out
