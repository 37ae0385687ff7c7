"""Pure helpers of newsflow.stack: no JVM, no network (real sockets on loopback only)."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest

from newsflow import stack
from newsflow.core.settings import Settings
from newsflow.stack import StackConfig, StackError
from newsflow.stack.build import build_digest
from newsflow.stack.config import local_port
from newsflow.stack.formats import (
    PortHolder,
    java_major_from_version_output,
    maven_failure_message,
    new_cluster_id,
    port_in_use_message,
    render_properties,
)
from newsflow.stack.processes import port_holder, port_is_free

TEMPLATE = stack.DEPLOY_DIR / "kafka" / "server.properties.template"


def _props(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


# -- properties rendering ------------------------------------------------------------------


def test_render_fills_placeholders_and_keeps_comments() -> None:
    template = "# uses {port} in prose\nlisteners=PLAINTEXT://127.0.0.1:{port}\n"
    out = render_properties(template, {"port": 19092})
    assert out == "# uses {port} in prose\nlisteners=PLAINTEXT://127.0.0.1:19092\n"


def test_render_escapes_backslashes() -> None:
    assert render_properties("log.dirs={d}\n", {"d": r"C:\kafka"}) == "log.dirs=C:\\\\kafka\n"


def test_render_rejects_missing_values() -> None:
    with pytest.raises(ValueError, match="controller_port"):
        render_properties("a={port}\nb={controller_port}\n", {"port": 1})


def test_shipped_template_renders_a_single_node_kraft_config(tmp_path: Path) -> None:
    values = {"port": 19092, "controller_port": 19093, "log_dirs": tmp_path / "data"}
    props = _props(render_properties(TEMPLATE.read_text(), values))
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    # 20 MiB dead letters must fit, and followers must be able to fetch what leaders accept.
    assert int(props["message.max.bytes"]) >= 20 * 1024 * 1024
    assert int(props["replica.fetch.max.bytes"]) >= int(props["message.max.bytes"])


def test_cluster_id_looks_like_kafka_uuid() -> None:
    for _ in range(50):
        cid = new_cluster_id()
        assert len(cid) == 22 and not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


# -- settings -> ports -----------------------------------------------------------------------


def test_ports_follow_client_settings(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "kafka_bootstrap_servers": "127.0.0.1:19092",
            "es_url": "http://localhost:19200",
            "stack_dir": tmp_path,
        }
    )
    cfg = StackConfig.from_settings(settings)
    assert cfg.ports("kafka") == (19092, 19093)
    assert cfg.ports("elasticsearch") == (19200, 19300)
    assert cfg.stack_dir == tmp_path.resolve()
    assert cfg.log_file("kafka") == tmp_path.resolve() / "logs" / "kafka.log"


@pytest.mark.parametrize(
    "address", ["kafka.prod:9092", "127.0.0.1:9092,kafka.prod:9094", "https://127.0.0.1:9200"]
)
def test_local_stack_refuses_remote_or_tls_addresses(address: str) -> None:
    with pytest.raises(StackError):
        local_port("X", address, default=1)


def test_local_port_defaults() -> None:
    assert local_port("Elasticsearch", "http://127.0.0.1", default=9200) == 9200
    assert local_port("Kafka", "localhost:9092", default=1) == 9092


# -- messages --------------------------------------------------------------------------------


def test_port_message_names_the_foreign_process() -> None:
    holder = PortHolder(4242, "python3", ("python3", "-m", "http.server", "9200"))
    msg = port_in_use_message("elasticsearch", 9200, holder, Path("/x/.stack"))
    assert "Port 9200" in msg and "elasticsearch" in msg
    assert "pid 4242" in msg and "http.server" in msg


def test_port_message_points_at_the_other_stack() -> None:
    holder = PortHolder(7, "java", ("java", "-Dnewsflow.stack.dir=/other/.stack", "kafka.Kafka"))
    msg = port_in_use_message("kafka", 9092, holder, Path("/mine/.stack"))
    assert "newsflow stack down --dir /other/.stack" in msg


def test_port_message_without_visible_holder() -> None:
    assert "cannot see" in port_in_use_message("kafka", 9093, None)


def test_maven_download_failure_says_what_to_retry(tmp_path: Path) -> None:
    out = (
        "[ERROR] Failed to execute goal on project newsflow-kafka: Could not resolve "
        "dependencies ... Could not transfer artifact org.apache.kafka:kafka_2.13:jar:3.9.2"
    )
    msg = maven_failure_message("kafka", out, tmp_path / "build.log")
    assert "newsflow stack up" in msg and "again" in msg and "mvn" in msg
    other = maven_failure_message("kafka", "[ERROR] COMPILATION ERROR", tmp_path / "b.log")
    assert "again" not in other and "COMPILATION ERROR" in other


@pytest.mark.parametrize(
    ("text", "major"),
    [
        ('openjdk version "17.0.15" 2025-04-15', 17),
        ('openjdk version "25" 2025-09-16', 25),
        ('java version "1.8.0_402"', 8),
        ("garbage", None),
    ],
)
def test_java_major(text: str, major: int | None) -> None:
    assert java_major_from_version_output(text) == major


# -- files and ports -------------------------------------------------------------------------


def test_tail_lines_reads_across_blocks(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("".join(f"line {i} " + "x" * 200 + "\n" for i in range(2000)))
    last = stack.tail_lines(log, 3)
    assert [line.split()[1] for line in last] == ["1997", "1998", "1999"]
    assert stack.tail_lines(tmp_path / "missing.log", 3) == []


def test_build_digest_tracks_pom_and_sources(tmp_path: Path) -> None:
    (tmp_path / "pom.xml").write_text("<project/>")
    first = build_digest(tmp_path)
    (tmp_path / "README.md").write_text("docs do not trigger a rebuild")
    assert build_digest(tmp_path) == first
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "A.java").write_text("class A {}")
    assert build_digest(tmp_path) != first


def test_port_check_finds_the_listener() -> None:
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        assert not port_is_free(port)
        holder = port_holder(port)
        if holder is not None:  # unprivileged users may not see socket owners
            assert holder.pid == os.getpid()
    assert port_is_free(port)
