"""The stages a bench run drives: producing the corpus, waiting until every article is accounted
for, the direct ``helpers.bulk`` ceiling, the indexer replay, and the clean-up."""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from newsflow.bench.metrics import (
    POLL_SECONDS,
    BenchError,
    Say,
    VisibilityTracker,
    rate_from_series,
)
from newsflow.bench.options import (
    direct_index_name,
    indexer_replay_settings,
    worker_replay_settings,
)
from newsflow.bench.watchers import ProcSampler
from newsflow.core.clients import elasticsearch_client, kafka_config
from newsflow.core.settings import Settings


def produce_corpus(settings: Settings, files: list[Path], limit: int | None,
             tracker: VisibilityTracker, progress: bool,
             rate: float | None = None) -> tuple[float, float, int, int]:
    """(start, end, sent, rejected). The producer does not dead-letter rejects here: the DLQ's
    end offset then counts only what the worker and indexer rejected. With ``rate`` the
    articles are paced, so that latency is measured below saturation rather than as queueing."""
    from ingest.producer import ArticleProducer
    from ingest.readers import iter_records
    from newsflow.progress import progress_bar

    with (
        ArticleProducer(settings, dead_letters=False) as producer,
        progress_bar("producing", total=limit, disable=not progress) as advance,
    ):
        t0 = time.monotonic()
        for n, doc_id in enumerate(producer.send_many(iter_records(files, limit=limit)), 1):
            if doc_id:
                tracker.sent(doc_id, time.monotonic())
            advance(1)
            if rate and (ahead := t0 + n / rate - time.monotonic()) > 0:
                time.sleep(ahead)
        producer.flush()
        t1 = time.monotonic()
    summary = producer.summary
    if summary.failed:
        raise BenchError(f"the broker did not acknowledge {summary.failed} article(s)")
    return t0, t1, summary.sent, summary.rejected


def wait_accounted(tracker: VisibilityTracker, children: Sequence[Any], watchers: Sequence[Any],
                    stall_seconds: float, progress: bool, log_dir: Path) -> None:
    from newsflow.progress import progress_bar

    total = tracker.n_sent
    done = 0
    last_progress = time.monotonic()
    with progress_bar("enrich+index", total=total, disable=not progress) as advance:
        while True:
            now_done = tracker.accounted()
            if now_done > done:
                advance(now_done - done)
                done = now_done
                last_progress = time.monotonic()
            if done >= total:
                return
            for child in children:
                if child.poll() is not None:
                    raise BenchError(f"{child.args[3]} exited with {child.returncode} "
                                     f"({done}/{total} accounted for); see {log_dir}")
            if time.monotonic() - last_progress > stall_seconds:
                errors = "; ".join(f"{w.thread.name}: {w.thread.error}" for w in watchers
                                   if w.thread.error is not None)
                raise BenchError(
                    f"no progress for {stall_seconds:.0f} s: {tracker.n_visible} searchable, "
                    f"{tracker.n_dead} dead-lettered, {tracker.n_pending} missing of {total}; "
                    f"see {log_dir}" + (f" (poller errors: {errors})" if errors else ""))
            time.sleep(0.2)


def read_enriched(settings: Settings) -> list[dict[str, Any]]:
    """Every enriched record of the private topic rendered as the indexer renders it
    (``to_es_doc``), last write per id winning as it does in Elasticsearch."""
    from kafka import KafkaConsumer, TopicPartition
    from pydantic import ValidationError

    from ingest.es_doc import to_es_doc
    from newsflow.core.contract import EnrichedArticle

    # check_crcs=False: without the optional ``crc32c`` C extension kafka-python verifies batch
    # checksums in pure Python (~3 MB/s), which would make reading back a full-corpus topic
    # take minutes. The records were written by this run a moment ago; this read is not timed.
    consumer = KafkaConsumer(
        **kafka_config(settings), group_id=None, enable_auto_commit=False,
        fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=32 * 1024 * 1024,
        check_crcs=False,
    )
    docs: dict[str, dict[str, Any]] = {}
    try:
        parts = [TopicPartition(settings.topic_enriched, p)
                 for p in sorted(consumer.partitions_for_topic(settings.topic_enriched) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        deadline = time.monotonic() + 300
        while any(consumer.position(tp) < ends[tp] for tp in parts):
            if time.monotonic() > deadline:
                raise BenchError("could not read back the enriched topic within 300 s")
            for records in consumer.poll(timeout_ms=1000).values():
                for rec in records:
                    try:
                        article = EnrichedArticle.model_validate(orjson.loads(rec.value))
                    except (orjson.JSONDecodeError, ValidationError, TypeError):
                        continue  # the indexer dead-lettered these too
                    docs[article.id] = to_es_doc(article)
    finally:
        consumer.close()
    return list(docs.values())


def direct_bulk(settings: Settings, docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The ceiling: the same documents through ``helpers.bulk`` into a scratch index from the
    same template, with the indexer's chunking. Timed until the bulk calls return (the ceiling)
    and, separately, until a search sees them all (comparable to how the indexer is timed)."""
    from elasticsearch import helpers

    from ingest.index_batch import MAX_BULK_BYTES

    es = elasticsearch_client(settings)
    index = direct_index_name(settings)
    try:
        es.options(ignore_status=404).indices.delete(index=index)
        es.indices.create(index=index)
        actions: Iterator[dict[str, Any]] = (
            {"_index": index, "_id": d["id"], "_source": d} for d in docs)
        t0 = time.monotonic()
        ok, failed = helpers.bulk(es, actions, chunk_size=settings.indexer_batch_size,
                                  max_chunk_bytes=MAX_BULK_BYTES, stats_only=True,
                                  raise_on_error=False)
        t1 = time.monotonic()
        searchable = None
        deadline = t1 + 60
        while time.monotonic() < deadline:
            if int(es.count(index=index)["count"]) >= ok:
                searchable = time.monotonic() - t0
                break
            time.sleep(0.05)
    finally:
        es.close()
    seconds = t1 - t0
    return {
        "docs": int(ok),
        "failed": int(failed) if isinstance(failed, int) else len(failed),
        "seconds": round(seconds, 3),
        "docs_per_second": round(ok / seconds, 1) if seconds > 0 else None,
        "seconds_to_searchable": None if searchable is None else round(searchable, 3),
        "chunk_size": settings.indexer_batch_size,
        "index": index,
    }


QUIET_CPU_PERCENT = 10  # Elasticsearch's own CPU at most this, no merge running: settled
SETTLE_LIMIT_SECONDS = 120.0


def wait_until_settled(settings: Settings, say: Say) -> float:
    """Until Elasticsearch has no merge running and its process is nearly idle twice in a row
    (at most ``SETTLE_LIMIT_SECONDS``); returns the seconds waited. After a run has indexed
    tens of thousands of documents, segment merges go on for seconds and take a core of a
    two-core machine, which would slow whatever is timed next (a replay, the offline ceiling)
    and not the others."""
    es = elasticsearch_client(settings)
    start = time.monotonic()
    calm = 0
    try:
        while calm < 2 and time.monotonic() - start < SETTLE_LIMIT_SECONDS:
            stats = es.nodes.stats(metric="indices,process", index_metric="merge")["nodes"]
            busy = any(n["indices"]["merges"]["current"] > 0
                       or n["process"]["cpu"]["percent"] > QUIET_CPU_PERCENT
                       for n in stats.values())
            calm = 0 if busy else calm + 1
            time.sleep(POLL_SECONDS * 2)
    finally:
        es.close()
    waited = time.monotonic() - start
    if calm < 2:
        say(f"Elasticsearch still busy after {waited:.0f} s; measuring anyway")
    return round(waited, 1)


def watch_replay(name: str, count: Callable[[], int], expected: int, proc: Any, log: Path,
                 stall_seconds: float, progress: bool) -> list[tuple[float, int]]:
    """Samples ``count()`` until it reaches ``expected``; raises when the replaying process
    exits or the count stalls. Returns the ``(time, count)`` series."""
    from newsflow.progress import progress_bar

    series: list[tuple[float, int]] = []
    last, last_change = 0, time.monotonic()
    with progress_bar(f"replaying {name}", total=expected, disable=not progress) as adv:
        while True:
            t = time.monotonic()
            n = count()
            series.append((t, n))
            if n > last:
                adv(n - last)
                last, last_change = n, t
            if n >= expected:
                return series
            if proc.poll() is not None:
                raise BenchError(f"replay {name} exited with {proc.returncode}; see {log}")
            if t - last_change > stall_seconds:
                raise BenchError(f"replay {name} stuck at {n}/{expected}; see {log}")
            time.sleep(POLL_SECONDS)


def run_replay(name: str, argv: list[str], env: dict[str, str], log: Path,
               count: Callable[[], int], expected: int, stall_seconds: float,
               progress: bool) -> dict[str, Any]:
    """Runs one replaying process (``newsflow worker`` or ``newsflow index``) until ``count()``
    reaches ``expected``, then stops it; returns its rate, CPU share and peak memory from its
    first output to its last."""
    import subprocess

    from newsflow.runner import stop_all

    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    procs = ProcSampler({name: proc.pid})
    procs.thread.start()
    try:
        series = watch_replay(name, count, expected, proc, log, stall_seconds, progress)
    finally:
        procs.thread.stop()
        stop_all([proc], 30)
    rate = rate_from_series(series, expected)
    report: dict[str, Any] = rate.as_dict(rate.start) if rate else {}
    # Offsets on the pipeline's timeline mean nothing for this separate, later run.
    report.pop("from", None)
    report.pop("to", None)
    if rate:
        report["cpu_cores_busy"] = procs.busy(rate.start, rate.end)[name]
    report["peak_rss_mb"] = procs.peak_mb()[name]
    return report


def replay_indexer(settings: Settings, expected: int, log_dir: Path, stall_seconds: float,
                    progress: bool) -> dict[str, Any]:
    """The indexer's own capacity: a fresh ``newsflow index`` (new group, new alias) over the
    already complete enriched topic. In the pipeline the indexer can only go as fast as the
    worker feeds it, so that rate says nothing about the indexer; this one is comparable with
    the direct bulk ceiling (same documents, everything available up front)."""
    from newsflow.runner import newsflow_argv, settings_env

    replay = indexer_replay_settings(settings)
    es = elasticsearch_client(settings)
    try:
        es.indices.create(index=f"{replay.es_alias}-v{replay.es_index_version}",
                          aliases={replay.es_alias: {"is_write_index": True}})
        report = run_replay("indexer", newsflow_argv("index"), settings_env(replay),
                            log_dir / "indexer-replay.log",
                            lambda: int(es.count(index=replay.es_alias)["count"]), expected,
                            stall_seconds, progress)
    finally:
        es.close()
    report["docs_per_second"] = report.pop("articles_per_second", None)
    report["docs"] = expected
    return report


def cleanup(settings: Settings, say: Say) -> None:
    """Best effort: topics, indices (the scratch one too), template, consumer groups and the
    Faust data directory of this run. Leftovers harm nothing but disk."""
    from kafka import KafkaAdminClient

    worker_replay = worker_replay_settings(settings)
    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(**kafka_config(settings))
        try:
            with contextlib.suppress(Exception):
                admin.delete_topics(
                    [settings.topic_raw, settings.topic_enriched, settings.topic_dlq,
                     settings.topic_dedup_stage, worker_replay.topic_enriched,
                     worker_replay.topic_dlq, worker_replay.topic_dedup_stage]
                    + [t for t in admin.list_topics()
                       if t.startswith(settings.topic_label_prefix)])
            with contextlib.suppress(Exception):
                admin.delete_groups([settings.indexer_group, settings.app_id,
                                     indexer_replay_settings(settings).indexer_group,
                                     worker_replay.app_id])
        finally:
            admin.close()
    with contextlib.suppress(Exception):
        es = elasticsearch_client(settings)
        try:
            es.options(ignore_status=404).indices.delete(index=f"{settings.es_alias}-*")
            es.options(ignore_status=404).indices.delete_index_template(
                name=f"{settings.es_alias}-template")
        finally:
            es.close()
    for app_id in (settings.app_id, worker_replay.app_id):
        shutil.rmtree(settings.stack_dir / "faust" / app_id, ignore_errors=True)
    say(f"removed topics, indices and template of {settings.es_alias}")
