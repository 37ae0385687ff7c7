"""The wheel carries every runtime data file, so an install works outside a checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUNTIME_DATA = [
    "ingest/data/news-template.json",
    "processors/data/topics.yaml",
    "processors/data/ner/persons.txt",
    "newsflow/samples/articles.jsonl",
]


def test_wheel_has_runtime_data(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(REPO)],
        check=True, cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("newsflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [path for path in RUNTIME_DATA if path not in names]
    assert not missing, f"not in {wheel.name}: {missing}"
    assert not any(n.startswith(("tests/", "deploy/")) for n in names)
