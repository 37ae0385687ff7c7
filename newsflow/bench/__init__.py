"""``newsflow bench``: SaudiNewsNet end to end through real Kafka and Elasticsearch, measured from
the outside, plus the direct ``helpers.bulk`` ceiling for the same documents in the same run.

Every stage is observed externally and side by side, so the numbers describe the pipeline users
run (the same ``newsflow worker`` / ``newsflow index`` child processes as ``newsflow run``):

* produce: the producer's wall time, reading the corpus included (that is what a scraper pays);
* enrich: end offsets of the private enriched + DLQ topics, sampled every ``POLL_SECONDS``;
* index: ``count`` on the private alias, sampled on the same clock. ``count`` only sees refreshed
  segments, so "indexed" here means "searchable", which is what a reader cares about;
* produce -> searchable latency per article: the send time of each id, and the first poll in
  which an ``ids`` query returns it.

Modules: ``metrics`` (pure: percentiles, rates, visibility bookkeeping), ``options``,
``watchers`` (samplers of processes, topics and the index), ``stages``, ``run``, ``report``.
"""

from newsflow.bench.metrics import BenchError
from newsflow.bench.options import BenchOptions
from newsflow.bench.run import run_bench

__all__ = ["BenchError", "BenchOptions", "run_bench"]
