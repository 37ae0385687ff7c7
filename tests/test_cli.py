"""The command line's own behaviour: help, version, argument errors, service-down messages."""

from __future__ import annotations

from elasticsearch import ConnectionError as ESConnectionError
from kafka.errors import KafkaConnectionError, KafkaTimeoutError
from typer.testing import CliRunner

from newsflow import __version__
from newsflow.cli import _register, _unreachable_message, app

_register()
runner = CliRunner()


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).output.strip() == f"newsflow {__version__}"
    out = runner.invoke(app, ["--help"]).output
    for command in ("stack", "setup", "produce", "worker", "index", "run", "search", "enrich",
                    "eval", "bench", "schema"):
        assert command in out


def test_missing_input_file_is_a_usage_error() -> None:
    result = runner.invoke(app, ["produce", "/no/such/file.jsonl"])
    assert result.exit_code == 2 and "no such file or directory" in result.output


def test_unreachable_services_get_one_line_messages() -> None:
    kafka = _unreachable_message(KafkaTimeoutError("Unable to bootstrap from ['x:1']"))
    assert kafka is not None and kafka.startswith("Kafka at ") and "newsflow stack up" in kafka
    assert _unreachable_message(KafkaConnectionError("refused")) is not None
    es = _unreachable_message(ESConnectionError("refused"))
    assert es is not None and es.startswith("Elasticsearch at ")
    assert _unreachable_message(ValueError("a bug")) is None  # real bugs keep their traceback
