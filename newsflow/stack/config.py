"""Stack configuration: where things live, which ports, which services; errors users can act on."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from newsflow.core.settings import Settings, get_settings
from newsflow.stack.cluster import (
    Layout,
    es_member_ports,
    kafka_member_ports,
    kind_of,
    read_layout,
    split_member,
)

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
    layout: Layout = field(default_factory=Layout)

    @classmethod
    def from_settings(
        cls, settings: Settings, stack_dir: Path | None = None, layout: Layout | None = None
    ) -> StackConfig:
        """``layout``: how many nodes of each; default what the directory was started with."""
        kafka_port = local_port("Kafka", settings.kafka_bootstrap_servers, default=9092)
        es_port = local_port("Elasticsearch", settings.es_url, default=9200)
        directory = Path(stack_dir or settings.stack_dir).expanduser().resolve()
        return cls(
            stack_dir=directory,
            kafka_port=kafka_port,
            kafka_controller_port=kafka_port + 1,
            es_port=es_port,
            es_transport_port=es_port + 100,
            kafka_heap=settings.stack_kafka_heap,
            es_heap=settings.stack_es_heap,
            start_timeout=settings.stack_start_timeout,
            layout=layout or read_layout(directory) or Layout(),
        )

    def members(self, services: Sequence[str] | None = None) -> list[str]:
        """Every node of the given services (all services by default), node 1 first."""
        return [m for s in services or SERVICES for m in self.layout.members(s)]

    def service_dir(self, service: str) -> Path:
        return self.stack_dir / service

    def lib_dir(self, service: str) -> Path:
        return self.service_dir(kind_of(service)) / "lib"  # shared by a service's nodes

    def log_file(self, service: str) -> Path:
        return self.stack_dir / "logs" / f"{service}.log"

    def pid_file(self, service: str) -> Path:
        return self.stack_dir / "run" / f"{service}.pid"

    def ports(self, service: str) -> tuple[int, ...]:
        kind, index = split_member(service)
        if kind == KAFKA:
            return kafka_member_ports(self.kafka_port, index)
        return es_member_ports(self.es_port, self.es_transport_port, index)

    def address(self, service: str) -> str:
        if kind_of(service) == KAFKA:
            return f"127.0.0.1:{self.ports(service)[0]}"
        return f"http://127.0.0.1:{self.ports(service)[0]}"

    def markers(self, service: str) -> list[str]:
        return [f"{MARKER_DIR}{self.stack_dir}", f"{MARKER_SERVICE}{service}"]


def local_port(what: str, address: str, *, default: int) -> int:
    """The port of the first of one or more loopback addresses (``host:port`` or URLs; a
    multi-node stack's clients list every node); the local stack refuses to stand in for a
    remote cluster that the settings point at."""
    ports = []
    for item in address.split(","):
        parts = urlsplit(item.strip() if "://" in item else f"tcp://{item.strip()}")
        if (parts.hostname or "") not in LOCAL_HOSTS:
            raise StackError(
                f"The settings point {what} at {address!r}; the local stack only serves "
                "127.0.0.1 addresses. Unset the NEWSFLOW_* override to use the local stack."
            )
        if parts.scheme not in ("tcp", "http"):
            raise StackError(f"The local stack serves {what} over plain http, not {address!r}.")
        ports.append(parts.port or default)
    return ports[0]


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


def selected_members(cfg: StackConfig, only: Sequence[str] | str | None) -> list[str]:
    """Members to act on: a service name means all its nodes (``kafka``: every broker), a member
    name one node (``kafka-2``; ``kafka-1`` is the first broker, whose directory is ``kafka``)."""
    if only is None:
        return cfg.members()
    wanted = [only] if isinstance(only, str) else list(only)
    chosen: set[str] = set()
    services: list[str] = []
    for name in wanted:
        single = name.removesuffix("-1") if name.endswith("-1") else name
        if single in cfg.members() and (single != name or single not in SERVICES):
            chosen.add(single)
        else:
            services.append(name)
    if services:
        chosen.update(cfg.members(selected_services(services)))
    return [m for m in cfg.members() if m in chosen]


def stack_config(
    settings: Settings | None, stack_dir: Path | None, layout: Layout | None = None
) -> StackConfig:
    return StackConfig.from_settings(settings or get_settings(), stack_dir, layout)
