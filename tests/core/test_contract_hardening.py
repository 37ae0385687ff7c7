"""Issue 8, defects 5, 7 and 8 on pure code: bounded metadata, sanitised url/source, redacted
credentials, terminal-safe output, readers that stream instead of reading whole."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from ingest.readers import iter_path
from newsflow.core.contract import RawArticle
from newsflow.core.sanitize import redact_url, terminal_safe


def _raw(**kw: object) -> RawArticle:
    return RawArticle.model_validate({"url": "https://example.org/a", "title": "t", **kw})


def test_metadata_and_unknown_fields_are_kept() -> None:
    a = _raw(metadata={"author": "س"}, section="sports")
    assert a.metadata == {"author": "س", "section": "sports"}


def test_metadata_is_bounded_in_size_and_depth() -> None:
    with pytest.raises(ValidationError, match="over 65536"):
        _raw(metadata={"blob": "x" * 70_000})
    deep: dict[str, object] = {}
    node = deep
    for _ in range(300):  # would crash orjson.dumps (recursion limit 254) downstream
        node["k"] = {}
        node = node["k"]  # type: ignore[assignment]
    with pytest.raises(ValidationError, match="nested deeper"):
        _raw(metadata=deep)


@pytest.mark.parametrize("url", ["javascript:alert(1)//x.org", "file:///etc/passwd",
                                 "ftp://example.org/a"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(ValidationError):
        _raw(url=url)


def test_control_and_bidi_characters_are_removed_from_url_and_source() -> None:
    a = _raw(url="https://example.org/\u202ea\x1b[2J", source="src\u202e\x07")
    assert a.url == "https://example.org/a[2J" and a.source == "src"


def test_terminal_safe_and_redact() -> None:
    assert terminal_safe("a\x1b[31mb\u202ec\nd") == "a\ufffd[31mb\ufffdc\nd"
    assert redact_url("https://elastic:s3cret@es.example:9200,http://h:1") == (
        "https://***@es.example:9200,http://h:1")


def test_cli_never_echoes_es_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from newsflow.cli.main import app
    from newsflow.core.settings import get_settings

    monkeypatch.setenv("NEWSFLOW_ES_URL", "http://elastic:s3cret@127.0.0.1:1")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["search", "x"])
    finally:
        get_settings.cache_clear()
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code != 0 and "127.0.0.1:1" in out
    assert "s3cret" not in out


def _big_array_zip(path: Path, n: int) -> None:
    item = orjson.dumps({"url": "https://example.org/x", "body": "ا" * 20_000})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("day.json", "w") as fh:
        fh.write(b"[")
        for i in range(n):
            fh.write((b"," if i else b"") + item)
        fh.write(b"]")


def test_zip_json_array_is_streamed_not_read_whole(tmp_path: Path) -> None:
    """A ~160 MB array in a zip of a few hundred KiB: reading its first records must not load
    the member (before: zf.read + orjson.loads of the whole thing)."""
    path = tmp_path / "day.zip"
    _big_array_zip(path, 4000)
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        it = iter_path(path)
        first = [next(it) for _ in range(5)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert all(r.data and r.data["url"] == "https://example.org/x" for r in first)
    assert peak < 20 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


def test_broken_array_ends_with_one_error_record(tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    f.write_bytes(b'[{"url": "https://e.org/1", "title": "a"}, {"url": ')
    recs = list(iter_path(f))
    assert recs[0].data is not None and recs[-1].error_type == "JSONDecodeError"
    assert len(recs) == 2


def test_stdin_style_stream_array(tmp_path: Path) -> None:
    from ingest.readers import _sniff

    stream = io.BufferedReader(io.BytesIO(b'  [{"url": "https://e.org/1", "title": "a"}]'))
    recs = list(_sniff("<stdin>", stream))
    assert len(recs) == 1 and recs[0].data is not None
