"""Our JVM processes: finding them by their command-line markers, pid files, ports, spawning."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from newsflow.stack.config import MARKER_DIR, StackConfig, StackError
from newsflow.stack.files import rotate_if_large
from newsflow.stack.formats import PortHolder, port_in_use_message


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return []


def _is_ours(cmdline: Sequence[str], cfg: StackConfig, service: str) -> bool:
    return all(marker in cmdline for marker in cfg.markers(service))


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def find_processes(cfg: StackConfig, service: str) -> list[psutil.Process]:
    """Our live JVMs for ``service``: the pid file's, plus any found by command line (covers a
    stale or deleted pid file, or a start that crashed before writing it)."""
    found: dict[int, psutil.Process] = {}
    pid = _read_pid(cfg.pid_file(service))
    if pid is not None and psutil.pid_exists(pid):
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if _is_ours(_cmdline(proc), cfg, service) and proc.status() != psutil.STATUS_ZOMBIE:
                found[pid] = proc
    marker = f"{MARKER_DIR}{cfg.stack_dir}"
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmd = proc.info.get("cmdline") or []
        if proc.info.get("status") == psutil.STATUS_ZOMBIE or marker not in cmd:
            continue
        if _is_ours(cmd, cfg, service):
            found.setdefault(proc.pid, proc)
    return list(found.values())


def listening_ports(proc: psutil.Process) -> set[int]:
    try:
        conns = proc.net_connections(kind="tcp")
    except psutil.Error:
        return set()
    return {c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN and c.laddr}


def port_mismatch(cfg: StackConfig, service: str, proc: psutil.Process) -> str | None:
    """Why a running JVM of ours cannot be adopted: it serves other ports than the settings
    name (started under other NEWSFLOW_* values). None while it listens on nothing yet."""
    ports = listening_ports(proc)
    if not ports or cfg.ports(service)[0] in ports:
        return None
    return (
        f"{service} of {cfg.stack_dir} is running (pid {proc.pid}) but listens on "
        f"{', '.join(map(str, sorted(ports)))}, not on {cfg.ports(service)[0]} as the settings "
        "say. Run `newsflow stack down`, then `newsflow stack up` again."
    )


def write_pid(cfg: StackConfig, service: str, pid: int) -> None:
    path = cfg.pid_file(service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    # SO_REUSEADDR like the JVM's server sockets, so TIME_WAIT leftovers do not count as taken.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_holder(port: int) -> PortHolder | None:
    """The process listening on ``port`` (root sees all; others may get None)."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return None
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return None
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(conn.pid)
                return PortHolder(conn.pid, proc.name(), tuple(_cmdline(proc)))
    return None


def check_ports(cfg: StackConfig, service: str) -> None:
    for port in cfg.ports(service):
        if not port_is_free(port):
            raise StackError(port_in_use_message(service, port, port_holder(port), cfg.stack_dir))


# Popen objects of JVMs we started: kept referenced so that garbage collection does not warn
# "subprocess is still running" for servers that are meant to outlive the call.
_SPAWNED: list[subprocess.Popen[bytes]] = []


def spawn(cfg: StackConfig, service: str, argv: list[str]) -> subprocess.Popen[bytes]:
    """Start a JVM detached from this process (own session: survives the CLI, and Ctrl-C in
    the shell does not reach it), logging to logs/<service>.log."""
    log = cfg.log_file(service)
    log.parent.mkdir(parents=True, exist_ok=True)
    rotate_if_large(log)
    cwd = cfg.service_dir(service)
    cwd.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        fh.write(f"=== {stamp} newsflow stack up: {' '.join(argv)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    _SPAWNED.append(proc)
    write_pid(cfg, service, proc.pid)
    return proc
