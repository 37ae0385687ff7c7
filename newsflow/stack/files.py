"""Stack files: log tails and rotation, the lock that serialises concurrent up/down."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from newsflow.stack.config import LOG_ROTATE_BYTES, POLL_SECONDS, Say, StackConfig


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


def log_excerpt(path: Path, n: int = 25) -> str:
    lines = tail_lines(path, n)
    # Only this start's lines: spawn writes a "=== " header before each start.
    starts = [i for i, line in enumerate(lines) if line.startswith("=== ")]
    lines = lines[starts[-1] :] if starts else lines
    shown = "\n".join(f"    {line}" for line in lines) if lines else "    (log is empty)"
    return f"Last lines of {path}:\n{shown}"


def rotate_if_large(path: Path) -> None:
    if path.exists() and path.stat().st_size > LOG_ROTATE_BYTES:
        path.replace(path.with_name(path.name + ".1"))


@contextlib.contextmanager
def locked(cfg: StackConfig, say: Say) -> Iterator[None]:
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
def phase(say: Say, label: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    say(f"{label}: {time.monotonic() - started:.1f} s")
