"""``newsflow chaos``: a corpus through the real pipeline while it is being broken.

It runs on its OWN stack (a private stack directory and ports, 19092/19200 by default) because it
stops Elasticsearch and restarts the broker; private topics and alias on top. While the corpus is
produced, the worker and the indexer are killed with SIGKILL and restarted several times,
Elasticsearch is stopped for a while and the broker is restarted. Then it waits for the pipeline
to drain and counts: ids accepted by the producer, indexed, missing (accepted, neither indexed
nor dead-lettered), extra (indexed, never accepted), dead letters by stage and reason.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch import helpers

from ingest.dlq import read_dead_letters
from ingest.producer import ArticleProducer
from ingest.readers import iter_records
from newsflow import stack
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings
from newsflow.provision import run_setup
from newsflow.runner import newsflow_argv, settings_env, stop_all

Say = Callable[[str], None]
READY_LINE = "enricher ready"  # logged by processors.worker once its agent consumes


@dataclass
class Plan:
    worker_kills: int = 3
    indexer_kills: int = 3
    es_outage_seconds: float = 30.0
    broker_restarts: int = 1
    pause_seconds: float = 20.0  # between two faults
    drain_timeout: float = 1800.0


@dataclass
class Report:
    read: int = 0
    accepted_ids: int = 0
    rejected_by_producer: int = 0
    indexed: int = 0
    missing: int = 0
    extra: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)
    schedule: list[dict[str, Any]] = field(default_factory=list)
    produce_seconds: float = 0.0
    drain_seconds: float | None = None
    total_seconds: float = 0.0
    drained: bool = False
    missing_sample: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def chaos_settings(base: Settings, stack_dir: Path, kafka_port: int, es_port: int) -> Settings:
    uid = uuid.uuid4().hex[:6]
    return base.model_copy(update={
        "kafka_bootstrap_servers": f"127.0.0.1:{kafka_port}",
        "es_url": f"http://127.0.0.1:{es_port}", "stack_dir": stack_dir,
        "topic_raw": f"chaos{uid}.raw", "topic_enriched": f"chaos{uid}.enriched",
        "topic_dlq": f"chaos{uid}.dlq", "es_alias": f"chaos{uid}-news",
        "app_id": f"newsflow-chaos{uid}", "indexer_group": f"newsflow-indexer-chaos{uid}",
        "indexer_max_retry_seconds": 5.0,
    })


class Children:
    """The worker and the indexer as `newsflow worker` / `newsflow index` processes that can
    be SIGKILLed and restarted."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.env = settings_env(settings)
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, wait_ready: bool = True) -> None:
        argv = newsflow_argv("worker", "--web-port", "0") if name == "worker" else newsflow_argv(
            "index")
        path = self.log_dir / f"{name}.log"
        with path.open("ab") as log:
            mark = path.stat().st_size
            self.procs[name] = subprocess.Popen(argv, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT)
        if name == "worker" and wait_ready:
            _wait_for_new_line(path, mark, self.procs[name])

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()

    def ensure_running(self) -> None:
        for name, proc in list(self.procs.items()):
            if proc.poll() is not None:
                self.start(name, wait_ready=False)

    def stop_all(self) -> None:
        stop_all(self.procs.values(), 60)


def _wait_for_new_line(path: Path, mark: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with path.open("rb") as fh:
            fh.seek(mark)
            if READY_LINE.encode() in fh.read():
                return
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {path}")
        time.sleep(0.5)
    raise TimeoutError(f"worker not ready after 300 s; see {path}")


def faults(plan: Plan) -> list[str]:
    """The fault schedule, interleaved so each kind hits a pipeline already recovering."""
    kinds = (["kill-worker"] * plan.worker_kills, ["kill-indexer"] * plan.indexer_kills,
             ["stop-elasticsearch"] if plan.es_outage_seconds > 0 else [],
             ["restart-broker"] * plan.broker_restarts)
    out: list[str] = []
    longest = max(len(k) for k in kinds)
    for i in range(longest):
        out += [k[i] for k in kinds if i < len(k)]
    return out


def _inject(kind: str, children: Children, settings: Settings, plan: Plan, say: Say) -> None:
    quiet: Say = lambda m: None  # noqa: E731
    if kind == "kill-worker":
        children.kill("worker")
        children.start("worker", wait_ready=False)
    elif kind == "kill-indexer":
        children.kill("indexer")
        children.start("indexer", wait_ready=False)
    elif kind == "stop-elasticsearch":
        stack.stack_down(settings, only="elasticsearch", say=quiet)
        time.sleep(plan.es_outage_seconds)
        stack.ensure_up(settings, only="elasticsearch", say=quiet)
    elif kind == "restart-broker":
        stack.stack_down(settings, only="kafka", say=quiet)
        stack.ensure_up(settings, only="kafka", say=quiet)
    say(f"chaos: {kind} done")


def _produce(settings: Settings, paths: list[Path], limit: int | None, out: dict[str, Any]
             ) -> None:
    """Produce the corpus; a send that times out while the broker is down is retried (the
    producer's buffer is full), never skipped."""
    from kafka.errors import KafkaTimeoutError

    ids: set[str] = set()
    read = 0
    with ArticleProducer(settings) as producer:
        for rec in iter_records(paths, limit):
            read += 1
            while True:
                try:
                    aid = producer.send_record(rec)
                    break
                except KafkaTimeoutError:
                    time.sleep(1.0)
            if aid:
                ids.add(aid)
        producer.flush()
    out.update(ids=ids, read=read, summary=producer.summary)


def _dead_letters(settings: Settings) -> tuple[Counter[str], set[str]]:
    reasons: Counter[str] = Counter()
    keys: set[str] = set()
    for entry in read_dead_letters(settings):
        reasons[f"{entry.letter.stage}/{entry.letter.error_type}"] += 1
        if entry.letter.key:
            keys.add(entry.letter.key)
    return reasons, keys


def _indexed_ids(settings: Settings) -> set[str]:
    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        query: dict[str, Any] = {"query": {"match_all": {}}}
        return {h["_id"] for h in helpers.scan(es, index=settings.es_alias, query=query,
                                               _source=False, size=5000)}
    finally:
        es.close()


def _drained(settings: Settings, accepted: set[str]) -> bool:
    es = elasticsearch_client(settings)
    try:
        es.indices.refresh(index=settings.es_alias)
        indexed = int(es.count(index=settings.es_alias)["count"])
    finally:
        es.close()
    if indexed < len(accepted) * 0.5:
        return False  # far from done: skip reading the DLQ
    _, dead = _dead_letters(settings)
    return indexed + len(accepted & dead) >= len(accepted)


def _wait_drained(settings: Settings, accepted: set[str], children: Children, timeout: float,
                  say: Say) -> bool:
    deadline = time.monotonic() + timeout
    last_said = 0.0
    while time.monotonic() < deadline:
        children.ensure_running()
        with contextlib.suppress(Exception):  # a service may still be coming back
            if _drained(settings, accepted):
                return True
        if time.monotonic() - last_said > 30:
            last_said = time.monotonic()
            say("chaos: waiting for the pipeline to drain")
        time.sleep(3)
    return False


def _run_faults(children: Children, settings: Settings, plan: Plan, t0: float, say: Say
                ) -> list[dict[str, Any]]:
    schedule = []
    for kind in faults(plan):
        time.sleep(plan.pause_seconds)
        children.ensure_running()
        started = time.monotonic()
        say(f"chaos: {kind} at {started - t0:.0f}s")
        _inject(kind, children, settings, plan, say)
        schedule.append({"fault": kind, "at_seconds": round(started - t0, 1),
                         "took_seconds": round(time.monotonic() - started, 1)})
    return schedule


def run_chaos(settings: Settings, paths: list[Path], *, limit: int | None = None,
              plan: Plan | None = None, say: Say = lambda m: None) -> Report:
    """Everything on the stack ``settings`` points at, which must be the caller's own."""
    plan = plan or Plan()
    report = Report()
    t0 = time.monotonic()
    stack.ensure_up(settings, say=lambda m: None)
    run_setup(settings)
    children = Children(settings, settings.stack_dir / "logs" / settings.app_id)
    try:
        children.start("worker")
        children.start("indexer")
        produced: dict[str, Any] = {}
        producer = threading.Thread(target=_produce, args=(settings, paths, limit, produced),
                                    daemon=True)
        producer.start()
        report.schedule = _run_faults(children, settings, plan, t0, say)
        producer.join()
        report.produce_seconds = round(time.monotonic() - t0, 1)
        drain_from = time.monotonic()
        accepted: set[str] = produced["ids"]
        report.drained = _wait_drained(settings, accepted, children, plan.drain_timeout, say)
        report.drain_seconds = round(time.monotonic() - drain_from, 1)
        _count(report, settings, produced)
    finally:
        children.stop_all()
    report.total_seconds = round(time.monotonic() - t0, 1)
    return report


def _count(report: Report, settings: Settings, produced: dict[str, Any]) -> None:
    accepted: set[str] = produced["ids"]
    reasons, dead = _dead_letters(settings)
    indexed = _indexed_ids(settings)
    missing = accepted - indexed - dead
    report.read = produced["read"]
    report.accepted_ids = len(accepted)
    report.rejected_by_producer = produced["summary"].rejected
    report.indexed = len(indexed)
    report.missing = len(missing)
    report.extra = len(indexed - accepted)
    report.dead_letters = dict(reasons.most_common())
    report.missing_sample = sorted(missing)[:20]
