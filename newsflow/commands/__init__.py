"""Importing this package registers every sub-command on ``newsflow.cli.app``."""

from newsflow.commands import (  # noqa: F401
    enrich_cmd,
    produce_cmd,
    run_cmd,
    schema_cmd,
    setup_cmd,
    stack_cmd,
    worker_cmd,
)
