"""``newsflow run`` then Ctrl-C: SIGINT to its process group, as a terminal sends it. The worker
and the indexer stop, and the command says what it stopped, what is still running and how to
stop that."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from newsflow import stack
from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.settings import Settings
from newsflow.runner import settings_env

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private(stack_settings: Settings) -> Iterator[Settings]:
    if not stack_settings.is_local_default():
        pytest.skip("the message under test is about the local stack")
    uid = uuid.uuid4().hex[:8]
    settings = stack_settings.model_copy(
        update={
            "topic_raw": f"r{uid}.raw",
            "topic_enriched": f"r{uid}.enriched",
            "topic_dlq": f"r{uid}.dlq",
            "es_alias": f"r{uid}-news",
            "app_id": f"newsflow-r{uid}",
            "indexer_group": f"newsflow-indexer-r{uid}",
            "worker_web_port": free_port(),
        }
    )
    yield settings
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(**kafka_config(settings))
    try:
        admin.delete_topics([settings.topic_raw, settings.topic_enriched, settings.topic_dlq])
    except Exception:  # best effort: a leftover test topic harms nothing
        pass
    finally:
        admin.close()
    es = elasticsearch_client(settings)
    es.options(ignore_status=404).indices.delete(index=f"{settings.es_alias}-*")
    es.options(ignore_status=404).indices.delete_index_template(
        name=f"{settings.es_alias}-template"
    )
    es.close()


def test_ctrl_c_on_run_says_what_stopped_and_what_still_runs(private: Settings) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "newsflow", "run", "--timeout", "600"],
        env={**settings_env(private), "COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a shell job
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(ln.decode(errors="replace") for ln in proc.stdout or []),
        daemon=True,
    )
    reader.start()
    deadline = time.monotonic() + 900
    while not any("pipeline running" in ln for ln in lines):
        assert proc.poll() is None, "".join(lines)[-3000:]
        assert time.monotonic() < deadline, "".join(lines)[-3000:]
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    assert proc.wait(timeout=120) == 130, "".join(lines)[-3000:]
    reader.join(timeout=10)
    output = " ".join("".join(lines).split())  # rich wraps long lines at the console width
    assert "worker: stopped" in output and "index: stopped" in output, output[-3000:]
    assert "still running: the local stack" in output, output[-3000:]
    assert "newsflow stack down" in output, output[-3000:]
    assert "Traceback" not in output and "Aborted" not in output, output[-3000:]
    assert stack.is_up(private), "Ctrl-C on run must not stop a stack it did not start"
