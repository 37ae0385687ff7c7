"""Help pages without Typer's type labels and without hard line breaks mid-paragraph."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from newsflow.cli.help_format import reflow

TYPE_NOISE = re.compile(r"<(bool|int|int range|float|str|path|text)>")


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "100", "TERMINAL_WIDTH": "100"}
    proc = subprocess.run(
        [sys.executable, "-m", "newsflow", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("command", [["run"], ["stack", "up"], ["stack", "logs"], ["search"], []])
def test_help_pages_show_no_type_labels(command: list[str]) -> None:
    text = _help(*command)
    assert not TYPE_NOISE.search(text), text


def test_value_options_keep_a_plain_type_and_flags_none() -> None:
    text = _help("run")
    assert re.search(r"--timeout\s+NUMBER", text) and re.search(r"--query\s+TEXT", text), text
    assert re.search(r"--once\s+stop everything", text), text
    assert re.search(r"--kafka-brokers\s+INT \[1<=x<=9\]", _help("stack", "up"))


def test_reflow_joins_paragraph_lines_and_keeps_layout() -> None:
    text = "First line\ncontinues here.\n\nSecond paragraph\nwraps here.\n\n\b\nkept\nas is"
    assert reflow(text) == (
        "First line continues here.\n\nSecond paragraph wraps here.\n\n\b\nkept\nas is"
    )
    assert reflow("Code:\n\n    a = 1\n    b = 2") == "Code:\n\n    a = 1\n    b = 2"
    assert reflow(None) is None
