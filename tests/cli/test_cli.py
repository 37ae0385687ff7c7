"""The command line's own behaviour: help, version, argument errors, service-down messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from elasticsearch import ConnectionError as ESConnectionError
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from typer.testing import CliRunner

from newsflow import __version__
from newsflow.cli.base import friendly_message as _friendly_message
from newsflow.cli.main import app

runner = CliRunner()


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == f"newsflow {__version__}"
    out = runner.invoke(app, ["--help"]).output
    for command in (
        "stack",
        "setup",
        "produce",
        "worker",
        "index",
        "run",
        "search",
        "enrich",
        "eval",
        "bench",
        "schema",
    ):
        assert command in out


def test_missing_input_file_is_a_usage_error() -> None:
    result = runner.invoke(app, ["produce", "/no/such/file.jsonl"])
    assert result.exit_code == 2 and "no such file or directory" in result.output


def test_unreachable_services_get_one_line_messages() -> None:
    kafka = _friendly_message(KafkaTimeoutError("Unable to bootstrap from ['x:1']"))
    assert kafka is not None and kafka.startswith("Kafka at ") and "newsflow stack up" in kafka
    assert _friendly_message(KafkaConnectionError("refused")) is not None
    es = _friendly_message(ESConnectionError("refused"))
    assert es is not None and es.startswith("Elasticsearch at ")
    assert _friendly_message(ValueError("a bug")) is None  # real bugs keep their traceback


def test_configuration_errors_print_their_own_message() -> None:
    from processors.taxonomy import TaxonomyError

    assert _friendly_message(TaxonomyError("/x.yaml: taxonomy file not found")) == (
        "/x.yaml: taxonomy file not found"
    )


def test_bad_taxonomy_stops_the_worker_before_it_starts(tmp_path: Path) -> None:
    """create_app builds the enricher first: a bad file fails fast instead of killing the agent
    inside a running worker (which would leave a process that consumes nothing)."""
    from newsflow.core.settings import Settings
    from processors.taxonomy import TaxonomyError
    from processors.worker import create_app

    bad = tmp_path / "topics.yaml"
    bad.write_text("labels: [not, a, mapping]\n", encoding="utf-8")
    with pytest.raises(TaxonomyError):
        create_app(Settings(topics_file=bad, stack_dir=tmp_path))
