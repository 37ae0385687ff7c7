"""The worker's and the indexer's /metrics move during a real run, and ``newsflow status`` reads
them (with Kafka lag, DLQ size and the document count from the real stack)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import uuid
from pathlib import Path

import numpy as np
import orjson
import pytest

from ingest.producer import ArticleProducer
from newsflow.core.metrics import parse_exposition, total
from newsflow.core.settings import Settings
from tests.conftest import NEWS_WORDS_TEXT

pytestmark = pytest.mark.integration

STORIES = 12


def _stories() -> list[dict[str, str]]:
    rng = np.random.default_rng(11)
    vocab = NEWS_WORDS_TEXT.split()
    return [{"url": f"https://example.org/wire/{i}", "title": f"خبر {i}",
             "body": " ".join(rng.choice(vocab, size=150).tolist())} for i in range(STORIES)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _private(base: Settings) -> Settings:
    uid = f"metrics{uuid.uuid4().hex[:6]}"
    return base.model_copy(update={
        "topic_raw": f"t{uid}.raw", "topic_enriched": f"t{uid}.enriched",
        "topic_dlq": f"t{uid}.dlq", "es_alias": f"t{uid}-news", "app_id": f"newsflow-t{uid}",
        "indexer_group": f"newsflow-indexer-t{uid}", "indexer_metrics_port": _free_port(),
    })


def _delete_topics(settings: Settings) -> None:
    from kafka import KafkaAdminClient

    from newsflow.core.clients import kafka_config

    admin = KafkaAdminClient(**kafka_config(settings))
    try:
        admin.delete_topics([settings.topic_raw, settings.topic_enriched, settings.topic_dlq])
    except Exception:  # best effort: a leftover test topic harms nothing
        pass
    finally:
        admin.close()


def _scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    import urllib.request

    with urllib.request.urlopen(url, timeout=5) as resp:
        return parse_exposition(resp.read().decode())


def test_metrics_move_during_a_run_and_status_reads_them(stack_settings: Settings,
                                                         tmp_path: Path) -> None:
    from newsflow.provision import run_setup
    from newsflow.runner import child_processes, newsflow_argv, settings_env

    settings = _private(stack_settings)
    run_setup(settings)
    port = _free_port()
    worker = f"http://127.0.0.1:{port}/metrics"
    indexer = f"http://127.0.0.1:{settings.indexer_metrics_port}/metrics"
    try:
        with child_processes(settings, lambda m: None, log_dir=tmp_path, web_port=port):
            w0, i0 = _scrape(worker), _scrape(indexer)
            with ArticleProducer(settings) as producer:
                for a in _stories():
                    producer.send(a)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                i1 = _scrape(indexer)
                if (total(i1, "newsflow_records_out_total", station="indexer") or 0) >= STORIES:
                    break
                time.sleep(0.5)
            w1 = _scrape(worker)
            time.sleep(1.5)  # the documents' refresh, for the status screen's count
            status = subprocess.run(
                newsflow_argv("status", "--worker-url", worker, "--indexer-url", indexer,
                              "--json", "--interval", "0.5"),
                capture_output=True, env=settings_env(settings), timeout=60, check=True)
    finally:
        _delete_topics(settings)
    moved = {
        "worker in": (w0, w1, "newsflow_records_in_total", {"station": "worker"}),
        "worker stage entities": (w0, w1, "newsflow_stage_seconds_count",
                                  {"station": "worker", "stage": "entities"}),
        "indexer in": (i0, i1, "newsflow_records_in_total", {"station": "indexer"}),
        "produce->indexed": (i0, i1, "newsflow_produce_to_indexed_seconds_count", {}),
        "bulk": (i0, i1, "newsflow_es_bulk_seconds_count", {}),
    }
    for what, (before, after, name, labels) in moved.items():
        assert (total(after, name, **labels) or 0) - (total(before, name, **labels) or 0) \
            >= (1 if what == "bulk" else STORIES), what
    assert (total(w1, "process_resident_memory_bytes") or 0) > 50 * 2**20
    report = json.loads(status.stdout)
    assert report["kafka"] == "up" and report["documents"] == STORIES
    assert report["dead_letters"] == 0
    assert orjson.dumps(report)  # the whole screen is serializable
