"""`newsflow serve` on the real pipeline: search JSON, SSE with Last-Event-ID resume, and the
search page in a real headless Chromium."""

from __future__ import annotations

import contextlib
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from ingest.producer import ArticleProducer
from tests.conftest import REPO, Pipeline
from tests.integration.subscriber_proc import MIXED, POLITICS, SPORT

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / ".artifacts"


def send(pipeline: Pipeline, docs: dict[str, str], title: str = "خبر") -> list[str]:
    with ArticleProducer(pipeline.settings) as producer:
        return [producer.send({"url": u, "title": title, "body": b, "source": "test"})
                for u, b in docs.items()]


@pytest.fixture(scope="module")
def server(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path_factory.mktemp("serve") / "serve.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "newsflow", "serve", "--port", str(port)],
                            env=pipeline.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, "newsflow serve did not start"
        time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@dataclass
class Event:
    id: str
    event: str
    data: dict[str, object]


class SSEClient:
    """Reads ``text/event-stream`` on a thread: each event lands in ``events``."""

    def __init__(self, url: str, last_event_id: str | None = None) -> None:
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        self.client = httpx.Client(timeout=httpx.Timeout(10, read=None))
        self.response = self.client.send(self.client.build_request("GET", url, headers=headers),
                                         stream=True)
        assert self.response.status_code == 200, self.response.read()
        self.events: queue.Queue[Event] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if "data" in fields:
                        self.events.put(Event(fields.get("id", ""), fields.get("event", "message"),
                                              orjson.loads(fields["data"])))
                    fields = {}
                elif not line.startswith(":"):
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            pass  # closed by the test

    def take(self, n: int, timeout: float = 30) -> list[Event]:
        out: list[Event] = []
        deadline = time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                out.append(self.events.get(timeout=0.2))
        return out

    def close(self) -> None:
        self.response.close()
        self.client.close()


def test_search_and_article_json(pipeline: Pipeline, server: str) -> None:
    ids = send(pipeline, {"https://example.org/s/1": POLITICS, "https://example.org/s/2": MIXED})
    assert pipeline.wait_ids(set(ids)) == set(ids)
    data = httpx.get(f"{server}/search", params={"q": "دعم الحكومة", "facets": "true"},
                     timeout=10).json()
    assert set(ids) <= {h["id"] for h in data["hits"]}
    assert any("<mark>" in s for h in data["hits"] for s in h["snippets_html"])
    assert {"politics", "sport"} <= {b["value"] for b in data["facets"]["labels"]}
    article = httpx.get(f"{server}/articles/{ids[0]}", timeout=10).json()
    assert article["id"] == ids[0] and "seg" not in article and "body_normalized" not in article
    assert httpx.get(f"{server}/articles/nope", timeout=10).status_code == 404
    assert httpx.get(f"{server}/openapi.json", timeout=10).json()["paths"]["/subscribe"]


def test_sse_delivers_new_articles_and_resumes_without_gaps(
    pipeline: Pipeline, server: str
) -> None:
    stream = SSEClient(f"{server}/subscribe?label=sport")
    try:
        first = send(pipeline, {f"https://example.org/sse/a{i}": f"{SPORT} {i}" for i in range(2)})
        send(pipeline, {"https://example.org/sse/other": POLITICS})  # not for this filter
        got = stream.take(2)
    finally:
        stream.close()
    assert [e.data["id"] for e in got] == first or {e.data["id"] for e in got} == set(first)
    assert all(e.event == "article" and "sport" in e.data["labels"] for e in got)  # type: ignore[operator]

    missed = send(pipeline, {f"https://example.org/sse/b{i}": f"{SPORT} ب{i}" for i in range(3)})
    time.sleep(2)  # routed while nobody listens
    resumed = SSEClient(f"{server}/subscribe?label=sport", last_event_id=got[-1].id)
    try:
        later = send(pipeline, {"https://example.org/sse/c": f"{SPORT} ج"})
        again = resumed.take(4)
        extra = resumed.take(1, timeout=2)
    finally:
        resumed.close()
    assert sorted(str(e.data["id"]) for e in again) == sorted(missed + later)
    assert extra == [], "nothing delivered twice"


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` (.ci/run does)")
def test_search_page_in_headless_chromium(pipeline: Pipeline, server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (dev)")
    ids = send(pipeline, {f"https://example.org/page/p{i}": f"{POLITICS} {i}" for i in range(2)}
               | {"https://example.org/page/m": MIXED}, title="الحكومة تدعم")
    assert pipeline.wait_ids(set(ids)) == set(ids)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ar")
        page.goto(server + "/")
        page.wait_for_selector("body[data-live=open]", timeout=20_000)
        page.fill("#q", "دعم الحكومة")
        page.press("#q", "Enter")
        page.wait_for_selector(f".hit[data-id='{ids[0]}'] mark", timeout=20_000)
        marks = page.locator(".hit mark").all_inner_texts()
        assert any("الحكومة" in m or "دعم" in m for m in marks), marks
        assert page.evaluate("document.documentElement.dir") == "rtl"

        page.click(".facet[data-kind=labels] button[data-value=sport]")
        page.wait_for_selector("#filters span[data-filter=label]", timeout=20_000)
        shown = page.locator(".hit").evaluate_all("els => els.map(e => e.dataset.id)")
        assert ids[2] in shown and ids[0] not in shown and ids[1] not in shown, shown

        [live_id] = send(pipeline, {"https://example.org/page/live": SPORT},
                         title="خبر عاجل من الملعب")
        page.wait_for_selector(f"#live-list li[data-id='{live_id}']", timeout=20_000)
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "search-page.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
