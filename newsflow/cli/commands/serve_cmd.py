"""``newsflow serve`` (HTTP API + search page) and ``newsflow serve-bench`` (its latency)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def serve(
    host: Annotated[str | None, typer.Option(
        help="address to bind (default NEWSFLOW_SERVE_HOST, 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(
        help="port (default NEWSFLOW_SERVE_PORT, 8080)")] = None,
) -> None:
    """The HTTP API: /search, /articles/{id}, /subscribe (Server-Sent Events), /health, the
    OpenAPI page at /docs, and an RTL search page at /."""
    import uvicorn

    from newsflow.core.settings import get_settings
    from newsflow.serve.app import create_app

    settings = get_settings()
    host = host or settings.serve_host
    if host not in ("127.0.0.1", "localhost", "::1") and settings.serve_api_key is None:
        typer.echo(f"warning: listening on {host} without NEWSFLOW_SERVE_API_KEY: anyone who "
                   "can reach it can read the index", err=True)
    uvicorn.run(create_app(settings), host=host, port=port or settings.serve_port,
                log_level=settings.log_level.lower(), timeout_graceful_shutdown=3)


def serve_bench(
    requests: Annotated[int, typer.Option(min=10, help="requests per side")] = 300,
    corpus: Annotated[Path | None, typer.Option(
        help="load this SaudiNewsNet directory (or zip) into a private index first")] = None,
    limit: Annotated[int | None, typer.Option(help="articles to load from --corpus")] = None,
    keep: Annotated[bool, typer.Option(help="keep the --corpus index for later runs")] = False,
    facets: Annotated[bool, typer.Option(help="measure /search?facets=true (the page's)")
                      ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """/search latency through `newsflow serve` (real uvicorn, HTTP keep-alive) side by side
    with the same searches called in-process, on the configured index or on --corpus."""
    import orjson

    from newsflow.core.settings import get_settings
    from newsflow.serve.bench import run_serve_bench

    report = run_serve_bench(get_settings(), requests=requests, corpus=corpus, limit=limit,
                             keep=keep, facets=facets, say=lambda m: typer.echo(m, err=True))
    if as_json:
        typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    for side in ("http", "direct"):
        r = report[side]
        typer.echo(f"{side:7s} p50 {r['p50_ms']:6.1f} ms  p95 {r['p95_ms']:6.1f} ms  "
                   f"p99 {r['p99_ms']:6.1f} ms  ({r['requests']} requests)")
    typer.echo(f"index {report['index']} ({report['documents']} documents); "
               f"http/direct p95 ratio {report['p95_ratio']:.2f}; "
               f"p95 target 100 ms: {'met' if report['http']['p95_ms'] <= 100 else 'MISSED'}")
