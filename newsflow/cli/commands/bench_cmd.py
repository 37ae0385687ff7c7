"""``newsflow bench``: end-to-end throughput and latency on SaudiNewsNet, with the direct
``helpers.bulk`` ceiling measured in the same run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):  # a name (the ratios' slowest stage), not a number
        return f"{value}{unit}"
    if isinstance(value, float):
        return f"{value:,.3f}{unit}" if value < 10 else f"{value:,.1f}{unit}"
    return f"{value:,}{unit}"


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    stages = Table(
        title=f"newsflow bench: {report['articles']:,} articles "
        f"({report['rejected']} rejected, {report['dead_letters']} dead-lettered)"
    )
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    stages.add_column("articles/s", justify="right")
    for name, row in report["stages"].items():
        row = row or {}
        stages.add_row(name, _fmt(row.get("seconds")), _fmt(row.get("articles_per_second")))
    replay = report.get("indexer_replay") or {}
    stages.add_row(
        "indexer replay (input all there)",
        _fmt(replay.get("seconds")),
        _fmt(replay.get("docs_per_second")),
    )
    direct = report["direct_bulk"]
    stages.add_row(
        "direct helpers.bulk", _fmt(direct.get("seconds")), _fmt(direct.get("docs_per_second"))
    )
    console.print(stages)

    lat = report["latency_seconds"]
    other = Table(show_header=False, title="latency and resources")
    other.add_column("metric")
    other.add_column("value", justify="right")
    for q in ("p50", "p95", "p99", "max"):
        other.add_row(f"produce→searchable {q}", _fmt(lat.get(q), " s"))
    other.add_row("latency polling resolution", _fmt(lat.get("resolution"), " s"))
    other.add_row("indexer (replay) ÷ direct bulk", _fmt(report.get("indexer_vs_direct_bulk")))
    other.add_row(
        "indexer (in pipeline) ÷ direct bulk",
        _fmt(report.get("indexer_in_pipeline_vs_direct_bulk")),
    )
    other.add_row(
        "indexer max lag behind worker",
        _fmt(report["stages"]["index"].get("max_lag_behind_enrich"), " articles"),
    )
    for name, value in (report.get("ratios") or {}).items():
        if not isinstance(value, dict):
            other.add_row(name.replace("_", " "), _fmt(value))
    for name, mb in report["peak_rss_mb"].items():
        other.add_row(f"peak RSS {name}", _fmt(mb, " MB"))
    for name, cores in report.get("cpu_cores_busy", {}).items():
        other.add_row(f"CPU {name} (cores, while working)", _fmt(cores))
    console.print(other)


def bench(
    limit: Annotated[
        int | None, typer.Option(min=1, help="articles to send (default: the whole corpus, 31,030)")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the report as one JSON object")
    ] = False,
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="directory of SaudiNewsNet *.zip (default: <repo>/../shared/corpora/saudinewsnet)"
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="produce at this many articles/s (latency below saturation); default: "
            "as fast as possible",
        ),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="keep the run's topics, index and alias for inspection")
    ] = False,
    stall_seconds: Annotated[
        float, typer.Option(help="give up after this long without an article becoming searchable")
    ] = 300.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
    workers: Annotated[
        int,
        typer.Option(min=1, help="worker processes (at most the raw topic's partitions)"),
    ] = 1,
    offline: Annotated[
        bool,
        typer.Option(help="also time `newsflow enrich` on the same articles (the ceiling)"),
    ] = True,
    series: Annotated[
        Path | None,
        typer.Option(help="also write the sampled time series (counts, CPU) as JSON to this file"),
    ] = None,
) -> None:
    """Benchmark the pipeline end to end (real Kafka, worker, indexer, Elasticsearch) on a
    private set of topics and index, and the direct bulk ceiling for the same documents."""
    import orjson
    from rich.console import Console

    from newsflow.bench import BenchOptions, run_bench
    from newsflow.core.settings import get_settings

    err = Console(stderr=True)

    def say(message: str) -> None:
        err.print(f"[bold cyan]bench[/] {message}", highlight=False)

    options = BenchOptions(
        limit=limit,
        corpus=corpus,
        keep=keep,
        stall_seconds=stall_seconds,
        progress=not quiet,
        series_path=series,
        rate=rate,
        workers=workers,
        offline=offline,
    )
    try:
        report = run_bench(get_settings(), options, say)
    except (RuntimeError, TimeoutError) as exc:
        # BenchError is a RuntimeError, as is a child dying before it got ready (runner).
        err.print(f"[bold red]bench failed:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if as_json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_table(report)
