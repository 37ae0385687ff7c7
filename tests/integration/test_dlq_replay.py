"""Issue 8, defect 9 (re-driving dead letters): `newsflow dlq replay` after a fix gets the
records indexed; a record that fails again is not replayed for ever; nothing is replayed twice."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client
from newsflow.core.identity import article_id
from newsflow.core.settings import Settings
from tests.integration.reliability_helpers import (
    cleanup,
    private_settings,
    produce,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.integration


def _count(settings: Settings, ids: list[str]) -> int:
    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        return int(es.count(index=settings.es_alias, query={"ids": {"values": ids}})["count"])
    finally:
        es.close()


def _cli(settings: Settings, *args: str) -> dict[str, object]:
    from newsflow.runner import newsflow_argv, settings_env

    out = subprocess.run(newsflow_argv(*args), env=settings_env(settings), capture_output=True,
                         timeout=300, check=True)
    data: dict[str, object] = orjson.loads(out.stdout)
    return data


def test_replay_after_a_fix_gets_records_indexed(stack_settings: Settings, tmp_path: Path) -> None:
    from newsflow.provision import run_setup
    from newsflow.runner import child_processes

    strict = private_settings(stack_settings, stack_dir=tmp_path / "stack", max_body_chars=1000)
    fixed = strict.model_copy(update={"max_body_chars": 1_000_000})
    run_setup(strict)
    long_urls = [f"https://example.org/long/{i}" for i in range(3)]
    good_urls = [f"https://example.org/short/{i}" for i in range(2)]
    hopeless = "https://example.org/empty"
    records = [(b"", orjson.dumps({"url": u, "title": "طويل", "body": "كلمة " * 400}))
               for u in long_urls]
    records += [(b"", orjson.dumps({"url": u, "title": "قصير", "body": "نص قصير"}))
                for u in good_urls]
    records.append((b"", orjson.dumps({"url": hopeless, "html": "<html><body></body></html>"})))
    try:
        produce(strict, strict.topic_raw, records)
        with child_processes(strict, lambda m: None, log_dir=tmp_path / "logs1", web_port=0):
            wait_until("the short ones indexed",
                       lambda: _count(strict, [article_id(u) for u in good_urls]) == 2, 180)
            wait_until("four dead letters",
                       lambda: len(read_topic(strict, strict.topic_dlq, 2)) >= 4, 120)
        listed = _cli(strict, "dlq", "list", "--stage", "enrich", "--json")
        assert isinstance(listed, list) and len(listed) == 4
        assert {r["error_type"] for r in listed} == {"BodyTooLong", "EmptyArticle"}

        # the fix: a larger max_body_chars; then re-drive what the old limit rejected
        with child_processes(fixed, lambda m: None, log_dir=tmp_path / "logs2", web_port=0):
            report = _cli(fixed, "dlq", "replay", "--stage", "enrich", "--json")
            assert report["replayed"] == 4 and report["skipped"] == 0
            ids = [article_id(u) for u in long_urls]
            wait_until("the replayed long articles indexed", lambda: _count(fixed, ids) == 3,
                       180)
            # the hopeless one failed again: a new dead letter that knows it was a replay
            wait_until("the hopeless record dead-lettered again",
                       lambda: len(read_topic(fixed, fixed.topic_dlq, 2)) >= 5, 120)
        letters = [orjson.loads(v) for _, v in read_topic(fixed, fixed.topic_dlq, 3)]
        again = [d for d in letters if d["replays"]]
        assert len(letters) == 5 and len(again) == 1
        assert again[0]["error_type"] == "EmptyArticle" and again[0]["replays"] == 1

        second = _cli(fixed, "dlq", "replay", "--max-replays", "1", "--json")
        assert second["replayed"] == 0 and second["skipped"] == 5
        whys = {r["why"].split(":")[0] for r in second["skipped_records"]}  # type: ignore[union-attr]
        assert whys == {"already replayed (see the audit log)", "gave up"}
        audit = (tmp_path / "stack" / "audit" / f"{fixed.topic_dlq}.replays.jsonl").read_text()
        assert len(audit.splitlines()) == 4
        assert _count(fixed, [article_id(u) for u in long_urls + good_urls]) == 5
    finally:
        cleanup(strict)
