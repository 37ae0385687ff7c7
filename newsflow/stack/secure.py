"""``newsflow stack up --secure``: a LOCAL TEST STACK that looks like a secured production cluster.

- Kafka with no plaintext listener: SASL_SSL on 29093 (SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN),
  mutual TLS on 29095, the KRaft controller on 29094 (TLS, client certificates required).
- Elasticsearch reachable over HTTPS with authentication only, through ``tls_proxy`` (a test
  fixture) on 29443; the node itself listens on loopback port 29200 and is not for clients.
- A throwaway CA and certificates (``secure_certs``), random passwords and an API key
  (``credentials.json``, 0600), and ready-made client environments (``*.env``, 0600).

It has its own stack dir (default ``<stack dir>/secure``) and ports, so it runs beside the plaintext
stack on 9092/9200 without touching it; the Kafka and Elasticsearch jars are the plaintext
stack's (linked, built there first if missing)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from newsflow.core.settings import Settings, get_settings
from newsflow.stack.build import build, find_java, is_built
from newsflow.stack.config import (
    ELASTICSEARCH,
    JAVA_MIN_MAJOR,
    KAFKA,
    POLL_SECONDS,
    STOP_GRACE_SECONDS,
    Say,
    StackConfig,
    StackError,
    print_stderr,
)
from newsflow.stack.elasticsearch import es_argv, es_ready
from newsflow.stack.files import locked, log_excerpt
from newsflow.stack.kafka import format_kafka_storage, kafka_argv
from newsflow.stack.lifecycle import ServiceStatus
from newsflow.stack.processes import check_ports, find_processes, port_is_free, spawn
from newsflow.stack.secure_certs import TlsFiles, ensure_tls_files
from newsflow.stack.secure_env import es_proxy_ready, write_client_envs, write_proxy_config
from newsflow.stack.secure_kafka import (
    Credentials,
    secure_kafka_ready,
    upsert_scram_users,
    write_secure_properties,
)

PROXY = "es-proxy"
SECURE_SERVICES = (KAFKA, ELASTICSEARCH, PROXY)


@dataclass(frozen=True)
class SecureStack:
    inner: StackConfig  # Kafka on the SASL_SSL port; Elasticsearch on its private node port
    base: StackConfig  # the plaintext stack whose jars we reuse
    kafka_mtls_port: int
    es_proxy_port: int

    @property
    def stack_dir(self) -> Path:
        return self.inner.stack_dir

    @property
    def tls(self) -> TlsFiles:
        return TlsFiles(self.stack_dir / "tls")

    @property
    def credentials_file(self) -> Path:
        return self.stack_dir / "credentials.json"

    def credentials(self) -> Credentials:
        return Credentials.load_or_create(self.credentials_file)

    def env_file(self, name: str) -> Path:
        return self.stack_dir / f"{name}.env"

    def address(self, service: str) -> str:
        if service == KAFKA:
            sasl, mtls = self.inner.kafka_port, self.kafka_mtls_port
            return f"127.0.0.1:{sasl} (SASL_SSL), 127.0.0.1:{mtls} (mTLS)"
        if service == PROXY:
            return f"https://127.0.0.1:{self.es_proxy_port}"
        return f"http://127.0.0.1:{self.inner.es_port} (node, loopback, behind {PROXY})"


def secure_stack(
    settings: Settings | None = None, stack_dir: Path | None = None, *, port_base: int = 29000
) -> SecureStack:
    """Ports: Kafka SASL_SSL base+93, controller base+94, mTLS base+95; Elasticsearch node
    base+200 (transport base+300); the HTTPS proxy base+443."""
    settings = settings or get_settings()
    base = StackConfig.from_settings(settings.model_copy(update=_PLAIN_DEFAULTS))
    inner = StackConfig(
        stack_dir=Path(stack_dir or base.stack_dir / "secure").expanduser().resolve(),
        kafka_port=port_base + 93,
        kafka_controller_port=port_base + 94,
        es_port=port_base + 200,
        es_transport_port=port_base + 300,
        kafka_heap=settings.stack_kafka_heap,
        es_heap=settings.stack_es_heap,
        start_timeout=settings.stack_start_timeout,
    )
    return SecureStack(inner, base, port_base + 95, port_base + 443)


# The jars' home is the plaintext stack's dir, whatever the client settings point at.
_PLAIN_DEFAULTS = {"kafka_bootstrap_servers": "127.0.0.1:9092", "es_url": "http://127.0.0.1:9200"}


def _link_jars(stack: SecureStack, service: str, java: Path, say: Say) -> None:
    """The secure stack runs the plaintext stack's jars: build them there once, then link."""
    if not is_built(stack.base, service):
        build(stack.base, service, java, say)
    lib = stack.inner.lib_dir(service)
    lib.parent.mkdir(parents=True, exist_ok=True)
    if lib.is_symlink() and lib.resolve() == stack.base.lib_dir(service).resolve():
        return
    if lib.is_symlink() or lib.is_file():
        lib.unlink()
    elif lib.is_dir():
        raise StackError(f"{lib} is a directory; remove it so the secure stack can link the jars.")
    lib.symlink_to(stack.base.lib_dir(service).resolve(), target_is_directory=True)


def _check_free(stack: SecureStack) -> None:
    for service in (KAFKA, ELASTICSEARCH):
        check_ports(stack.inner, service)
    for port in (stack.kafka_mtls_port, stack.es_proxy_port):
        if not port_is_free(port):
            raise StackError(f"Port {port} (secure stack) is in use; stop what holds it.")


def _start_jvms(
    stack: SecureStack, creds: Credentials, say: Say
) -> dict[str, subprocess.Popen[bytes]]:
    cfg = stack.inner
    started: dict[str, subprocess.Popen[bytes]] = {}
    for service in (KAFKA, ELASTICSEARCH):
        java = find_java(JAVA_MIN_MAJOR[service])
        _link_jars(stack, service, java, say)
        if service == KAFKA:
            props = write_secure_properties(cfg, stack.kafka_mtls_port, stack.tls, creds)
            format_kafka_storage(cfg, java, say, properties=props)
            argv = kafka_argv(cfg, java)
        else:
            argv = es_argv(cfg, java)
        started[service] = spawn(cfg, service, argv)
        say(f"{service}: started pid {started[service].pid}, log {cfg.log_file(service)}")
    return started


def _start_proxy(stack: SecureStack, creds: Credentials) -> subprocess.Popen[bytes]:
    config = write_proxy_config(stack, creds)
    argv = [
        sys.executable,
        "-m",
        "newsflow.stack.tls_proxy",
        *stack.inner.markers(PROXY),
        "--config",
        str(config),
    ]
    return spawn(stack.inner, PROXY, argv)


def _ready(stack: SecureStack, creds: Credentials, service: str) -> bool:
    if service == KAFKA:
        return secure_kafka_ready(stack.inner, stack.tls, creds)
    if service == ELASTICSEARCH:
        return es_ready(stack.inner)
    return es_proxy_ready(stack, creds)


def _wait(
    stack: SecureStack,
    creds: Credentials,
    pending: dict[str, subprocess.Popen[bytes] | psutil.Process],
    say: Say,
) -> None:
    deadline = time.monotonic() + stack.inner.start_timeout
    start = time.monotonic()
    while pending:
        for service, proc in list(pending.items()):
            code = proc.poll() if isinstance(proc, subprocess.Popen) else None
            if code is not None:
                raise StackError(
                    f"{service} (secure stack) exited with {code} before becoming ready.\n"
                    f"{log_excerpt(stack.inner.log_file(service))}"
                )
            if _ready(stack, creds, service):
                elapsed = time.monotonic() - start
                say(f"{service}: ready at {stack.address(service)}, {elapsed:.1f} s")
                del pending[service]
        if pending and time.monotonic() > deadline:
            raise StackError(
                f"{', '.join(pending)} (secure stack) not ready within "
                f"{stack.inner.start_timeout:.0f} s; `newsflow stack down --secure` stops it."
            )
        if pending:
            time.sleep(POLL_SECONDS)


def secure_up(stack: SecureStack, say: Say = print_stderr) -> None:
    """Start (or adopt) the secure stack and wait until every part answers securely."""
    total = time.monotonic()
    with locked(stack.inner, say):
        ensure_tls_files(stack.tls)
        creds = stack.credentials()
        running = {s: find_processes(stack.inner, s) for s in SECURE_SERVICES}
        pending: dict[str, subprocess.Popen[bytes] | psutil.Process] = {}
        if not running[KAFKA] and not running[ELASTICSEARCH]:
            _check_free(stack)
            pending.update(_start_jvms(stack, creds, say))
        else:
            pending.update({s: procs[0] for s, procs in running.items() if procs and s != PROXY})
        _wait(stack, creds, pending, say)
        upsert_scram_users(stack.inner, stack.tls, creds)
        if not running[PROXY]:
            _wait(stack, creds, {PROXY: _start_proxy(stack, creds)}, say)
        write_client_envs(stack, creds)
    elapsed = time.monotonic() - total
    say(f"secure stack up: {elapsed:.1f} s; client settings in {stack.stack_dir}/*.env")


def secure_status(stack: SecureStack) -> list[ServiceStatus]:
    creds = stack.credentials() if stack.credentials_file.is_file() else None
    out = []
    for service in SECURE_SERVICES:
        procs = find_processes(stack.inner, service)
        pid = procs[0].pid if procs else None
        if pid is None:
            health = "down"
        elif creds is not None and _ready(stack, creds, service):
            health = "up"
        else:
            health = "unhealthy"
        out.append(ServiceStatus(service, stack.address(service), pid, health, None))  # type: ignore[arg-type]
    return out


def secure_down(
    stack: SecureStack, grace: float = STOP_GRACE_SECONDS, say: Say = print_stderr
) -> None:
    """SIGTERM the proxy and both JVMs of the secure stack; SIGKILL what is left after ``grace``."""
    with locked(stack.inner, say):
        procs = [p for s in SECURE_SERVICES for p in find_processes(stack.inner, s)]
        if not procs:
            say("secure stack: not running")
        for proc in procs:
            say(f"secure stack: stopping pid {proc.pid}")
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for proc in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=10)
        for service in SECURE_SERVICES:
            stack.inner.pid_file(service).unlink(missing_ok=True)
