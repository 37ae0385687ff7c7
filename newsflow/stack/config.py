"""Stack configuration: where things live, which ports, which services; errors users can act on."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from newsflow.core.settings import Settings, get_settings

Say = Callable[[str], None]
Health = Literal["up", "down", "unhealthy"]

KAFKA = "kafka"
ELASTICSEARCH = "elasticsearch"
SERVICES: tuple[str, ...] = (KAFKA, ELASTICSEARCH)

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
ES_MAIN_CLASS = "newsflow.es.EsLauncher"  # deploy/elasticsearch/LAUNCH.md
KAFKA_MAIN_CLASS = "kafka.Kafka"
KAFKA_STORAGE_TOOL = "kafka.tools.StorageTool"
# Kafka 3.9 runs on 11+; ES 8.x on 17+ (9.x would need 21: bump this, find_java picks a Temurin).
JAVA_MIN_MAJOR: dict[str, int] = {KAFKA: 11, ELASTICSEARCH: 17}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
MARKER_DIR = "-Dnewsflow.stack.dir="
MARKER_SERVICE = "-Dnewsflow.stack.service="
BUILD_STAMP = ".newsflow-build"
LOG_ROTATE_BYTES = 50 * 1024 * 1024
STOP_GRACE_SECONDS = 30.0
POLL_SECONDS = 0.5

INSTALL_HINT = (
    "Install a JDK and Maven, e.g. `apt-get install openjdk-17-jdk-headless maven`; "
    "or point JAVA_HOME at a JDK (a Temurin JDK in /usr/lib/jvm is found automatically)."
)

MAVEN_NETWORK_PATTERNS = (
    "Could not transfer artifact",
    "Could not resolve dependencies",
    "Could not find artifact",
    "Failed to read artifact descriptor",
    "Plugin org.apache.maven.plugins",
    "PluginResolutionException",
    "Non-resolvable",
    "UnknownHostException",
    "Connection refused",
    "Connection timed out",
    "Network is unreachable",
    "Transfer failed",
    "offline mode",
)


class StackError(RuntimeError):
    """A failure the user can act on; the message says what to do."""


def print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class StackConfig:
    stack_dir: Path
    kafka_port: int
    kafka_controller_port: int
    es_port: int
    es_transport_port: int
    kafka_heap: str
    es_heap: str
    start_timeout: float
    deploy_dir: Path = DEPLOY_DIR

    @classmethod
    def from_settings(cls, settings: Settings, stack_dir: Path | None = None) -> StackConfig:
        kafka_port = local_port("Kafka", settings.kafka_bootstrap_servers, default=9092)
        es_port = local_port("Elasticsearch", settings.es_url, default=9200)
        return cls(
            stack_dir=Path(stack_dir or settings.stack_dir).expanduser().resolve(),
            kafka_port=kafka_port,
            kafka_controller_port=kafka_port + 1,
            es_port=es_port,
            es_transport_port=es_port + 100,
            kafka_heap=settings.stack_kafka_heap,
            es_heap=settings.stack_es_heap,
            start_timeout=settings.stack_start_timeout,
        )

    def service_dir(self, service: str) -> Path:
        return self.stack_dir / service

    def lib_dir(self, service: str) -> Path:
        return self.service_dir(service) / "lib"

    def log_file(self, service: str) -> Path:
        return self.stack_dir / "logs" / f"{service}.log"

    def pid_file(self, service: str) -> Path:
        return self.stack_dir / "run" / f"{service}.pid"

    def ports(self, service: str) -> tuple[int, ...]:
        if service == KAFKA:
            return (self.kafka_port, self.kafka_controller_port)
        return (self.es_port, self.es_transport_port)

    def address(self, service: str) -> str:
        if service == KAFKA:
            return f"127.0.0.1:{self.kafka_port}"
        return f"http://127.0.0.1:{self.es_port}"

    def markers(self, service: str) -> list[str]:
        return [f"{MARKER_DIR}{self.stack_dir}", f"{MARKER_SERVICE}{service}"]


def local_port(what: str, address: str, *, default: int) -> int:
    """The port of a single loopback address (``host:port`` or a URL); the local stack refuses to
    stand in for a remote cluster that the settings point at."""
    first = address.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"tcp://{first}")
    host = parts.hostname or ""
    if "," in address or host not in LOCAL_HOSTS:
        raise StackError(
            f"The settings point {what} at {address!r}; the local stack only serves one "
            "127.0.0.1 address. Unset the NEWSFLOW_* override to use the local stack."
        )
    if parts.scheme not in ("tcp", "http"):
        raise StackError(f"The local stack serves {what} over plain http, not {address!r}.")
    return parts.port or default


def selected_services(only: Sequence[str] | str | None) -> list[str]:
    if only is None:
        return list(SERVICES)
    wanted = [only] if isinstance(only, str) else list(only)
    aliases = {"es": ELASTICSEARCH}
    chosen = [aliases.get(s, s) for s in wanted]
    unknown = [s for s in chosen if s not in SERVICES]
    if unknown:
        raise StackError(f"Unknown service {unknown[0]!r}; choose from {', '.join(SERVICES)}.")
    return [s for s in SERVICES if s in chosen]


def stack_config(settings: Settings | None, stack_dir: Path | None) -> StackConfig:
    return StackConfig.from_settings(settings or get_settings(), stack_dir)
