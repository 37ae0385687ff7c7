"""The article contract as JSON Schema files (for producers written in other languages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from newsflow.core.contract import SCHEMAS


def default_schema_dir() -> Path:
    """``deploy/schemas`` of a source checkout; ``./schemas`` when running from an install."""
    root = Path(__file__).resolve().parents[2]
    return root / "deploy" / "schemas" if (root / "pyproject.toml").is_file() else Path("schemas")


def schema_documents() -> dict[str, bytes]:
    """{file name: JSON Schema bytes}, deterministic so the repo copy can be diffed."""
    docs: dict[str, bytes] = {}
    for name, model in SCHEMAS.items():
        schema: dict[str, Any] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"newsflow/{name}.schema.json",
            **model.model_json_schema(
                mode="serialization" if name != "raw_article" else "validation"
            ),
        }
        docs[f"{name}.schema.json"] = (
            orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        )
    return docs


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for fname, content in schema_documents().items():
        path = directory / fname
        path.write_bytes(content)
        written.append(path)
    return written


def stale(directory: Path) -> list[str]:
    """File names whose content differs from what the code would export."""
    return [
        f
        for f, c in schema_documents().items()
        if not (directory / f).exists() or (directory / f).read_bytes() != c
    ]
