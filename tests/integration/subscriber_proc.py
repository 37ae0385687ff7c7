"""Test helpers: a `newsflow subscribe` child process read line by line, and labelled texts."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson

from tests.conftest import REPO

# Bodies whose labels the bundled taxonomy assigns unambiguously (checked by the tests).
SPORT = ("فاز فريق الهلال على النصر بهدفين في مباراة الدوري السعودي لكرة القدم وسجل المهاجم "
         "هدف الفوز في الشوط الثاني أمام جماهير الملعب")
POLITICS = ("التقى رئيس الوزراء بوزير الخارجية لبحث العلاقات الثنائية والانتخابات البرلمانية "
            "المقبلة وأكد البرلمان دعم الحكومة")
MIXED = ("ناقش مجلس الوزراء دعم الحكومة للمنتخب الوطني لكرة القدم قبل مباراة كأس العالم وقرر "
         "البرلمان زيادة ميزانية الرياضة والملاعب")


class Subscriber:
    """``newsflow subscribe ARGS --json``; each stdout line is kept with its arrival time."""

    def __init__(self, env: dict[str, str], *args: str, log: Path) -> None:
        self.log = log
        self._stderr = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "newsflow", "subscribe", *args, "--json"],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr,
        )
        self.lines: queue.Queue[tuple[float, dict[str, object]]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put((time.time(), orjson.loads(line)))

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "subscribed to" in self.log.read_text(errors="replace"):
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"subscriber exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise TimeoutError(f"subscriber not ready: {self.log.read_text()[-2000:]}")

    def collect(self, until: set[str], timeout: float = 30.0
                ) -> dict[str, list[tuple[float, dict[str, object]]]]:
        """Records by id until every id in ``until`` was seen (or time runs out), then any
        that follow within half a second (so extras would be noticed)."""
        got: dict[str, list[tuple[float, dict[str, object]]]] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until <= got.keys():
                deadline = min(deadline, time.monotonic() + 0.5)
            try:
                at, record = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            got.setdefault(str(record["id"]), []).append((at, record))
        return got

    def stop(self, sig: int = signal.SIGINT) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self._stderr.close()
        return code
