"""Importing this package registers every sub-command on ``newsflow.cli.app``."""

from newsflow.commands import (  # noqa: F401
    bench_cmd,
    enrich_cmd,
    eval_cmd,
    eval_topics_cmd,
    index_cmd,
    lag_cmd,
    produce_cmd,
    run_cmd,
    schema_cmd,
    search_cmd,
    serve_cmd,
    setup_cmd,
    stack_cmd,
    subscribe_cmd,
    worker_cmd,
)
