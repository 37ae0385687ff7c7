"""``newsflow enrich``: the stream's enrichment, offline, file to file (no Kafka)."""

from __future__ import annotations

import io
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

err = Console(stderr=True)


def enrich(
    paths: Annotated[
        list[str],
        typer.Argument(
            help="anything `newsflow produce` accepts: JSONL, JSON arrays, SaudiNewsNet zips, -"
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="enriched articles, JSONL")],
    rejects: Annotated[
        Path | None, typer.Option(help="write dead letters (with reasons) here as JSONL")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="stop after N records")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Clean and enrich articles (entities, topics, near-duplicate clusters) into a JSONL file."""
    from ingest.readers import count_hint, iter_records
    from newsflow.core.deadletter import dead_letter, encode_dead_letter
    from newsflow.progress import progress_bar
    from processors.enrich import Enricher
    from processors.records import Enriched, process_record

    enricher = Enricher()
    total = count_hint(paths)
    clusters: Counter[str] = Counter()
    articles = rejected = 0
    started = time.perf_counter()
    with (
        out.open("wb") as fh,
        rejects.open("wb") if rejects else io.BytesIO() as rj,
        progress_bar("enriching", total=limit or total, disable=quiet or as_json) as advance,
    ):
        for rec in iter_records(paths, limit=limit):
            advance(1)
            if rec.data is None:
                rejected += 1
                reason, kind = rec.error or "unreadable", rec.error_type or "Error"
                dl = dead_letter("decode", reason, kind, rec.raw, key=rec.origin)
                rj.write(encode_dead_letter(dl) + b"\n")
                continue
            result = process_record(enricher, None, orjson.dumps(rec.data))
            if isinstance(result, Enriched):
                articles += 1
                clusters[result.article.cluster_id or result.article.id] += 1
                fh.write(result.value + b"\n")
            else:
                rejected += 1
                result.dead_letter.key = rec.origin
                rj.write(encode_dead_letter(result.dead_letter) + b"\n")
    summary = _summary(articles, rejected, time.perf_counter() - started, clusters)
    if as_json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        err.print(
            f"{articles} articles -> {out} in {summary['seconds']:.1f}s "
            f"({summary['articles_per_second']}/s); {rejected} rejected"
            + (f" -> {rejects}" if rejects and rejected else "")
            + f"; {summary['clusters']} near-duplicate clusters of size >= 2 "
            f"({summary['clustered_articles']} articles)"
        )


def _summary(
    articles: int, rejected: int, seconds: float, clusters: Counter[str]
) -> dict[str, Any]:
    multi = [size for size in clusters.values() if size >= 2]
    return {
        "articles": articles,
        "rejected": rejected,
        "seconds": round(seconds, 3),
        "articles_per_second": round(articles / seconds, 1) if seconds else None,
        "clusters": len(multi),
        "clustered_articles": sum(multi),
        "largest_cluster": max(multi, default=0),
    }
