"""Issue 8: a small `newsflow chaos` (300 SaudiNewsNet records, one fault of each kind) on its own
private stack -- never the shared one, because it stops Elasticsearch and restarts the broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.integration
# The same private stack `newsflow chaos` uses by default (built once, reused); never the
# shared one. Do not run this test while a full `newsflow chaos` is running.
STACK_DIR = REPO / ".chaos-stack"


def test_small_chaos_run_loses_nothing(saudinewsnet: list[Path]) -> None:
    argv = [sys.executable, "-m", "newsflow", "chaos", "--corpus", str(saudinewsnet[0]),
            "--limit", "300", "--worker-kills", "1", "--indexer-kills", "1", "--es-outage", "5",
            "--broker-restarts", "1", "--pause", "5", "--stack-dir", str(STACK_DIR),
            "--kafka-port", "19092", "--es-port", "19200", "--json"]
    out = subprocess.run(argv, capture_output=True, timeout=1500)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-4000:]
    report = orjson.loads(out.stdout)
    assert report["drained"] and report["missing"] == 0 and report["extra"] == 0, report
    assert report["read"] == 300 and report["accepted_ids"] > 250
    assert report["indexed"] + sum(
        n for reason, n in report["dead_letters"].items() if not reason.startswith("produce/")
    ) >= report["accepted_ids"]
    kinds = [f["fault"] for f in report["schedule"]]
    assert sorted(kinds) == ["kill-indexer", "kill-worker", "restart-broker",
                             "stop-elasticsearch"]
