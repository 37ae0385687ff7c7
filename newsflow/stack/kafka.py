"""Kafka specifics: KRaft properties, storage formatting, the command line, readiness."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

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


def _kafka_data_dir(cfg: StackConfig) -> Path:
    return cfg.service_dir(KAFKA) / "data"


def _kafka_properties(cfg: StackConfig) -> Path:
    return cfg.service_dir(KAFKA) / "server.properties"


def write_kafka_properties(cfg: StackConfig) -> Path:
    """Re-rendered on every start so port or template changes apply without a reformat."""
    template = (cfg.deploy_dir / KAFKA / "server.properties.template").read_text()
    text = render_properties(
        template,
        {
            "port": cfg.kafka_port,
            "controller_port": cfg.kafka_controller_port,
            "log_dirs": _kafka_data_dir(cfg),
        },
    )
    out = _kafka_properties(cfg)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return out


def _cluster_id(cfg: StackConfig) -> str:
    path = cfg.service_dir(KAFKA) / "cluster.id"
    if path.exists():
        return path.read_text().strip()
    meta = _kafka_data_dir(cfg) / "meta.properties"
    cid = None
    if meta.exists():  # keep the id the data was formatted with
        match = re.search(r"^cluster\.id=(\S+)", meta.read_text(), re.MULTILINE)
        cid = match.group(1) if match else None
    cid = cid or new_cluster_id()
    path.write_text(cid + "\n")
    return cid


def jvm_common_args(cfg: StackConfig, service: str, heap: str) -> list[str]:
    return [f"-Xms{heap}", f"-Xmx{heap}", *cfg.markers(service)]


def _kafka_log4j() -> str:
    return f"-Dlog4j.configuration=file:{DEPLOY_DIR / KAFKA / 'log4j.properties'}"


def format_kafka_storage(
    cfg: StackConfig, java: Path, say: Say = print_stderr, properties: Path | None = None
) -> bool:
    """Format the KRaft log dir once. StorageTool calls System.exit, hence its own JVM.
    ``properties``: an already written server.properties (the secure stack's); default: render
    the plaintext template."""
    properties = properties or write_kafka_properties(cfg)
    if (_kafka_data_dir(cfg) / "meta.properties").exists():
        return False
    _kafka_data_dir(cfg).mkdir(parents=True, exist_ok=True)
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
    log = cfg.log_file(KAFKA)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as fh:
        fh.write(f"=== format storage: {' '.join(argv)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode != 0:
        raise StackError(f"Formatting Kafka storage failed.\n{log_excerpt(log)}")
    say(f"kafka: formatted storage in {_kafka_data_dir(cfg)}")
    return True


def kafka_argv(cfg: StackConfig, java: Path) -> list[str]:
    return [
        str(java),
        *jvm_common_args(cfg, KAFKA, cfg.kafka_heap),
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-Djava.awt.headless=true",
        _kafka_log4j(),
        "-cp",
        f"{cfg.lib_dir(KAFKA)}/*",
        KAFKA_MAIN_CLASS,
        str(_kafka_properties(cfg)),
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


def kafka_ready(cfg: StackConfig, timeout: float = 5.0) -> bool:
    """True when the broker answers a metadata request and knows a controller."""
    if not _tcp_open(cfg.kafka_port):
        return False
    from kafka import KafkaAdminClient  # slow import; only when a broker is listening

    ms = int(timeout * 1000)
    with _quiet_logger("kafka"):
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=[cfg.address(KAFKA)],
                request_timeout_ms=ms,
                bootstrap_timeout_ms=ms,
                client_id="newsflow-stack-probe",
            )
        except Exception:
            return False
        try:
            cluster = admin.describe_cluster()
            return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
        except Exception:
            return False
        finally:
            admin.close()
