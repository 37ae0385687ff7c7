"""What the bench measures besides the pipeline run itself: the offline enrichment of the same
articles (``newsflow enrich``, no Kafka: the worker's ceiling), the worker alone over the run's
raw topic (the enrich stage's own rate), and extra worker processes for ``--workers N`` (the
scale-out figures)."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from newsflow.bench.metrics import BenchError, cpu_share
from newsflow.bench.options import worker_replay_settings
from newsflow.bench.stages import run_replay
from newsflow.bench.watchers import ProcSampler
from newsflow.core.settings import Settings


def offline_enrichment(settings: Settings, files: list[Path], limit: int | None,
                       log_dir: Path) -> dict[str, Any]:
    """``newsflow enrich`` over the same corpus records, alone on the machine (the pipeline is
    stopped), in its own process so its memory and CPU are its own."""
    from newsflow.runner import newsflow_argv, settings_env

    argv = newsflow_argv("enrich", *map(str, files), "--out", "/dev/null", "--json", "-q")
    if limit is not None:
        argv += ["--limit", str(limit)]
    with (log_dir / "enrich-offline.log").open("ab") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log,
                                env=settings_env(settings))
        procs = ProcSampler({"enrich": proc.pid})
        procs.thread.start()
        try:
            out, _ = proc.communicate(timeout=3600)
        finally:
            procs.thread.stop()
    if proc.returncode != 0:
        raise BenchError(f"offline enrichment exited with {proc.returncode}; see {log_dir}")
    summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    summary["peak_rss_mb"] = procs.peak_mb()["enrich"]
    # CPU per article while enriching (the last ``seconds`` of the process; before that it
    # loads its models): unlike a rate, this barely moves with the load of a shared machine.
    series = procs.cpu_series["enrich"]
    if series and summary.get("articles"):
        end = series[-1][0]
        busy = cpu_share(series, end - float(summary["seconds"]), end)
        if busy is not None:
            summary["cpu_cores_busy"] = busy
            summary["cpu_ms_per_article"] = round(
                1000 * busy * float(summary["seconds"]) / summary["articles"], 3)
    return summary


@contextlib.contextmanager
def extra_workers(settings: Settings, n: int, log_dir: Path) -> Iterator[dict[str, int]]:
    """``n`` more ``newsflow worker`` processes in the same group (name -> pid), each ready
    (enricher loaded) before the run starts; stopped with SIGTERM on exit."""
    from newsflow.runner import free_port, newsflow_argv, settings_env, wait_worker_ready

    procs: dict[str, subprocess.Popen[bytes]] = {}
    ports: dict[str, int] = {}
    try:
        for i in range(2, n + 2):
            name = f"worker{i}"
            ports[name] = free_port()
            with (log_dir / f"{name}.log").open("ab") as log:
                procs[name] = subprocess.Popen(
                    newsflow_argv("worker", "--web-port", str(ports[name])), stdout=log,
                    stderr=subprocess.STDOUT, env=settings_env(settings))
        for name, proc in procs.items():
            wait_worker_ready(f"http://127.0.0.1:{ports[name]}/health", proc,
                              log_dir / f"{name}.log")
        yield {name: proc.pid for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_group_stable(settings: Settings, members: int, timeout: float = 120.0,
                      group_id: str | None = None) -> None:
    """Until the consumer group (the worker group unless ``group_id`` says another) is Stable
    with ``members`` members (all joined, partitions assigned), so the run does not time a
    rebalance."""
    import time

    from kafka import KafkaAdminClient

    from newsflow.core.clients import kafka_config

    group_id = group_id or settings.app_id
    admin = KafkaAdminClient(**kafka_config(settings), client_id="newsflow-bench")
    deadline = time.monotonic() + timeout
    state = "?"
    try:
        while time.monotonic() < deadline:
            group = admin.describe_groups([group_id]).get(group_id) or {}
            joined = group.get("members") or []
            state = f"{group.get('group_state')} with {len(joined)} member(s)"
            if group.get("group_state") == "Stable" and len(joined) == members:
                return
            time.sleep(0.5)
    finally:
        admin.close()
    raise BenchError(f"consumer group {group_id} not stable after {timeout:.0f} s ({state})")


def replay_worker(settings: Settings, log_dir: Path, stall_seconds: float,
                  progress: bool) -> dict[str, Any]:
    """The worker's own capacity in the pipeline: a fresh ``newsflow worker`` (real Kafka, Faust
    and the near-duplicate stage, as in the run) over the already complete raw topic, with the
    machine to itself like the offline enrichment it is compared with. In the run it shares two
    cores with the indexer, Elasticsearch and the broker, so that rate measures the machine as
    much as the worker. Done when every record of the raw topic has its output (an enriched
    article or a dead letter)."""
    from kafka import KafkaConsumer, TopicPartition

    from ingest.topics import ensure_topics
    from newsflow.core.clients import kafka_config
    from newsflow.provision import label_stream_topics
    from newsflow.runner import free_port, newsflow_argv, settings_env

    replay = worker_replay_settings(settings)
    ensure_topics(replay, label_stream_topics(replay))
    consumer = KafkaConsumer(**kafka_config(replay), group_id=None, enable_auto_commit=False)

    def partitions(*topics: str) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t in topics for p in range(replay.topic_partitions)]

    try:
        expected = int(sum(consumer.end_offsets(partitions(replay.topic_raw)).values()))
        outputs = partitions(replay.topic_enriched, replay.topic_dlq)
        report = run_replay(
            "worker", newsflow_argv("worker", "--web-port", str(free_port())),
            settings_env(replay), log_dir / "worker-replay.log",
            lambda: int(sum(consumer.end_offsets(outputs).values())), expected, stall_seconds,
            progress)
    finally:
        consumer.close()
    report["articles"] = expected
    busy, seconds = report.get("cpu_cores_busy"), report.get("seconds")
    if busy and seconds:
        report["cpu_ms_per_article"] = round(1000 * busy * seconds / expected, 3)
    return report

