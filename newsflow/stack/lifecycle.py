"""Status, up and down of the whole stack (what `newsflow stack` runs)."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from newsflow.core.settings import Settings
from newsflow.stack.build import build, find_java, is_built
from newsflow.stack.cluster import Layout, kind_of, layout_change_problem, read_layout, write_layout
from newsflow.stack.config import (
    ELASTICSEARCH,
    JAVA_MIN_MAJOR,
    KAFKA,
    POLL_SECONDS,
    STOP_GRACE_SECONDS,
    Health,
    Say,
    StackConfig,
    StackError,
    print_stderr,
    selected_members,
    stack_config,
)
from newsflow.stack.elasticsearch import es_argv, es_ready, es_version
from newsflow.stack.files import locked, log_excerpt, phase
from newsflow.stack.kafka import format_kafka_storage, kafka_argv, kafka_ready, kafka_version
from newsflow.stack.processes import (
    check_ports,
    find_processes,
    port_holder,
    port_is_free,
    port_mismatch,
    spawn,
    write_pid,
)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    address: str
    pid: int | None
    health: Health
    version: str | None
    detail: str = ""

    @property
    def is_up(self) -> bool:
        return self.health == "up"


def _probe(cfg: StackConfig, service: str) -> bool:
    if kind_of(service) == KAFKA:
        return kafka_ready(cfg, broker=service)
    return es_ready(cfg, node=service)


def service_status(cfg: StackConfig, service: str) -> ServiceStatus:
    procs = find_processes(cfg, service)
    pid = procs[0].pid if procs else None
    address = cfg.address(service)
    version = kafka_version(cfg) if kind_of(service) == KAFKA else None
    if pid is None:
        holder = None if port_is_free(cfg.ports(service)[0]) else port_holder(cfg.ports(service)[0])
        detail = f"port held by pid {holder.pid} ({holder.name})" if holder else ""
        return ServiceStatus(service, address, None, "down", version, detail)
    if not _probe(cfg, service):
        mismatch = port_mismatch(cfg, service, procs[0])
        detail = "listens on other ports" if mismatch else "not answering yet"
        return ServiceStatus(service, address, pid, "unhealthy", version, detail)
    if kind_of(service) == ELASTICSEARCH:
        version = es_version(cfg, service)
    return ServiceStatus(service, address, pid, "up", version)


def status(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
) -> list[ServiceStatus]:
    """Health of each service of the local stack (no side effects)."""
    cfg = stack_config(settings, stack_dir)
    return [service_status(cfg, s) for s in selected_members(cfg, only)]


def is_up(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
) -> bool:
    return all(s.is_up for s in status(settings, stack_dir=stack_dir, only=only))


def _prepare(cfg: StackConfig, service: str, java: Path, say: Say) -> None:
    kind = kind_of(service)  # the nodes of a multi-node stack share their service's jars
    if is_built(cfg, kind):
        say(f"{service}: jars present in {cfg.lib_dir(kind)}")
    else:
        with phase(say, f"{kind}: build"):
            build(cfg, kind, java, say)
    if kind == KAFKA:
        with phase(say, f"{service}: storage"):
            format_kafka_storage(cfg, java, say, broker=service)


def _start(cfg: StackConfig, service: str, java: Path) -> subprocess.Popen[bytes]:
    if kind_of(service) == KAFKA:
        return spawn(cfg, service, kafka_argv(cfg, java, broker=service))
    return spawn(cfg, service, es_argv(cfg, java, node=service))


def _died_message(cfg: StackConfig, service: str, code: int | None) -> str:
    return (
        f"{service} exited (code {code}) before becoming ready. "
        f"See `newsflow stack logs {service}`.\n{log_excerpt(cfg.log_file(service))}"
    )


def _timeout_message(cfg: StackConfig, service: str, seconds: float) -> str:
    return (
        f"{service} did not become ready within {seconds:.0f} s (NEWSFLOW_STACK_START_TIMEOUT). "
        f"It is still running; `newsflow stack down` stops it.\n"
        f"{log_excerpt(cfg.log_file(service))}"
    )


def _exit_code(handle: subprocess.Popen[bytes] | psutil.Process) -> tuple[bool, int | None]:
    """(exited, code) for a process we spawned (Popen reaps it) or adopted (psutil)."""
    if isinstance(handle, subprocess.Popen):
        code = handle.poll()
        return code is not None, code
    try:
        return handle.status() == psutil.STATUS_ZOMBIE, None
    except psutil.NoSuchProcess:
        return True, None


def wait_ready(
    cfg: StackConfig,
    pending: Mapping[str, subprocess.Popen[bytes] | psutil.Process],
    started: Mapping[str, float],
    say: Say = print_stderr,
) -> None:
    """Poll until every pending service answers; fail fast if one dies."""
    deadline = time.monotonic() + cfg.start_timeout
    waiting = dict(pending)
    while waiting:
        for service, handle in list(waiting.items()):
            exited, code = _exit_code(handle)
            if exited:
                cfg.pid_file(service).unlink(missing_ok=True)
                raise StackError(_died_message(cfg, service, code))
            if _probe(cfg, service):
                elapsed = time.monotonic() - started[service]
                address = cfg.address(service)
                say(
                    f"{service}: ready at {address} (pid {handle.pid}), {elapsed:.1f} s after start"
                )
                del waiting[service]
        if waiting and time.monotonic() > deadline:
            name = next(iter(waiting))
            raise StackError(_timeout_message(cfg, name, cfg.start_timeout))
        if waiting:
            time.sleep(POLL_SECONDS)


def _java_for(service: str) -> Path:
    return find_java(JAVA_MIN_MAJOR[kind_of(service)])


def _settle_layout(cfg: StackConfig, requested: Layout | None) -> None:
    """Refuse a node count the directory's data cannot take; remember the layout started."""
    stored = read_layout(cfg.stack_dir)
    has_data = (cfg.service_dir(KAFKA) / "data" / "meta.properties").exists()
    if requested is not None and has_data:
        problem = layout_change_problem(cfg.stack_dir, stored or Layout(), requested)
        if problem:
            raise StackError(problem)
    write_layout(cfg.stack_dir, cfg.layout)


def ensure_up(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
    say: Say = print_stderr,
    layout: Layout | None = None,
) -> None:
    """Start whatever part of the stack is not running and wait until it is healthy.
    A no-op (that says so) when everything is already up; needs the network only the first time
    (Maven downloads). ``layout``: Kafka brokers and Elasticsearch nodes (default: what the
    directory was started with, else one of each)."""
    cfg = stack_config(settings, stack_dir, layout)
    services = selected_members(cfg, only)
    total = time.monotonic()
    with locked(cfg, say):
        _settle_layout(cfg, layout)
        pending: dict[str, subprocess.Popen[bytes] | psutil.Process] = {}
        started: dict[str, float] = {}
        for service in services:
            procs = find_processes(cfg, service)
            if procs:
                # Running already (maybe still starting): adopt it rather than start a twin.
                mismatch = port_mismatch(cfg, service, procs[0])
                if mismatch:
                    raise StackError(mismatch)
                write_pid(cfg, service, procs[0].pid)
                if _probe(cfg, service):
                    say(f"{service}: already up at {cfg.address(service)} (pid {procs[0].pid})")
                    continue
                pending[service], started[service] = procs[0], time.monotonic()
                continue
            cfg.pid_file(service).unlink(missing_ok=True)
            check_ports(cfg, service)  # before a build that a busy port would waste
            java = _java_for(service)
            _prepare(cfg, service, java, say)
            started[service] = time.monotonic()
            pending[service] = _start(cfg, service, java)
            say(f"{service}: started pid {pending[service].pid}, log {cfg.log_file(service)}")
        if pending:
            wait_ready(cfg, pending, started, say)
    say(f"stack up: {time.monotonic() - total:.1f} s")


def stack_down(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
    grace: float = STOP_GRACE_SECONDS,
    say: Say = print_stderr,
) -> None:
    """SIGTERM our JVMs (clean shutdown), SIGKILL what is left after ``grace`` seconds."""
    cfg = stack_config(settings, stack_dir)
    total = time.monotonic()
    with locked(cfg, say):
        procs: list[psutil.Process] = []
        for service in selected_members(cfg, only):
            found = find_processes(cfg, service)
            if not found:
                say(f"{service}: not running")
            for proc in found:
                say(f"{service}: stopping pid {proc.pid}")
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.terminate()
            procs.extend(found)
        _, alive = psutil.wait_procs(procs, timeout=grace)
        for proc in alive:
            say(f"pid {proc.pid} ignored SIGTERM for {grace:.0f} s: killing it")
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(alive, timeout=10)
        for service in selected_members(cfg, only):
            cfg.pid_file(service).unlink(missing_ok=True)
    say(f"stack down: {time.monotonic() - total:.1f} s")
