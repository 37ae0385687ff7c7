"""``newsflow chaos``: the corpus through the real pipeline while it is being broken, on a
private stack (it stops Elasticsearch and restarts the broker)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from newsflow.cli.base import fail

DEFAULT_CORPUS = Path(__file__).resolve().parents[3].parent / "shared/corpora/saudinewsnet"


def chaos(
    corpus: Annotated[Path, typer.Option(help="files or directory of articles")] = DEFAULT_CORPUS,
    limit: Annotated[int | None, typer.Option(help="only the first N records")] = None,
    stack_dir: Annotated[
        Path | None, typer.Option(help="the private stack's directory (default .chaos-stack)")
    ] = None,
    kafka_port: Annotated[int, typer.Option(help="private broker port")] = 19092,
    es_port: Annotated[int, typer.Option(help="private Elasticsearch port")] = 19200,
    worker_kills: Annotated[int, typer.Option(help="SIGKILLs of the worker")] = 3,
    indexer_kills: Annotated[int, typer.Option(help="SIGKILLs of the indexer")] = 3,
    es_outage: Annotated[float, typer.Option(help="seconds Elasticsearch is down")] = 30.0,
    broker_restarts: Annotated[int, typer.Option(help="broker restarts")] = 1,
    pause: Annotated[float, typer.Option(help="seconds between faults")] = 20.0,
    keep_stack: Annotated[bool, typer.Option(help="leave the private stack running")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Produce the corpus while the worker and indexer are SIGKILLed and restarted,
    Elasticsearch stops and the broker restarts; then count accepted, indexed, missing, extra
    and dead letters by reason. Exit 1 when anything is missing or extra."""
    from newsflow import stack
    from newsflow.chaos import Plan, chaos_settings, run_chaos
    from newsflow.core.settings import get_settings

    base = get_settings()
    own_dir = (stack_dir or base.stack_dir.parent / ".chaos-stack").resolve()
    if own_dir == base.stack_dir.resolve() or kafka_port == 9092 or es_port == 9200:
        raise fail("chaos breaks its stack: give it its own --stack-dir and ports", 2)
    if not corpus.exists():
        raise fail(f"no corpus at {corpus}", 2)
    settings = chaos_settings(base, own_dir, kafka_port, es_port)
    plan = Plan(worker_kills, indexer_kills, es_outage, broker_restarts, pause)

    def say(message: str) -> None:
        typer.echo(message, err=True)

    try:
        report = run_chaos(settings, [corpus], limit=limit, plan=plan, say=say)
    finally:
        if not keep_stack:
            stack.stack_down(settings, say=lambda m: None)
    data = report.as_dict()
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        for key, value in data.items():
            typer.echo(f"{key}: {value}")
    if report.missing or report.extra or not report.drained:
        raise typer.Exit(1)
