"""``newsflow eval``: quality measurements of the enrichment stages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

eval_app = typer.Typer(help="Measure enrichment quality on labelled data.", no_args_is_help=True)


@eval_app.command("ner")
def ner(
    conll: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="`token TAG` BIO file")
    ],
    backend: Annotated[
        str | None,
        typer.Option("--backend", "-b", help="rules or camel (default: NEWSFLOW_NER_BACKEND)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the scores as JSON")] = False,
) -> None:
    """Entity-level precision, recall and F1 (exact span and type), micro and per type."""
    from newsflow.core.settings import get_settings
    from processors.eval_ner import evaluate_conll

    chosen = backend or get_settings().ner_backend
    try:
        result = evaluate_conll(conll, backend=chosen)
    except (RuntimeError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return

    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"NER on {conll.name} (backend {chosen})")
    for col in ("type", "precision", "recall", "F1", "support"):
        table.add_column(col, justify="right" if col != "type" else "left")
    for etype, m in result["per_type"].items():
        table.add_row(
            etype,
            f"{m['precision']:.3f}",
            f"{m['recall']:.3f}",
            f"{m['f1']:.3f}",
            str(m["support"]),
        )
    micro = result["micro"]
    support = sum(m["support"] for m in result["per_type"].values())
    table.add_row(
        "micro",
        f"{micro['precision']:.3f}",
        f"{micro['recall']:.3f}",
        f"{micro['f1']:.3f}",
        str(support),
        style="bold",
    )
    console = Console()
    console.print(table)
    console.print(
        f"{result['sentences']} sentences, {result['tokens']} tokens, "
        f"{result['tokens_per_second']:,.0f} tokens/s"
    )
