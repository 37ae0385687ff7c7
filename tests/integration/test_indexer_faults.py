"""The indexer under real faults, on real Kafka and Elasticsearch: a write block on the index
(Elasticsearch answers every bulk item with 403 cluster_block_exception), a TCP hop that resets
connections, SIGTERM while retrying, and a rebalance while retrying. Nothing is dead-lettered
or committed while the cluster refuses, and everything is indexed exactly once afterwards."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsflow.core.settings import Settings
from tests.integration.indexer_env import (
    all_committed,
    article_records,
    assert_nothing_committed_for,
    block_writes,
    committed_vs_end,
    dlq_records,
    indexer_thread,
    private_settings,
    produce,
    setup_index,
    versions,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def private() -> Iterator[Settings]:
    """This test's own topics, group and alias (index/template), cleaned after."""
    with private_settings() as settings:
        yield settings


class _RetryLog(logging.Handler):
    """Counts the indexer's "not indexed ... retrying" warnings, per thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.by_thread: dict[str, int] = {}
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if "not indexed" in record.msg:
            with self._lock2:
                self.by_thread[record.threadName or "?"] = (
                    self.by_thread.get(record.threadName or "?", 0) + 1)

    def count(self, thread: str | None = None) -> int:
        with self._lock2:
            if thread is None:
                return sum(self.by_thread.values())
            return self.by_thread.get(thread, 0)


@contextlib.contextmanager
def _retry_log() -> Iterator[_RetryLog]:
    logger = logging.getLogger("newsflow.indexer")
    handler = _RetryLog()
    old_level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


class _Hop:
    """A TCP forwarder on 127.0.0.1 in front of Elasticsearch. Until ``forward()`` it accepts
    and resets every connection (the client sees connection errors); then it pipes bytes."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.refused = 0
        self._forwarding = threading.Event()
        self._closing = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._acceptor = threading.Thread(target=self._accept, name="hop-accept", daemon=True)
        self._acceptor.start()

    def forward(self) -> None:
        self._forwarding.set()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._forwarding.is_set():
                self.refused += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                conn.close()  # RST: "connection reset by peer"
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._socks += [conn, upstream]
                for src, dst in ((conn, upstream), (upstream, conn)):
                    t = threading.Thread(target=self._pipe, args=(src, dst), daemon=True)
                    self._threads.append(t)
                    t.start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self.listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            socks, threads = list(self._socks), list(self._threads)
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in threads:
            t.join(timeout=5)


def test_write_block_is_retried_never_dead_lettered_or_committed(private: Settings) -> None:
    """A write-blocked index answers every bulk item with 403 cluster_block_exception. That is
    the cluster's state, not the record's fault: the indexer must keep retrying without
    dead-lettering or committing, and index everything once the block is lifted."""
    setup_index(private)
    block_writes(private, True)
    n = 12
    try:
        with _retry_log() as retries, indexer_thread(private):
            produce(private, article_records(n))
            wait_until("two failed bulk attempts", lambda: retries.count() >= 2, 60)
            assert_nothing_committed_for(private, 4.0)
            assert versions(private) == {}
            assert dlq_records(private, expected=1, timeout=2) == []
            block_writes(private, False)
            wait_until("every offset committed", lambda: all_committed(private), 60, 0.5)
    finally:
        block_writes(private, False)
    assert versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert dlq_records(private, expected=1, timeout=2) == []
    committed, end = committed_vs_end(private)
    assert committed == end and sum(end.values()) == n


def test_connection_errors_are_retried_never_skipped(private: Settings) -> None:
    """The indexer reaches Elasticsearch through a hop that resets every connection at first:
    nothing may be committed or dead-lettered; once the hop forwards, everything is indexed."""
    setup_index(private)
    hop = _Hop(("127.0.0.1", int(private.es_url.rsplit(":", 1)[1].rstrip("/"))))
    via_hop = private.model_copy(update={"es_url": f"http://127.0.0.1:{hop.port}",
                                         "es_request_timeout": 10.0})
    n = 10
    try:
        with _retry_log() as retries, indexer_thread(via_hop):
            produce(private, article_records(n))
            wait_until("two failed bulk attempts", lambda: retries.count() >= 2, 60)
            assert_nothing_committed_for(private, 4.0)
            assert hop.refused >= 2
            assert versions(private) == {}
            assert dlq_records(private, expected=1, timeout=2) == []
            hop.forward()
            wait_until("every offset committed", lambda: all_committed(private), 60, 0.5)
    finally:
        hop.close()
    assert versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert dlq_records(private, expected=1, timeout=2) == []


def test_sigterm_during_retry_commits_nothing_and_loses_nothing(
    private: Settings, tmp_path: Path
) -> None:
    """`newsflow index` is SIGTERM'd while its batch cannot be written: it exits promptly and
    cleanly without committing; a new indexer then re-reads and indexes every record once."""
    from ingest.indexer import run_indexer
    from newsflow.runner import newsflow_argv, settings_env

    setup_index(private)
    block_writes(private, True)
    n = 10
    log_path = tmp_path / "index.log"
    try:
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(newsflow_argv("index"), env=settings_env(private),
                                    stdout=log_file, stderr=subprocess.STDOUT)
        try:
            produce(private, article_records(n))
            wait_until("the indexer to retry",
                        lambda: "not indexed" in log_path.read_text(errors="replace"), 90, 0.5)
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        log_text = log_path.read_text(errors="replace")
        assert rc == 0, log_text
        assert "stopped with an unfinished batch" in log_text, log_text
        committed, end = committed_vs_end(private)
        assert sum(end.values()) == n
        assert not any(committed.values()), committed
        assert dlq_records(private, expected=1, timeout=2) == []
        block_writes(private, False)
    finally:
        block_writes(private, False)

    result: list[Any] = []
    runner = threading.Thread(
        target=lambda: result.append(run_indexer(private, max_idle_seconds=5)), daemon=True)
    runner.start()
    runner.join(timeout=90)
    assert not runner.is_alive() and result
    assert result[0].indexed == n  # the stopped indexer had committed none of them
    assert versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    committed, end = committed_vs_end(private)
    assert committed == end


def test_partitions_revoked_during_retry_are_reread_not_double_indexed(
    private: Settings,
) -> None:
    """A second indexer joins while the first is stuck retrying a batch spanning both
    partitions. The first must drop the in-flight records of partitions taken from it (their
    new owner re-reads them from the last commit), so once writes are allowed every document
    is written exactly once (_version 1), nothing is lost and both partitions are committed."""
    setup_index(private)
    roomy = private.model_copy(update={"indexer_batch_size": 100,
                                       "indexer_batch_seconds": 1.0})
    n = 20
    produce(private, article_records(n))
    _, end = committed_vs_end(private)
    assert all(end.values()), f"records must span both partitions: {end}"
    block_writes(private, True)
    try:
        with _retry_log() as retries, indexer_thread(roomy, "indexer-a") as a:
            wait_until("indexer-a to retry", lambda: retries.count("indexer-a") >= 1, 60)
            with indexer_thread(roomy, "indexer-b") as b:
                # b only reaches Elasticsearch once it owns a partition: the rebalance is done.
                wait_until("indexer-b to retry", lambda: retries.count("indexer-b") >= 1, 60)
                assert not any(committed_vs_end(private)[0].values())
                block_writes(private, False)
                wait_until("every offset committed", lambda: all_committed(private), 60, 0.5)
    finally:
        block_writes(private, False)
    stats_a, stats_b = a[0], b[0]
    assert stats_a.dropped_on_revoke > 0  # the scenario happened: a lost in-flight records
    assert stats_b.indexed > 0
    assert stats_a.indexed + stats_b.indexed == n
    assert versions(private) == {f"art{i:03d}": 1 for i in range(n)}
    assert dlq_records(private, expected=1, timeout=2) == []
