"""Scale-out on real Kafka and Elasticsearch: 3 workers on 3 partitions give the same
near-duplicate clusters as 1 worker on the same input, wire copies and their originals placed
on different partitions (so, with 3 workers, read by different processes)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.producer import ArticleProducer
from newsflow.core.identity import article_id
from newsflow.core.settings import Settings
from tests.conftest import NEWS_WORDS_TEXT, Pipeline, consume_json

pytestmark = pytest.mark.integration

VOCAB = NEWS_WORDS_TEXT.split()
STORIES, COPIES = 12, 2


def _stories() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Originals (random word sequences: unrelated to each other) and two lightly edited copies
    of each, as other papers print a wire story."""
    rng = np.random.default_rng(11)
    originals, copies = [], []
    for i in range(STORIES):
        words = rng.choice(VOCAB, size=150).tolist()
        originals.append({"url": f"https://example.org/wire/{i}", "title": f"خبر {i}",
                          "body": " ".join(words)})
        for c in range(COPIES):
            edited = list(words)
            edited[40 + 30 * c] = "كلمهمختلفه"
            copies.append({"url": f"https://example.org/paper{c}/{i}", "title": f"خبر {i}",
                           "body": " ".join(edited)})
    return originals, copies


def _private(base: Settings, tag: str) -> Settings:
    uid = f"{tag}{uuid.uuid4().hex[:6]}"
    return base.model_copy(update={
        "topic_raw": f"t{uid}.raw", "topic_enriched": f"t{uid}.enriched",
        "topic_dlq": f"t{uid}.dlq", "topic_label_prefix": f"t{uid}.topic.",
        "es_alias": f"t{uid}-news", "app_id": f"newsflow-t{uid}",
        "indexer_group": f"newsflow-indexer-t{uid}", "topic_partitions": 3,
        "indexer_batch_seconds": 0.5, "indexer_metrics_port": 0,
    })


def _health(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
        return data


@contextlib.contextmanager
def _pipeline(settings: Settings, workers: int, log_dir: Path
              ) -> Iterator[list[tuple[int, subprocess.Popen[bytes]]]]:
    """Setup, ``workers`` workers and one indexer, as users start them; yields the workers'
    (web port, process) once the group is stable. Removes topics, index and groups after."""
    from newsflow.bench.extra import wait_group_stable
    from newsflow.bench.stages import cleanup
    from newsflow.provision import run_setup
    from newsflow.runner import (
        free_port,
        newsflow_argv,
        settings_env,
        stop_all,
        wait_worker_ready,
    )

    run_setup(settings)
    env = settings_env(settings)
    procs: list[subprocess.Popen[bytes]] = []
    ports = [free_port() for _ in range(workers)]
    try:
        for name, argv in [(f"worker{i}", newsflow_argv("worker", "--web-port", str(port)))
                           for i, port in enumerate(ports)] + [("indexer",
                                                                newsflow_argv("index"))]:
            with (log_dir / f"{settings.app_id}-{name}.log").open("ab") as log:
                procs.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                              env=env))
        for i, port in enumerate(ports):
            wait_worker_ready(f"http://127.0.0.1:{port}/health", procs[i],
                              log_dir / f"{settings.app_id}-worker{i}.log")
        wait_group_stable(settings, workers)
        yield list(zip(ports, procs, strict=False))
    finally:
        stop_all(procs, 30)
        cleanup(settings, lambda _line: None)


def _indexed_clusters(settings: Settings, ids: set[str]) -> dict[str, str]:
    pipeline = Pipeline(settings, {})
    found = pipeline.wait_ids(ids, timeout=240)
    assert found == ids, f"{len(ids - found)} of {len(ids)} never indexed"
    es = pipeline.es()
    try:
        res = es.search(index=settings.es_alias, query={"ids": {"values": sorted(ids)}},
                        size=len(ids), source=["cluster_id"])
        return {h["_id"]: h["_source"]["cluster_id"] for h in res["hits"]["hits"]}
    finally:
        es.close()


def _run(settings: Settings, workers: int, log_dir: Path) -> dict[str, Any]:
    """Originals first (until indexed), then the copies: 'first seen' is the original in
    every run, so cluster ids -- not only the groupings -- must agree."""
    originals, copies = _stories()
    with _pipeline(settings, workers, log_dir) as members:
        with ArticleProducer(settings) as producer:
            first = {producer.send(a) for a in originals}
        _indexed_clusters(settings, first)
        with ArticleProducer(settings) as producer:
            rest = {producer.send(a) for a in copies}
        clusters = _indexed_clusters(settings, first | rest)
        health = [_health(port) for port, _ in members]
        partitions = _raw_partitions(settings)
        labelled = _label_clusters(settings)
    return {"clusters": clusters, "health": health, "partitions": partitions,
            "labelled": labelled}


def _raw_partitions(settings: Settings) -> dict[str, int]:
    from kafka import KafkaConsumer

    from newsflow.core.clients import kafka_config

    consumer = KafkaConsumer(settings.topic_raw, **kafka_config(settings),
                             auto_offset_reset="earliest", group_id=None,
                             consumer_timeout_ms=2000)
    try:
        return {m.key.decode(): m.partition for m in consumer}
    finally:
        consumer.close()


def _label_clusters(settings: Settings) -> dict[tuple[str, str], str]:
    """(label topic, article id) -> cluster id of the per-label copies."""
    from kafka import KafkaAdminClient

    from newsflow.core.clients import kafka_config

    admin = KafkaAdminClient(**kafka_config(settings))
    try:
        topics = [t for t in admin.list_topics() if t.startswith(settings.topic_label_prefix)]
    finally:
        admin.close()
    out = {}
    for topic in topics:
        for rec in consume_json(settings, topic, 1, timeout=3):
            out[(topic, str(rec["id"]))] = str(rec["cluster_id"])
    return out


def test_three_workers_find_the_clusters_one_finds(stack_settings: Settings,
                                                   tmp_path: Path) -> None:
    one = _run(_private(stack_settings, "one"), 1, tmp_path)
    three = _run(_private(stack_settings, "three"), 3, tmp_path)
    differ = sorted(a for a in one["clusters"] if three["clusters"].get(a) != one["clusters"][a])
    assert not differ, f"{len(differ)} of {len(one['clusters'])} articles clustered otherwise"
    assert three["clusters"] == one["clusters"]
    # Not a vacuous equality: every copy joined its original's cluster, and copies and
    # originals really were spread over different partitions, each worker holding one.
    parts = three["partitions"]
    crossing = 0
    for i in range(STORIES):
        original = article_id(f"https://example.org/wire/{i}")
        assert three["clusters"][original] == original
        for c in range(COPIES):
            copy = article_id(f"https://example.org/paper{c}/{i}")
            assert three["clusters"][copy] == original
            crossing += parts[copy] != parts[original]
    assert crossing >= STORIES // 2 and len(set(parts.values())) == 3
    assert all(h["enriched"] > 0 for h in three["health"])  # each worker enriched some
    if stack_settings.dedup_stage:
        # One worker decides every cluster and holds the near-duplicate state; the others hold
        # none. The per-label copies carry the decided cluster ids too.
        stages = [h["dedup_stage"] for h in three["health"]]
        assert sorted(s["owned"] for s in stages) == [False, False, True]
        owner = next(s for s in stages if s["owned"])
        assert owner["decided"] >= len(three["clusters"]) and owner["articles"] > 0
        assert all(s["articles"] is None for s in stages if not s["owned"])
    assert three["labelled"], "no per-label copy at all: the label check would be vacuous"
    for (_topic, aid), cluster in three["labelled"].items():
        assert cluster == three["clusters"][aid]


def test_the_stage_moves_to_a_surviving_worker_with_its_clusters(stack_settings: Settings,
                                                                tmp_path: Path) -> None:
    """SIGKILL the worker that runs the near-duplicate stage: the other worker takes the stage
    over, rebuilds the index from Elasticsearch, and the copies sent afterwards -- some of them
    on the dead worker's partitions -- still join their originals; nothing is lost."""
    import time

    if not stack_settings.dedup_stage:
        pytest.skip("NEWSFLOW_DEDUP_STAGE=false: no stage to move")
    settings = _private(stack_settings, "move")
    originals, copies = _stories()
    with _pipeline(settings, 2, tmp_path) as members:
        with ArticleProducer(settings) as producer:
            first = {producer.send(a) for a in originals}
        _indexed_clusters(settings, first)
        owners = [(port, proc) for port, proc in members if _health(port)["dedup_stage"]["owned"]]
        assert len(owners) == 1, [_health(port)["dedup_stage"] for port, _ in members]
        owners[0][1].kill()
        survivor = next(port for port, proc in members if proc is not owners[0][1])
        deadline = time.monotonic() + 180
        while not _health(survivor)["dedup_stage"]["owned"]:
            assert time.monotonic() < deadline, "the stage never moved to the survivor"
            time.sleep(1)
        with ArticleProducer(settings) as producer:
            rest = {producer.send(a) for a in copies}
        clusters = _indexed_clusters(settings, first | rest)
        stage = _health(survivor)["dedup_stage"]
    assert stage["articles"] >= STORIES  # rebuilt from the index, then the copies
    for i in range(STORIES):
        original = article_id(f"https://example.org/wire/{i}")
        for c in range(COPIES):
            assert clusters[article_id(f"https://example.org/paper{c}/{i}")] == original
