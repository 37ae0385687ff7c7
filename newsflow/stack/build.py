"""Java and Maven: finding a JDK and mvn, and building a service's class path from its pom
(only when the jars are missing or the pom/launcher changed)."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from newsflow.stack.config import (
    BUILD_STAMP,
    INSTALL_HINT,
    Say,
    StackConfig,
    StackError,
    print_stderr,
)
from newsflow.stack.formats import java_major_from_version_output, maven_failure_message


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


def build(cfg: StackConfig, service: str, java: Path, say: Say = print_stderr) -> None:
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
