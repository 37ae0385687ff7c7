"""``newsflow run``: the whole pipeline on one machine, as child processes.

The worker and the indexer run as the same ``newsflow worker`` / ``newsflow index`` commands an
operator would run, so ``run`` exercises exactly what production runs."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from ingest.producer import ArticleProducer
from ingest.readers import iter_records
from newsflow import stack
from newsflow.core.clients import elasticsearch_client
from newsflow.core.sanitize import redact_url
from newsflow.core.settings import Settings
from newsflow.provision import run_setup

SAMPLES: Traversable = resources.files("newsflow") / "samples" / "articles.jsonl"  # package data
Say = Callable[[str], None]


def newsflow_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "newsflow", *args]


def start_local_stack_if_needed(settings: Settings, say: Say) -> bool:
    """True when this call started the stack (so the caller may stop it again)."""
    if not settings.is_local_default():
        say(
            f"using Kafka {settings.kafka_bootstrap_servers} and Elasticsearch "
            f"{redact_url(settings.es_url)}"
        )
        return False
    if stack.is_up(settings):
        say("local stack already up")
        return False
    say("nothing answers on the local defaults: starting the local stack (`newsflow stack up`)")
    stack.ensure_up(settings, say=say)
    return True


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process see exactly these settings."""
    env = dict(os.environ)
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, dict | list):
            value = json.dumps(value)
        env[f"NEWSFLOW_{name.upper()}"] = str(value)
    for name in ("kafka_sasl_password", "es_password", "es_api_key"):
        secret = getattr(settings, name)
        if secret is not None:
            env[f"NEWSFLOW_{name.upper()}"] = secret.get_secret_value()
    return env


@contextlib.contextmanager
def child_processes(
    settings: Settings, say: Say, *, log_dir: Path | None = None, web_port: int | None = None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Worker and indexer for these settings, logging to files; SIGTERM'd (then killed) on exit.
    Yields once the worker has its enricher loaded."""
    log_dir = log_dir or settings.stack_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = settings_env(settings)
    # The worker's /health page says when it is ready; 0 asks for any free port (parallel runs).
    port = settings.worker_web_port if web_port is None else (web_port or free_port())
    children: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in (
            ("worker", newsflow_argv("worker", "--web-port", str(port))),
            ("indexer", newsflow_argv("index")),
        ):
            path = log_dir / f"{name}.log"
            with path.open("ab") as log:
                children.append(
                    subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
                )
            say(f"{name}: pid {children[-1].pid}, log {path}")
        wait_worker_ready(f"http://127.0.0.1:{port}/health", children[0], log_dir / "worker.log")
        yield children
    finally:
        stop_all(children, 30)
        for child in children:
            say(f"{_name(child)}: stopped (pid {child.pid}, exit code {child.returncode})")


def stop_all(procs: Iterable[subprocess.Popen[bytes]], timeout: float) -> None:
    """SIGTERM every child still running, then wait for each (killing it after ``timeout``):
    all of them shut down at once rather than one after another."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        wait_or_kill(proc, timeout)


def wait_or_kill(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait for a child that was asked to stop; kill it when it takes longer than ``timeout``."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _name(proc: subprocess.Popen[bytes]) -> str:
    args = proc.args
    return str(args[3]) if isinstance(args, list) and len(args) > 3 else str(args)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_worker_ready(
    health_url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180.0
) -> None:
    """Poll the worker's /health until it reports ``ready`` (its agent consumes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(health_url, timeout=2) as resp,
        ):
            if json.loads(resp.read()).get("ready"):
                return
        if proc.poll() is not None:
            text = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"{_name(proc)} exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.3)
    raise TimeoutError(f"worker not ready at {health_url} after {timeout:.0f} s; see {log}")


def produce_samples(settings: Settings, samples: Traversable = SAMPLES) -> list[str]:
    with resources.as_file(samples) as path, ArticleProducer(settings) as producer:
        return [i for i in producer.send_many(iter_records([path])) if i]


def wait_searchable(
    settings: Settings, ids: list[str], timeout: float, children: list[subprocess.Popen[bytes]]
) -> int:
    """Poll until every id is in the alias; raises if a child dies or time runs out."""
    es = elasticsearch_client(settings)
    deadline = time.monotonic() + timeout
    found = 0
    try:
        while time.monotonic() < deadline:
            for child in children:
                if child.poll() is not None:
                    raise RuntimeError(
                        f"{_name(child)} exited with {child.returncode}; "
                        f"see {settings.stack_dir / 'logs'}"
                    )
            with contextlib.suppress(Exception):
                es.indices.refresh(index=settings.es_alias)
                found = int(
                    es.count(index=settings.es_alias, query={"ids": {"values": ids}})["count"]
                )
                if found >= len(ids):
                    return found
            time.sleep(0.5)
    finally:
        es.close()
    raise TimeoutError(
        f"only {found}/{len(ids)} sample articles searchable after {timeout:.0f} s; "
        f"see {settings.stack_dir / 'logs'}"
    )


def left_running(settings: Settings, started_stack: bool) -> str:
    """What an interrupted ``run`` leaves behind, and how to stop it."""
    where = f"Kafka at {settings.kafka_bootstrap_servers} and Elasticsearch at {settings.es_url}"
    if not settings.is_local_default():
        return f"still running: {where} (not started by newsflow; left as they were)"
    origin = "started by this run" if started_stack else "already running before this run"
    return (
        f"still running: the local stack, {where} ({origin}, data kept in "
        f"{settings.stack_dir}); stop it with `newsflow stack down`"
    )


def run_pipeline(settings: Settings, *, once: bool, query: str, timeout: float, say: Say) -> int:
    """Exit status: the search's with ``once``, 0 when the worker or indexer ends, 130 on
    Ctrl-C (which stops the worker and the indexer and says what is still running)."""
    started_stack = start_local_stack_if_needed(settings, say)
    interrupted = False
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
            say(
                "pipeline running; produce more with `newsflow produce FILE` "
                "(Ctrl-C stops the worker and the indexer)"
            )
            while all(c.poll() is None for c in children):
                time.sleep(1)
            return 0
    except KeyboardInterrupt:
        interrupted = True
        return 130
    finally:
        if once and started_stack:
            stack.stack_down(settings, say=say)
        elif interrupted:
            say(left_running(settings, started_stack))
