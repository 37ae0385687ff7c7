"""``newsflow eval search``: our search against Elasticsearch's stock ``arabic`` analyzer and a
Kibana-style ``query_string`` on our index, side by side in one run, on the same documents.

Two collections, each indexed twice into private indices (ours through the shipped template and
``to_es_doc``; stock as ``title``/``body`` text fields with the built-in ``arabic`` analyzer):
the corpus (SaudiNewsNet) with its known-item queries, and the hand-labelled judgments. Queries
run in rotating system order, so the machine's noise falls on all three alike; latency is
Elasticsearch's ``took`` and the client's wall time, after a warm-up pass.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from elasticsearch.helpers import streaming_bulk

from ingest.es_doc import to_es_doc
from ingest.es_setup import ensure_index
from ingest.readers import iter_records
from ingest.search import build_query
from ingest.search_eval_sets import EvalQuery, JudgedCollection, KnownItemPool
from newsflow.core.contract import EnrichedArticle
from newsflow.core.identity import article_id
from newsflow.core.settings import Settings

SYSTEMS = ("ours", "stock", "kibana")
K = 10
WARMUP = 20
STOCK_MAPPING = {
    "properties": {
        "title": {"type": "text", "analyzer": "arabic"},
        "body": {"type": "text", "analyzer": "arabic"},
    }
}


@dataclass(frozen=True)
class IndexPair:
    ours: Settings  # es_alias -> our index through the template
    stock: str


@dataclass
class Run:
    ranked: list[str]
    took_ms: float
    wall_ms: float


def load_articles(paths: Iterable[str], limit: int | None = None) -> Iterator[EnrichedArticle]:
    """Enriched JSONL (``newsflow enrich`` output) as is; raw articles and SaudiNewsNet zips as
    minimal EnrichedArticles (search needs title and body only). Repeated ids are skipped."""
    seen: set[str] = set()
    now = datetime.now(UTC)
    for rec in iter_records(list(paths), limit=limit):
        data = rec.data
        if not data or not data.get("url"):
            continue
        if "processing" in data:
            art = EnrichedArticle.model_validate(data)
        else:
            art = EnrichedArticle(
                id=article_id(str(data["url"])), url=str(data["url"]), source=data.get("source"),
                title=str(data.get("title") or ""), body=str(data.get("body") or ""),
                language="ar", ingested_at=now, processing={"version": "eval"})
        if art.id not in seen:
            seen.add(art.id)
            yield art


def create_pair(es: Elasticsearch, base: Settings, name: str) -> IndexPair:
    uid = uuid.uuid4().hex[:8]
    ours = base.model_copy(update={"es_alias": f"eval{uid}-{name}"})
    ensure_index(es, ours)
    stock = f"eval{uid}-{name}-stock"
    es.indices.create(index=stock, mappings=STOCK_MAPPING,
                      settings={"number_of_replicas": 0, "refresh_interval": "-1"})
    es.indices.put_settings(index=ours.es_index, settings={"refresh_interval": "-1"})
    return IndexPair(ours, stock)


def delete_pair(es: Elasticsearch, pair: IndexPair) -> None:
    es.options(ignore_status=404).indices.delete(index=f"{pair.ours.es_alias}-*")
    es.options(ignore_status=404).indices.delete(index=pair.stock)
    es.options(ignore_status=404).indices.delete_index_template(
        name=f"{pair.ours.es_alias}-template")


def _actions(pair: IndexPair, docs: Iterable[EnrichedArticle]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        yield {"_index": pair.ours.es_alias, "_id": doc.id, "_source": to_es_doc(doc)}
        yield {"_index": pair.stock, "_id": doc.id,
               "_source": {"title": doc.title, "body": doc.body}}


def index_docs(es: Elasticsearch, pair: IndexPair, docs: Iterable[EnrichedArticle]) -> int:
    """Bulk-index into both indices; returns the number of documents (failures raise)."""
    failed: list[Any] = []
    ok = 0
    for success, item in streaming_bulk(es, _actions(pair, docs), chunk_size=500,
                                        max_chunk_bytes=20 * 1024 * 1024, raise_on_error=False):
        if success:
            ok += 1
        else:
            failed.append(item)
    if failed:
        raise RuntimeError(f"{len(failed)} documents were rejected, first: {failed[0]}")
    for index in (pair.ours.es_index, pair.stock):
        es.indices.put_settings(index=index, settings={"refresh_interval": None})
        es.indices.refresh(index=index)
    return ok // 2


def request(system: str, pair: IndexPair, query: str) -> tuple[str, dict[str, Any]]:
    """(index, search body) of one system for one query."""
    if system == "ours":
        return pair.ours.es_alias, build_query(query, limit=K)
    if system == "stock":
        return pair.stock, {"size": K, "_source": False, "query": {
            "multi_match": {"query": query, "fields": ["title^2", "body"]}}}
    # What Kibana's query bar sends in Lucene mode: no fields, so index.query.default_field.
    return pair.ours.es_alias, {"size": K, "_source": False, "query": {
        "query_string": {"query": query, "analyze_wildcard": True}}}


def _search(es: Elasticsearch, index: str, body: dict[str, Any]) -> Run:
    from elasticsearch import BadRequestError

    started = time.perf_counter()
    try:
        resp = es.search(index=index, **body)
    except BadRequestError:
        if "query_string" not in body.get("query", {}):
            raise
        # Kibana shows a syntax error for such a query (a stray quote or bracket): no results.
        return Run([], 0.0, (time.perf_counter() - started) * 1000)
    wall = (time.perf_counter() - started) * 1000
    return Run([h["_id"] for h in resp["hits"]["hits"]], float(resp["took"]), wall)


def run_queries(
    es: Elasticsearch, pair: IndexPair, queries: list[EvalQuery],
    progress: Callable[[int], None] | None = None,
) -> dict[str, list[Run]]:
    for q in queries[:WARMUP]:
        for system in SYSTEMS:
            _search(es, *request(system, pair, q.query))
    runs: dict[str, list[Run]] = {s: [] for s in SYSTEMS}
    for i, q in enumerate(queries):
        order = SYSTEMS[i % 3 :] + SYSTEMS[: i % 3]
        done = {system: _search(es, *request(system, pair, q.query)) for system in order}
        for system in SYSTEMS:
            runs[system].append(done[system])
        if progress:
            progress(1)
    return runs


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)  # nearest rank
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def score(queries: list[EvalQuery], runs: list[Run]) -> dict[str, float]:
    n = len(queries) or 1
    success = rr = precision = negative = 0.0
    for q, run in zip(queries, runs, strict=True):
        top = run.ranked[:K]
        ranks = [i for i, doc in enumerate(top, 1) if doc in q.relevant]
        success += bool(ranks)
        rr += 1 / ranks[0] if ranks else 0.0
        precision += len(ranks) / K
        negative += any(doc in q.not_relevant for doc in top)
    took = [r.took_ms for r in runs]
    wall = [r.wall_ms for r in runs]
    return {
        "success@10": round(success / n, 4), "mrr@10": round(rr / n, 4),
        "p@10": round(precision / n, 4), "not_relevant@10": round(negative / n, 4),
        "took_p50_ms": _percentile(took, 50), "took_p95_ms": _percentile(took, 95),
        "wall_p50_ms": round(_percentile(wall, 50), 1),
        "wall_p95_ms": round(_percentile(wall, 95), 1),
    }


def failures(queries: list[EvalQuery], runs: list[Run], limit: int = 25) -> list[dict[str, Any]]:
    """Our misses: relevant documents not in the top 10, not-relevant ones that are."""
    out = []
    for q, run in zip(queries, runs, strict=True):
        top = run.ranked[:K]
        missed = sorted(q.relevant - set(top))
        wrong = sorted(q.not_relevant & set(top))
        if (missed and q.target is None) or wrong or not set(top) & q.relevant:
            out.append({"query": q.query, "tags": list(q.tags), "missed": missed[:5],
                        "not_relevant_returned": wrong})
    return out[:limit]


def evaluate_set(
    es: Elasticsearch, pair: IndexPair, queries: list[EvalQuery],
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    runs = run_queries(es, pair, queries, progress)
    return {
        "queries": len(queries),
        "systems": {s: score(queries, runs[s]) for s in SYSTEMS},
        "ours_failures": failures(queries, runs["ours"]),
        "by_tag": _by_tag(queries, runs),
    }


def _by_tag(queries: list[EvalQuery], runs: dict[str, list[Run]]) -> dict[str, Any]:
    tags = sorted({t for q in queries for t in q.tags})
    out: dict[str, Any] = {}
    for tag in tags:
        idx = [i for i, q in enumerate(queries) if tag in q.tags]
        sub = [queries[i] for i in idx]
        out[tag] = {s: {k: v for k, v in score(sub, [runs[s][i] for i in idx]).items()
                        if k in ("success@10", "mrr@10", "not_relevant@10")} for s in SYSTEMS}
    return out


def evaluate(
    es: Elasticsearch, settings: Settings, corpus: list[EnrichedArticle],
    judged: JudgedCollection, known: int = 300, seed: int = 7, keep: bool = False,
    progress: Callable[[str, int | None], Callable[[int], None]] | None = None,
) -> dict[str, Any]:
    """Index both collections into private index pairs, run both query sets on all three
    systems, delete the indices (unless ``keep``) and return the figures."""
    pairs: list[IndexPair] = []
    try:
        corpus_pair = create_pair(es, settings, "corpus")
        pairs.append(corpus_pair)
        judged_pair = create_pair(es, settings, "judged")
        pairs.append(judged_pair)
        started = time.perf_counter()
        n_corpus = index_docs(es, corpus_pair, corpus)
        index_seconds = time.perf_counter() - started
        index_docs(es, judged_pair, judged.docs)
        pool = KnownItemPool.from_docs(corpus)
        items = pool.sample(known, seed)
        tick = progress("known items", len(items)) if progress else None
        known_result = evaluate_set(es, corpus_pair, items, tick)
        # What any ranker can expect, given the titles that tie on their query's words.
        known_result["ceiling_mrr@10"] = pool.ceiling(items)
        tick = progress("judgments", len(judged.queries)) if progress else None
        judged_result = evaluate_set(es, judged_pair, judged.queries, tick)
    finally:
        if not keep:
            for pair in pairs:
                delete_pair(es, pair)
    return {
        "documents": {"corpus": n_corpus, "judged": len(judged.docs)},
        "index_seconds": round(index_seconds, 1),
        "kept_indices": [p.ours.es_alias for p in pairs] + [p.stock for p in pairs] if keep else [],
        "known_item": known_result,
        "judged": judged_result,
    }
