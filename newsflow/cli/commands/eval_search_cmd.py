"""``newsflow eval search``: our search vs the stock ``arabic`` analyzer vs Kibana-style
``query_string``, on the same documents, in one run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

_REPO = Path(__file__).resolve().parents[3]
DEFAULT_CORPUS = _REPO.parent / "shared" / "corpora" / "saudinewsnet"
DEFAULT_JUDGMENTS = _REPO / "tests" / "data" / "search_judgments.jsonl"


def search(
    paths: Annotated[list[str] | None, typer.Argument(
        help="corpus: `newsflow enrich` JSONL, raw JSONL or SaudiNewsNet zips "
             "(default: ../shared SaudiNewsNet)")] = None,
    judgments: Annotated[Path, typer.Option(
        exists=True, dir_okay=False, help="hand-labelled queries and documents")
    ] = DEFAULT_JUDGMENTS,
    limit: Annotated[int | None, typer.Option(help="index at most N corpus articles")] = None,
    known: Annotated[int, typer.Option(help="number of known-item queries")] = 300,
    seed: Annotated[int, typer.Option(help="seed of the known-item sample")] = 7,
    keep: Annotated[bool, typer.Option(help="keep the private indices (default: delete)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the figures as JSON")] = False,
) -> None:
    """Index the corpus and the judged documents into private indices (ours + stock `arabic`)
    and report success@10, MRR@10, P@10 and latency of all three systems on both query sets."""
    from ingest.search_eval import evaluate, load_articles
    from ingest.search_eval_sets import load_judgments
    from newsflow.cli.base import fail
    from newsflow.core.clients import elasticsearch_client
    from newsflow.core.settings import get_settings
    from newsflow.progress import progress_bar

    sources = paths or ([str(DEFAULT_CORPUS)] if DEFAULT_CORPUS.is_dir() else [])
    if not sources:
        raise fail(f"no corpus given and {DEFAULT_CORPUS} is absent: pass enriched JSONL or zips")
    settings = get_settings()
    corpus = list(load_articles(sources, limit=limit))
    judged = load_judgments(judgments)
    es = elasticsearch_client(settings).options(request_timeout=120)
    bars: list[Any] = []

    def progress(label: str, total: int | None) -> Any:
        while bars:  # one live display at a time: close the previous stage's bar
            bars.pop().__exit__(None, None, None)
        bar = progress_bar(label, total=total, disable=as_json)
        bars.append(bar)
        return bar.__enter__()

    try:
        result = evaluate(es, settings, corpus, judged, known=known, seed=seed, keep=keep,
                          progress=progress)
    finally:
        for bar in bars:
            bar.__exit__(None, None, None)
        es.close()
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    _print(result)


def _print(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    cols = ("success@10", "mrr@10", "p@10", "not_relevant@10", "took_p50_ms", "took_p95_ms",
            "wall_p95_ms")
    table = Table(title=f"search on {result['documents']['corpus']} corpus + "
                        f"{result['documents']['judged']} judged documents")
    table.add_column("set")
    table.add_column("system")
    for col in cols:
        table.add_column(col, justify="right")
    for name in ("known_item", "judged"):
        block = result[name]
        for system, m in block["systems"].items():
            table.add_row(f"{name} ({block['queries']})", system, *(f"{m[c]:g}" for c in cols))
    console.print(table)
    known = result["known_item"]
    console.print(f"known items: MRR@10 {known['ceiling_mrr@10']:g} is the most any ranker can "
                  "expect on these queries (titles that hold the same query words tie)")
    for name in ("known_item", "judged"):
        fails = result[name]["ours_failures"]
        if fails:
            console.print(f"[bold]{name}: ours still fails on[/] "
                          + "، ".join(f["query"] for f in fails[:15]))
