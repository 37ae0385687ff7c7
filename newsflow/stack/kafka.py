"""Kafka specifics: KRaft properties, storage formatting, the command line, readiness."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

from newsflow.stack.cluster import kafka_member_properties, render_overrides, split_member
from newsflow.stack.config import (
    DEPLOY_DIR,
    KAFKA,
    KAFKA_MAIN_CLASS,
    KAFKA_STORAGE_TOOL,
    Say,
    StackConfig,
    StackError,
    print_stderr,
)
from newsflow.stack.files import log_excerpt
from newsflow.stack.formats import new_cluster_id, render_properties


def kafka_version(cfg: StackConfig) -> str | None:
    for jar in cfg.lib_dir(KAFKA).glob("kafka_2.13-*.jar"):
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


def _kafka_data_dir(cfg: StackConfig, broker: str = KAFKA) -> Path:
    return cfg.service_dir(broker) / "data"


def _kafka_properties(cfg: StackConfig, broker: str = KAFKA) -> Path:
    return cfg.service_dir(broker) / "server.properties"


def write_kafka_properties(cfg: StackConfig, broker: str = KAFKA) -> Path:
    """Re-rendered on every start so port or template changes apply without a reformat.
    ``broker``: a member of a multi-broker stack (``kafka-2``), see newsflow.stack.cluster."""
    template = (cfg.deploy_dir / KAFKA / "server.properties.template").read_text()
    port, controller_port = cfg.ports(broker)
    text = render_properties(
        template,
        {
            "port": port,
            "controller_port": controller_port,
            "log_dirs": _kafka_data_dir(cfg, broker),
        },
    )
    index = split_member(broker)[1]
    text += render_overrides(
        kafka_member_properties(cfg.kafka_port, cfg.layout.kafka_brokers, index)
    )
    out = _kafka_properties(cfg, broker)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def _cluster_id(cfg: StackConfig) -> str:
    path = cfg.service_dir(KAFKA) / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    meta = _kafka_data_dir(cfg) / "meta.properties"  # broker 1's: all share the cluster id
    cid = None
    if meta.exists():  # keep the id the data was formatted with
        match = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.MULTILINE)
        cid = match.group(1) if match else None
    cid = cid or new_cluster_id()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(cid + "\n")
    return cid


def jvm_common_args(cfg: StackConfig, service: str, heap: str) -> list[str]:
    return [f"-Xms{heap}", f"-Xmx{heap}", *cfg.markers(service)]


def _kafka_log4j() -> str:
    return f"-Dlog4j.configuration=file:{DEPLOY_DIR / KAFKA / 'log4j.properties'}"


def format_kafka_storage(
    cfg: StackConfig,
    java: Path,
    say: Say = print_stderr,
    properties: Path | None = None,
    broker: str = KAFKA,
) -> bool:
    """Format the KRaft log dir once. StorageTool calls System.exit, hence its own JVM.
    ``properties``: an already written server.properties (the secure stack's); default: render
    the plaintext template for ``broker`` (a member of a multi-broker stack, e.g. ``kafka-2``)."""
    properties = properties or write_kafka_properties(cfg, broker)
    data_dir = _kafka_data_dir(cfg, broker)
    if (data_dir / "meta.properties").exists():
        return False
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(java),
        "-Xmx256m",
        _kafka_log4j(),
        "-cp",
        f"{cfg.lib_dir(KAFKA)}/*",
        KAFKA_STORAGE_TOOL,
        "format",
        "-t",
        _cluster_id(cfg),
        "-c",
        str(properties),
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL
    )
    log = cfg.log_file(broker)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"=== format storage: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        raise StackError(f"Formatting Kafka storage failed.\n{log_excerpt(log)}")
    say(f"{broker}: formatted storage in {data_dir}")
    return True


def kafka_argv(cfg: StackConfig, java: Path, broker: str = KAFKA) -> list[str]:
    return [
        str(java),
        *jvm_common_args(cfg, broker, cfg.kafka_heap),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        _kafka_log4j(),
        "-cp",
        f"{cfg.lib_dir(KAFKA)}/*",
        KAFKA_MAIN_CLASS,
        str(_kafka_properties(cfg, broker)),
    ]


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    # kafka-python logs every refused connection at WARNING/ERROR while we poll a starting broker.
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _tcp_open(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def kafka_ready(cfg: StackConfig, timeout: float = 5.0, broker: str = KAFKA) -> bool:
    """True when the broker answers a metadata request and knows a controller (and, in a
    multi-broker stack, counts itself among the cluster's brokers)."""
    if not _tcp_open(cfg.ports(broker)[0]):
        return False
    from kafka import KafkaAdminClient  # slow import; only when a broker is listening

    ms = int(timeout * 1000)
    with _quiet_logger("kafka"):
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=[cfg.address(broker)],
                request_timeout_ms=ms,
                bootstrap_timeout_ms=ms,
                client_id="newsflow-stack-probe",
            )
        except Exception:
            return False
        try:
            cluster = admin.describe_cluster()
            node_id = split_member(broker)[1] + 1
            ids = {b.get("broker_id") for b in cluster.get("brokers") or []}
            known = node_id in ids if cfg.layout.kafka_brokers > 1 else bool(ids)
            return known and cluster.get("controller_id", -1) != -1
        except Exception:
            return False
        finally:
            admin.close()
