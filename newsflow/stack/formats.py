"""Pure helpers of the stack (unit-tested): property templates, cluster ids, and the messages
that say what went wrong (a port held by someone else, a Maven failure, a JVM version)."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from newsflow.stack.config import MARKER_DIR, MAVEN_NETWORK_PATTERNS

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
    if any(p.lower() in output.lower() for p in MAVEN_NETWORK_PATTERNS):
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
