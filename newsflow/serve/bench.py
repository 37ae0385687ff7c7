"""``newsflow serve-bench``: /search latency through a real uvicorn server, side by side with
the same searches called in-process (so the HTTP layer's cost is a ratio, not a guess on a
noisy machine). Requests alternate between the two sides, query by query."""

from __future__ import annotations

import contextlib
import http.client
import socket
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from elasticsearch import helpers

from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings

# Typical newsroom searches over SaudiNewsNet (2015): names, places, topics, with filters.
QUERIES: list[dict[str, str]] = [
    {"q": "الملك سلمان"}, {"q": "وزير الخارجية"}, {"q": "الحوثيين"}, {"q": "اليمن"},
    {"q": "أسعار النفط"}, {"q": "الهلال"}, {"q": "كرة القدم", "label": "sport"},
    {"q": "الأمطار"}, {"q": "وزارة الصحة"}, {"q": "داعش"}, {"q": "الرياض"},
    {"q": "جدة", "label": "society"}, {"q": "التعليم"}, {"q": "مجلس الوزراء"},
    {"q": "إيران"}, {"q": "المنتخب السعودي"}, {"q": "سوق الأسهم", "label": "economy"},
    {"q": ""}, {"q": "الحج"}, {"q": "أمير منطقة مكة"},
]
Say = Callable[[str], None]


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return {"requests": len(samples), "p50_ms": round(cuts[49], 2),
            "p95_ms": round(cuts[94], 2), "p99_ms": round(cuts[98], 2),
            "mean_ms": round(statistics.fmean(samples), 2)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_server(settings: Settings) -> Iterator[int]:
    """The real app under uvicorn on a free loopback port, in a thread of this process."""
    import uvicorn

    from newsflow.serve.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def load_corpus(settings: Settings, corpus: Path, limit: int | None, say: Say) -> int:
    """Enrich the corpus offline (no Kafka) and bulk-index it into ``settings.es_alias``."""
    from ingest.es_doc import to_es_doc
    from ingest.es_setup import ensure_index
    from ingest.producer import RejectedArticle, to_raw_article
    from ingest.readers import iter_records
    from processors.enrich import Enricher

    paths = sorted(corpus.glob("*.zip")) if corpus.is_dir() else [corpus]
    enricher = Enricher(settings)
    # A shared, busy cluster can take longer than the default timeout for one bulk chunk.
    es = elasticsearch_client(settings, request_timeout=120, retry_on_timeout=True,
                              max_retries=5)
    ensure_index(es, settings)

    def actions() -> Iterator[dict[str, Any]]:
        for rec in iter_records(paths, limit=limit):
            if rec.data is None:
                continue
            with contextlib.suppress(RejectedArticle, ValueError):
                article = enricher.enrich(to_raw_article(rec.data))
                yield {"_index": settings.es_alias, "_id": article.id,
                       "_source": to_es_doc(article)}

    t0 = time.monotonic()
    ok, _ = helpers.bulk(es, actions(), chunk_size=250, raise_on_error=False, max_retries=5)
    es.indices.refresh(index=settings.es_alias)
    es.close()
    say(f"loaded {ok} articles into {settings.es_alias} in {time.monotonic() - t0:.0f} s")
    return int(ok)


def _http_search(conn: http.client.HTTPConnection, query: dict[str, str], key: str | None,
                 facets: bool) -> float:
    headers = {"X-API-Key": key} if key else {}
    params = {**query, "limit": 10, **({"facets": "true"} if facets else {})}
    t0 = time.perf_counter()
    conn.request("GET", "/search?" + urlencode(params), headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    elapsed = (time.perf_counter() - t0) * 1000
    if resp.status != 200:
        raise RuntimeError(f"/search answered {resp.status}: {body[:300]!r}")
    return elapsed


def measure(settings: Settings, requests: int, say: Say, facets: bool = False
            ) -> dict[str, Any]:
    from newsflow.serve.app import search_payload

    es = elasticsearch_client(settings)
    key = settings.serve_api_key.get_secret_value() if settings.serve_api_key else None
    http_ms: list[float] = []
    direct_ms: list[float] = []
    try:
        documents = int(es.count(index=settings.es_alias)["count"])
        with running_server(settings) as port:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(requests + len(QUERIES)):  # the first round warms caches, unmeasured
                query = QUERIES[i % len(QUERIES)]
                h = _http_search(conn, query, key, facets)
                t0 = time.perf_counter()
                search_payload(es, settings, query=query["q"], topic=query.get("label"),
                               limit=10, facets=facets)
                d = (time.perf_counter() - t0) * 1000
                if i >= len(QUERIES):
                    http_ms.append(h)
                    direct_ms.append(d)
            conn.close()
    finally:
        es.close()
    http_p, direct_p = percentiles(http_ms), percentiles(direct_ms)
    say(f"measured {requests} requests per side")
    return {"index": settings.es_alias, "documents": documents, "facets": facets, "http": http_p,
            "direct": direct_p, "p95_ratio": round(http_p["p95_ms"] / direct_p["p95_ms"], 2)}


def run_serve_bench(settings: Settings, *, requests: int, corpus: Path | None,
                    limit: int | None, keep: bool, say: Say, facets: bool = False
                    ) -> dict[str, Any]:
    if corpus is None:
        return measure(settings, requests, say, facets)
    private = settings.model_copy(update={"es_alias": f"servebench{uuid.uuid4().hex[:8]}-news"})
    es = elasticsearch_client(settings)
    try:
        load_corpus(private, corpus, limit, say)
        return measure(private, requests, say, facets)
    finally:
        if keep:
            say(f"kept {private.es_alias}: NEWSFLOW_ES_ALIAS={private.es_alias} "
                "newsflow serve-bench measures it again")
        else:
            es.options(ignore_status=404).indices.delete(index=f"{private.es_alias}-*")
            es.options(ignore_status=404).indices.delete_index_template(
                name=f"{private.es_alias}-template")
        es.close()
