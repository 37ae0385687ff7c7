"""``newsflow run``: the whole pipeline on one machine, as child processes.

The worker and the indexer run as the same ``newsflow worker`` / ``newsflow index`` commands an
operator would run, so ``run`` exercises exactly what production runs."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from elasticsearch import Elasticsearch

from ingest.producer import ArticleProducer
from ingest.readers import iter_records
from newsflow import stack
from newsflow.settings import Settings
from newsflow.setup import run_setup

SAMPLES = Path(__file__).resolve().parent / "samples" / "articles.jsonl"
Say = Callable[[str], None]


def newsflow_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsflow", *args]


def start_local_stack_if_needed(settings: Settings, say: Say) -> bool:
    """True when this call started the stack (so the caller may stop it again)."""
    if not settings.is_local_default():
        say(f"using Kafka {settings.kafka_bootstrap_servers} and Elasticsearch {settings.es_url}")
        return False
    if stack.is_up(settings):
        say("local stack already up")
        return False
    say("nothing answers on the local defaults: starting the local stack (`newsflow stack up`)")
    stack.ensure_up(settings, say=say)
    return True


@contextlib.contextmanager
def child_processes(settings: Settings, say: Say) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker and indexer, logging to the stack dir; SIGTERM'd (then killed) on exit."""
    log_dir = settings.stack_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in (("worker", newsflow_argv("worker")),
                           ("indexer", newsflow_argv("index"))):
            log = (log_dir / f"{name}.log").open("ab")
            children.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
            say(f"{name}: pid {children[-1].pid}, log {log_dir / f'{name}.log'}")
        yield children
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def produce_samples(settings: Settings, path: Path = SAMPLES) -> list[str]:
    with ArticleProducer(settings) as producer:
        ids = [i for i in producer.send_many(iter_records([path])) if i]
    return ids


def wait_searchable(settings: Settings, ids: list[str], timeout: float,
                    children: list[subprocess.Popen[bytes]]) -> int:
    """Poll until every id is in the alias; raises if a child dies or time runs out."""
    es = Elasticsearch(**settings.es_client_kwargs())  # type: ignore[arg-type]
    deadline = time.monotonic() + timeout
    found = 0
    try:
        while time.monotonic() < deadline:
            for child in children:
                if child.poll() is not None:
                    raise RuntimeError(f"{child.args[-1]} exited with {child.returncode}; "
                                       f"see {settings.stack_dir / 'logs'}")
            with contextlib.suppress(Exception):
                es.indices.refresh(index=settings.es_alias)
                found = int(es.count(index=settings.es_alias,
                                     query={"ids": {"values": ids}})["count"])
                if found >= len(ids):
                    return found
            time.sleep(0.5)
    finally:
        es.close()
    raise TimeoutError(f"only {found}/{len(ids)} sample articles searchable after {timeout:.0f} s; "
                       f"see {settings.stack_dir / 'logs'}")


def run_pipeline(settings: Settings, *, once: bool, query: str, timeout: float, say: Say) -> int:
    started_stack = start_local_stack_if_needed(settings, say)
    try:
        for line in run_setup(settings):
            say(line)
        with child_processes(settings, say) as children:
            t0 = time.monotonic()
            ids = produce_samples(settings)
            say(f"produced {len(ids)} sample articles; waiting until they are searchable")
            wait_searchable(settings, ids, timeout, children)
            say(f"all {len(ids)} searchable {time.monotonic() - t0:.1f} s after producing")
            say(f"$ newsflow search {query}")
            code = subprocess.call(newsflow_argv("search", query))
            if once:
                return code
            say("pipeline running; produce more with `newsflow produce FILE` (Ctrl-C stops)")
            with contextlib.suppress(KeyboardInterrupt):
                while all(c.poll() is None for c in children):
                    time.sleep(1)
            return 0
    finally:
        if once and started_stack:
            stack.stack_down(settings, say=say)
