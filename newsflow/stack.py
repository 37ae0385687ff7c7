"""The local Kafka + Elasticsearch stack, run from Maven Central jars without Docker.

Everything lives under one stack directory (``settings.stack_dir``, default ``<repo>/.stack``)::

    kafka/lib/            jars copied by deploy/kafka/pom.xml
    kafka/data/           KRaft log dir (formatted once)
    kafka/server.properties, kafka/cluster.id
    elasticsearch/lib/    jars + launcher built by deploy/elasticsearch/pom.xml
    elasticsearch/node/   the node's home (data, logs, config)
    logs/<service>.log    stdout+stderr of each JVM; logs/build-<service>.log for Maven
    run/<service>.pid     pid files; run/stack.lock serialises concurrent up/down

Ports come from the client settings (``kafka_bootstrap_servers``, ``es_url``) so the stack always
serves exactly what the rest of newsflow connects to; the Kafka controller listens on the broker
port + 1 and the Elasticsearch transport on the HTTP port + 100.

Every JVM we start carries ``-Dnewsflow.stack.dir=<dir>`` and ``-Dnewsflow.stack.service=<name>``
on its command line: that is how our processes are told apart from anyone else's, even when a pid
file is stale or missing.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO
from urllib.parse import urlsplit

import psutil

from newsflow.core.settings import Settings, get_settings

Say = Callable[[str], None]
Health = Literal["up", "down", "unhealthy"]

KAFKA = "kafka"
ELASTICSEARCH = "elasticsearch"
SERVICES: tuple[str, ...] = (KAFKA, ELASTICSEARCH)

DEPLOY_DIR = Path(__file__).resolve().parent.parent / "deploy"
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

_MAVEN_NETWORK_PATTERNS = (
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


def _print(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Configuration


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


def _services(only: Sequence[str] | str | None) -> list[str]:
    if only is None:
        return list(SERVICES)
    wanted = [only] if isinstance(only, str) else list(only)
    aliases = {"es": ELASTICSEARCH}
    chosen = [aliases.get(s, s) for s in wanted]
    unknown = [s for s in chosen if s not in SERVICES]
    if unknown:
        raise StackError(f"Unknown service {unknown[0]!r}; choose from {', '.join(SERVICES)}.")
    return [s for s in SERVICES if s in chosen]


def _config(settings: Settings | None, stack_dir: Path | None) -> StackConfig:
    return StackConfig.from_settings(settings or get_settings(), stack_dir)


# --------------------------------------------------------------------------------------------
# Pure helpers (unit-tested)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def render_properties(template: str, values: Mapping[str, object]) -> str:
    """Fill ``{name}`` placeholders in a Java .properties template. Comment lines are copied
    verbatim so prose there may use braces; a placeholder without a value is an error rather
    than a broken config that Kafka would only reject at start-up."""
    missing: set[str] = set()

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            missing.add(name)
            return match.group(0)
        # Backslash is the .properties escape character.
        return str(values[name]).replace("\\", "\\\\")

    lines = []
    for line in template.splitlines(keepends=True):
        is_comment = line.lstrip().startswith(("#", "!"))
        lines.append(line if is_comment else _PLACEHOLDER.sub(value, line))
    if missing:
        raise ValueError(f"no value for placeholder(s): {', '.join(sorted(missing))}")
    return "".join(lines)


def new_cluster_id() -> str:
    """A KRaft cluster id as Kafka's Uuid.toString makes it (unpadded url-safe base64 of 16
    random bytes); Kafka itself avoids a leading '-' so the id never looks like a CLI flag."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass(frozen=True)
class PortHolder:
    pid: int
    name: str
    cmdline: tuple[str, ...]


def port_in_use_message(
    service: str, port: int, holder: PortHolder | None, stack_dir: Path | None = None
) -> str:
    """Why ``service`` cannot start on ``port`` and what to do about it."""
    head = f"Port {port} (needed by {service}) is already in use"
    if holder is None:
        return (
            f"{head} by a process this user cannot see. Free the port, or point the settings "
            "at other ports (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS / NEWSFLOW_ES_URL)."
        )
    other_dir = _marker_value(holder.cmdline, MARKER_DIR)
    if other_dir is not None and (stack_dir is None or Path(other_dir) != stack_dir):
        return (
            f"{head} by another newsflow stack (pid {holder.pid}, dir {other_dir}). "
            f"Stop it with `newsflow stack down --dir {other_dir}` or use other ports."
        )
    cmd = " ".join(holder.cmdline)
    if len(cmd) > 160:
        cmd = cmd[:157] + "..."
    return (
        f"{head} by pid {holder.pid} ({holder.name}: {cmd or '?'}). Stop that process, or point "
        "the settings at other ports (NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS / NEWSFLOW_ES_URL)."
    )


def maven_failure_message(service: str, output: str, log_file: Path) -> str:
    """Turn a failed Maven run into advice: download problems are retryable, others are not."""
    errors = [line for line in output.splitlines() if line.startswith("[ERROR]") and line[8:]]
    tail = "\n".join(errors[:8] or _tail_of_text(output, 15))
    if any(p.lower() in output.lower() for p in _MAVEN_NETWORK_PATTERNS):
        return (
            f"Maven could not download the {service} jars. Run `newsflow stack up` again "
            "(finished downloads stay cached in ~/.m2). If it keeps failing, check that mvn "
            f"can reach Maven Central, e.g. `mvn -B dependency:get "
            f"-Dartifact=org.slf4j:slf4j-api:1.7.36`. Full log: {log_file}\n{tail}"
        )
    return f"Building the {service} jars with Maven failed. Full log: {log_file}\n{tail}"


def java_major_from_version_output(text: str) -> int | None:
    """Major version from ``java -version`` output ('1.8.0_x' is 8, '17.0.15' is 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', text)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _marker_value(cmdline: Sequence[str], prefix: str) -> str | None:
    for arg in cmdline:
        if arg.startswith(prefix):
            return arg[len(prefix) :]
    return None


def _tail_of_text(text: str, n: int) -> list[str]:
    return text.splitlines()[-n:] if n > 0 else []


# --------------------------------------------------------------------------------------------
# Files and logs


def tail_lines(path: Path, n: int) -> list[str]:
    """The last ``n`` lines of a possibly large log file, read from the end."""
    if n <= 0 or not path.exists():
        return []
    block = 64 * 1024
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= n:
            start = max(0, end - block)
            fh.seek(start)
            data = fh.read(end - start) + data
            end = start
    return data.decode("utf-8", "replace").splitlines()[-n:]


def follow(path: Path, out: TextIO, *, poll: float = POLL_SECONDS) -> None:
    """Copy lines appended to ``path`` to ``out`` until interrupted (``tail -F``)."""
    pos = path.stat().st_size if path.exists() else 0
    while True:
        size = path.stat().st_size if path.exists() else 0
        if size < pos:  # rotated or truncated by a restart: start over
            pos = 0
        if size > pos:
            with path.open("rb") as fh:
                fh.seek(pos)
                chunk = fh.read(size - pos)
            pos = size
            out.write(chunk.decode("utf-8", "replace"))
            out.flush()
        time.sleep(poll)


def _log_excerpt(path: Path, n: int = 25) -> str:
    lines = tail_lines(path, n)
    # Only this start's lines: _spawn writes a "=== " header before each start.
    starts = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    lines = lines[starts[-1] :] if starts else lines
    shown = "\n".join(f"    {line}" for line in lines) if lines else "    (log is empty)"
    return f"Last lines of {path}:\n{shown}"


def _rotate_if_large(path: Path) -> None:
    if path.exists() and path.stat().st_size > LOG_ROTATE_BYTES:
        path.replace(path.with_name(path.name + ".1"))


@contextlib.contextmanager
def _locked(cfg: StackConfig, say: Say) -> Iterator[None]:
    """Serialise up/down on one stack dir, e.g. a test fixture racing a developer's shell."""
    lock_path = cfg.stack_dir / "run" / "stack.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            say(f"Waiting for another `newsflow stack` command on {cfg.stack_dir} ...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextlib.contextmanager
def _phase(say: Say, label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    say(f"{label}: {time.monotonic() - started:.1f} s")


# --------------------------------------------------------------------------------------------
# Tools: java and mvn


def _java_candidates() -> list[Path]:
    found: list[Path] = []
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        found.append(Path(java_home) / "bin" / "java")
    on_path = shutil.which("java")
    if on_path:
        found.append(Path(on_path))
    # Newest first, so a requirement above the default JDK picks e.g. Temurin 25.
    found.extend(sorted(Path("/usr/lib/jvm").glob("*/bin/java"), reverse=True))
    return found


@functools.lru_cache(maxsize=16)
def java_major(java: Path) -> int | None:
    try:
        proc = subprocess.run(
            [str(java), "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return java_major_from_version_output(proc.stderr + proc.stdout)


def find_java(min_major: int) -> Path:
    """The first usable ``java`` of at least ``min_major``: JAVA_HOME, then PATH, then
    /usr/lib/jvm (newest first)."""
    seen: set[Path] = set()
    for candidate in _java_candidates():
        real = candidate.resolve()
        if real in seen or not real.is_file():
            continue
        seen.add(real)
        major = java_major(real)
        if major is not None and major >= min_major:
            return real
    raise StackError(f"No Java {min_major}+ found. {INSTALL_HINT}")


def find_mvn() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError(f"Maven (mvn) is not installed; it fetches the jars once. {INSTALL_HINT}")
    return mvn


# --------------------------------------------------------------------------------------------
# Build (Maven) — only when the jars are missing or the pom/launcher changed


def build_digest(service_dir: Path) -> str:
    """Hash of what the Maven build reads (pom.xml and src/): a change means rebuild."""
    digest = hashlib.sha256()
    files = [service_dir / "pom.xml", *sorted((service_dir / "src").rglob("*"))]
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(service_dir)).encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def is_built(cfg: StackConfig, service: str) -> bool:
    lib = cfg.lib_dir(service)
    stamp = lib / BUILD_STAMP
    if not stamp.exists() or not any(lib.glob("*.jar")):
        return False
    return stamp.read_text().strip() == build_digest(cfg.deploy_dir / service)


def build(cfg: StackConfig, service: str, java: Path, say: Say = _print) -> None:
    """Run the service's pom; jars land in ``<stack>/<service>/lib``."""
    mvn = find_mvn()
    lib = cfg.lib_dir(service)
    # copy-dependencies never deletes: a version bump would leave two kafka-clients on 'lib/*'.
    shutil.rmtree(lib, ignore_errors=True)
    log = cfg.stack_dir / "logs" / f"build-{service}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    pom = cfg.deploy_dir / service / "pom.xml"
    argv = [mvn, "-B", "-ntp", "-f", str(pom), f"-Dstack.dir={cfg.stack_dir}", "package"]
    # The pom may compile Java (the ES launcher): build with the JDK that will run it.
    env = {**os.environ, "JAVA_HOME": str(java.parent.parent)}
    say(f"{service}: fetching jars with Maven (first time only; log {log}) ...")
    proc = subprocess.run(
        argv, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
    )
    output = proc.stdout + proc.stderr
    log.write_text(f"$ {' '.join(argv)}\n{output}")
    if proc.returncode != 0 or not any(lib.glob("*.jar")):
        raise StackError(maven_failure_message(service, output, log))
    (lib / BUILD_STAMP).write_text(build_digest(cfg.deploy_dir / service) + "\n")


# --------------------------------------------------------------------------------------------
# Kafka specifics


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


def _jvm_common(cfg: StackConfig, service: str, heap: str) -> list[str]:
    return [f"-Xms{heap}", f"-Xmx{heap}", *cfg.markers(service)]


def _kafka_log4j() -> str:
    return f"-Dlog4j.configuration=file:{DEPLOY_DIR / KAFKA / 'log4j.properties'}"


def format_kafka_storage(cfg: StackConfig, java: Path, say: Say = _print) -> bool:
    """Format the KRaft log dir once. StorageTool calls System.exit, hence its own JVM."""
    properties = write_kafka_properties(cfg)
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
        raise StackError(f"Formatting Kafka storage failed.\n{_log_excerpt(log)}")
    say(f"kafka: formatted storage in {_kafka_data_dir(cfg)}")
    return True


def kafka_argv(cfg: StackConfig, java: Path) -> list[str]:
    return [
        str(java),
        *_jvm_common(cfg, KAFKA, cfg.kafka_heap),
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


# --------------------------------------------------------------------------------------------
# Elasticsearch specifics


def es_home(cfg: StackConfig) -> Path:
    return cfg.service_dir(ELASTICSEARCH) / "node"


def es_argv(cfg: StackConfig, java: Path) -> list[str]:
    # JDK 22+ warns on every start that ES (Lucene, native libs) uses restricted methods.
    native = ["--enable-native-access=ALL-UNNAMED"] if (java_major(java) or 0) >= 22 else []
    return [
        str(java),
        *_jvm_common(cfg, ELASTICSEARCH, cfg.es_heap),
        *native,
        "-cp",
        f"{cfg.lib_dir(ELASTICSEARCH)}/*",
        ES_MAIN_CLASS,
        "--home",
        str(es_home(cfg)),
        "--host",
        "127.0.0.1",
        "--port",
        str(cfg.es_port),
        # Pinned (not the 9300-9399 default range) so the port check before start is exact.
        "--transport-port",
        str(cfg.es_transport_port),
    ]


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: Any


def http_get_json(url: str, timeout: float = 5.0) -> HttpReply | None:
    """GET a JSON endpoint; None when nothing answers. HTTP error statuses are replies too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return HttpReply(resp.status, dict(resp.headers.items()), json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
        except ValueError:
            body = None
        return HttpReply(exc.code, dict(exc.headers.items()), body)
    except (OSError, ValueError):
        return None


def es_ready(cfg: StackConfig, timeout: float = 5.0) -> bool:
    """LAUNCH.md's readiness: cluster health reaches yellow (or green)."""
    url = f"{cfg.address(ELASTICSEARCH)}/_cluster/health?wait_for_status=yellow&timeout=1s"
    reply = http_get_json(url, timeout)
    return (
        reply is not None
        and reply.status == 200
        and isinstance(reply.body, dict)
        and reply.body.get("status") in ("yellow", "green")
    )


def es_version(cfg: StackConfig) -> str | None:
    reply = http_get_json(f"{cfg.address(ELASTICSEARCH)}/", timeout=5.0)
    if reply is None or reply.status != 200 or not isinstance(reply.body, dict):
        return None
    version = reply.body.get("version", {}).get("number")
    return str(version) if version else None


# --------------------------------------------------------------------------------------------
# Processes


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


def _write_pid(cfg: StackConfig, service: str, pid: int) -> None:
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


def _spawn(cfg: StackConfig, service: str, argv: list[str]) -> subprocess.Popen[bytes]:
    """Start a JVM detached from this process (own session: survives the CLI, and Ctrl-C in
    the shell does not reach it), logging to logs/<service>.log."""
    log = cfg.log_file(service)
    log.parent.mkdir(parents=True, exist_ok=True)
    _rotate_if_large(log)
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
    _write_pid(cfg, service, proc.pid)
    return proc


# --------------------------------------------------------------------------------------------
# Status


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
    return kafka_ready(cfg) if service == KAFKA else es_ready(cfg)


def service_status(cfg: StackConfig, service: str) -> ServiceStatus:
    procs = find_processes(cfg, service)
    pid = procs[0].pid if procs else None
    address = cfg.address(service)
    version = kafka_version(cfg) if service == KAFKA else None
    if pid is None:
        holder = None if port_is_free(cfg.ports(service)[0]) else port_holder(cfg.ports(service)[0])
        detail = f"port held by pid {holder.pid} ({holder.name})" if holder else ""
        return ServiceStatus(service, address, None, "down", version, detail)
    if not _probe(cfg, service):
        mismatch = port_mismatch(cfg, service, procs[0])
        detail = "listens on other ports" if mismatch else "not answering yet"
        return ServiceStatus(service, address, pid, "unhealthy", version, detail)
    if service == ELASTICSEARCH:
        version = es_version(cfg)
    return ServiceStatus(service, address, pid, "up", version)


def status(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
) -> list[ServiceStatus]:
    """Health of each service of the local stack (no side effects)."""
    cfg = _config(settings, stack_dir)
    return [service_status(cfg, s) for s in _services(only)]


def is_up(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
) -> bool:
    return all(s.is_up for s in status(settings, stack_dir=stack_dir, only=only))


# --------------------------------------------------------------------------------------------
# Up


def _prepare(cfg: StackConfig, service: str, java: Path, say: Say) -> None:
    if is_built(cfg, service):
        say(f"{service}: jars present in {cfg.lib_dir(service)}")
    else:
        with _phase(say, f"{service}: build"):
            build(cfg, service, java, say)
    if service == KAFKA:
        with _phase(say, "kafka: storage"):
            format_kafka_storage(cfg, java, say)


def _start(cfg: StackConfig, service: str, java: Path) -> subprocess.Popen[bytes]:
    argv = kafka_argv(cfg, java) if service == KAFKA else es_argv(cfg, java)
    return _spawn(cfg, service, argv)


def _died_message(cfg: StackConfig, service: str, code: int | None) -> str:
    return (
        f"{service} exited (code {code}) before becoming ready. "
        f"See `newsflow stack logs {service}`.\n{_log_excerpt(cfg.log_file(service))}"
    )


def _timeout_message(cfg: StackConfig, service: str, seconds: float) -> str:
    return (
        f"{service} did not become ready within {seconds:.0f} s (NEWSFLOW_STACK_START_TIMEOUT). "
        f"It is still running; `newsflow stack down` stops it.\n"
        f"{_log_excerpt(cfg.log_file(service))}"
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
    say: Say = _print,
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
    return find_java(JAVA_MIN_MAJOR[service])


def ensure_up(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
    say: Say = _print,
) -> None:
    """Start whatever part of the stack is not running and wait until it is healthy.
    A no-op (that says so) when everything is already up; needs the network only the first time
    (Maven downloads)."""
    cfg = _config(settings, stack_dir)
    services = _services(only)
    total = time.monotonic()
    with _locked(cfg, say):
        pending: dict[str, subprocess.Popen[bytes] | psutil.Process] = {}
        started: dict[str, float] = {}
        for service in services:
            procs = find_processes(cfg, service)
            if procs:
                # Running already (maybe still starting): adopt it rather than start a twin.
                mismatch = port_mismatch(cfg, service, procs[0])
                if mismatch:
                    raise StackError(mismatch)
                _write_pid(cfg, service, procs[0].pid)
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


# --------------------------------------------------------------------------------------------
# Down


def stack_down(
    settings: Settings | None = None,
    *,
    stack_dir: Path | None = None,
    only: Sequence[str] | str | None = None,
    grace: float = STOP_GRACE_SECONDS,
    say: Say = _print,
) -> None:
    """SIGTERM our JVMs (clean shutdown), SIGKILL what is left after ``grace`` seconds."""
    cfg = _config(settings, stack_dir)
    total = time.monotonic()
    with _locked(cfg, say):
        procs: list[psutil.Process] = []
        for service in _services(only):
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
        for service in _services(only):
            cfg.pid_file(service).unlink(missing_ok=True)
    say(f"stack down: {time.monotonic() - total:.1f} s")
