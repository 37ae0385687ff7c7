"""``run_bench``: the whole run, stage after stage, on private topics and a private index."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import orjson

from newsflow.bench.extra import (
    extra_workers,
    offline_enrichment,
    replay_worker,
    wait_group_stable,
)
from newsflow.bench.metrics import POLL_SECONDS, Say, VisibilityTracker, median_interval
from newsflow.bench.options import BenchOptions, corpus_files, direct_index_name, private_settings
from newsflow.bench.report import Timeline, build_report, busy_while_working, side_by_side
from newsflow.bench.stages import (
    cleanup,
    direct_bulk,
    produce_corpus,
    read_enriched,
    replay_indexer,
    wait_accounted,
    wait_until_settled,
)
from newsflow.bench.watchers import KafkaWatcher, ProcSampler, SearchWatcher
from newsflow.core.settings import Settings


def sharing_the_machine(base: Settings) -> dict[str, int]:
    """Pids of the local stack's services that run (none for a remote cluster) and of this
    process (its producer and its pollers)."""
    from newsflow import stack

    pids = {s.name: s.pid for s in stack.status(base) if s.is_up and s.pid}
    return {**pids, "bench": os.getpid()}


def cores_while(samplers: list[ProcSampler], start: float,
                end: float) -> dict[str, float | int | None]:
    """Cores each sampled process used between ``start`` and ``end``, their total, and what the
    whole machine used (the difference is everything unsampled: the kernel, other jobs)."""
    shares = {name: round(v, 3) for s in samplers for name, v in s.busy(start, end).items()
              if v is not None}
    machine = shares.pop("machine", None)
    return {**shares, "sampled_total": round(sum(shares.values()), 3),
            "machine": machine, "machine_cores": os.cpu_count()}


def run_bench(base: Settings, options: BenchOptions, say: Say) -> dict[str, Any]:
    """One full benchmark run; returns the report (see ``newsflow bench --json``)."""
    from newsflow import stack
    from newsflow.provision import run_setup
    from newsflow.runner import child_processes, start_local_stack_if_needed

    files = corpus_files(options.corpus)
    suffix = uuid.uuid4().hex[:8]
    settings = private_settings(base, suffix)
    log_dir = base.stack_dir / "logs" / f"bench-{suffix}"
    started_stack = start_local_stack_if_needed(base, say)
    tracker = VisibilityTracker()
    tl = Timeline()
    try:
        for line in run_setup(settings):
            say(line)
        kafka_w = KafkaWatcher(settings, tracker)
        search_w = SearchWatcher(settings, tracker)
        try:
            with (child_processes(settings, say, log_dir=log_dir, web_port=0) as children,
                  extra_workers(settings, options.workers - 1, log_dir) as more):
                # Produce only once both groups hold their partitions: a first join (three
                # seconds of the broker's initial rebalance delay, more on a fresh broker) is
                # start-up, not latency or throughput of the pipeline.
                wait_group_stable(settings, options.workers)
                wait_group_stable(settings, 1, group_id=settings.indexer_group)
                procs = ProcSampler({"worker": children[0].pid, "indexer": children[1].pid,
                                     **more})
                # Everything else that shares the cores: where the CPU went is what explains
                # a worker slower in the pipeline than alone.
                others = ProcSampler(sharing_the_machine(base), family=False, machine=True)
                samplers = [procs.thread, others.thread, kafka_w.thread, search_w.thread]
                for s in samplers:
                    s.start()
                try:
                    tl.produce_start, tl.produce_end, tl.sent, tl.rejected = produce_corpus(
                        settings, files, options.limit, tracker, options.progress, options.rate)
                    say(f"produced {tl.sent} articles ({tl.rejected} rejected) in "
                        f"{tl.produce_end - tl.produce_start:.1f} s; waiting until searchable")
                    wait_accounted(tracker, children, [kafka_w, search_w],
                                    options.stall_seconds, options.progress, log_dir)
                    # One more round so the series end on their final values.
                    time.sleep(2 * POLL_SECONDS)
                finally:
                    for s in samplers:
                        s.stop()
        finally:
            kafka_w.close()
            search_w.close()
        # The children are stopped: the ceiling gets the machine to itself, as a bulk
        # loader would, and does not steal CPU from the pipeline it is compared with.
        # Each ceiling and replay starts on a settled cluster (see wait_until_settled), so that
        # none of them pays for the merges of the one before.
        settled: dict[str, float] = {}
        say("pipeline done; replaying the raw topic through a fresh worker")
        settled["worker_replay"] = wait_until_settled(settings, say)
        worker_alone = replay_worker(settings, log_dir, options.stall_seconds, options.progress)
        say("replaying the enriched topic through a fresh indexer")
        settled["indexer_replay"] = wait_until_settled(settings, say)
        replay = replay_indexer(settings, tracker.n_visible, log_dir, options.stall_seconds,
                                 options.progress)
        say("measuring the direct helpers.bulk ceiling")
        docs = read_enriched(settings)
        settled["direct_bulk"] = wait_until_settled(settings, say)
        direct = direct_bulk(settings, docs)
        del docs
        offline = None
        if options.offline:
            say("enriching the same articles offline (`newsflow enrich`, no Kafka)")
            settled["offline"] = wait_until_settled(settings, say)
            offline = offline_enrichment(settings, files, options.limit, log_dir)
        report = build_report(tl, tracker, kafka_w.series, search_w.series,
                              median_interval(search_w.thread.poll_times), direct,
                              procs.peak_mb(), replay)
        report["cpu_cores_busy"] = busy_while_working(procs, report, tl.produce_start)
        enrich_row = report["stages"].get("enrich") or {}
        if "from" in enrich_row:
            busy = procs.busy(tl.produce_start + enrich_row["from"],
                              tl.produce_start + enrich_row["to"])
            report["cpu_cores_busy"]["workers"] = round(sum(
                v or 0.0 for k, v in busy.items() if k.startswith("worker")), 3)
            report["cpu_cores_busy_while_enriching"] = cores_while(
                [procs, others], tl.produce_start + enrich_row["from"],
                tl.produce_start + enrich_row["to"])
        report["offline_enrichment"] = offline
        report["worker_replay"] = worker_alone
        report["ratios"] = side_by_side(report, offline)
        if options.series_path is not None:
            options.series_path.write_bytes(orjson.dumps({
                "origin": tl.produce_start, "enrich": kafka_w.series, "index": search_w.series,
                "cpu": procs.cpu_series}))
        report["run"] = {"suffix": suffix, "alias": settings.es_alias, "logs": str(log_dir),
                         "kept": options.keep, "produce_rate": options.rate,
                         "workers": options.workers,
                         "indexer_batch_size": settings.indexer_batch_size,
                         "indexer_batch_seconds": settings.indexer_batch_seconds,
                         "settle_seconds": settled}
        return report
    finally:
        if not options.keep:
            cleanup(settings, say)
        else:
            say(f"kept topics bench{suffix}.*, alias {settings.es_alias} and "
                f"{direct_index_name(settings)}")
        if started_stack and not options.keep:
            stack.stack_down(base, say=say)
