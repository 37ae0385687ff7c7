"""``newsflow eval topics``: precision/recall of the topic tagger on a labelled JSONL file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def topics(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help='JSONL, one {"text", "topics", "title"?} per line'
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as JSON")] = False,
    show_errors: Annotated[
        bool, typer.Option("--errors", help="list the mislabelled examples")
    ] = False,
) -> None:
    """Micro and per-label precision, recall and F1 of the topic tags (taxonomy and threshold
    from settings: NEWSFLOW_TOPICS_FILE, NEWSFLOW_TOPICS_EXTRA_FILE, NEWSFLOW_TOPIC_THRESHOLD)."""
    from newsflow.core.settings import get_settings
    from processors.eval_topics import EvalFileError, evaluate_topics
    from processors.taxonomy import TaxonomyError
    from processors.topics import TopicTagger

    try:
        tagger = TopicTagger.from_settings(get_settings())
        result = evaluate_topics(path, tagger)
    except (TaxonomyError, EvalFileError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not show_errors:
        result.pop("errors", None)
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Topics on {path.name} ({result['articles']} articles)")
    for col in ("label", "precision", "recall", "F1", "support", "predicted"):
        table.add_column(col, justify="left" if col == "label" else "right")
    for label, m in result["per_label"].items():
        table.add_row(
            label,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["support"]),
            str(m["predicted"]),
        )
    micro = result["micro"]
    table.add_row(
        "micro",
        f"{micro['precision']:.3f}",
        f"{micro['recall']:.3f}",
        f"{micro['f1']:.3f}",
        "",
        "",
        style="bold",
    )
    console = Console()
    console.print(table)
    console.print(f"exact match (all labels right): {result['exact_match']:.3f}")
    for err in result.get("errors", []):
        console.print(f"  gold={err['gold']} predicted={err['predicted']}  {err['text']}")
