"""How many copies of each Kafka record, and how many must have it before a write counts:
one policy for the topics ``newsflow setup`` creates and for the brokers of a local cluster.

Producers write with ``acks=all`` (newsflow.core.clients): the leader answers only once every
in-sync replica has the record, and ``min.insync.replicas`` says how few in-sync replicas still
accept writes. With three copies and a minimum of two, one broker may fail (or restart) without
losing an acknowledged record or stopping the pipeline; a second failure stops writes (the
producers retry) rather than accept records that one more crash would lose.
"""

from __future__ import annotations

MAX_REPLICATION = 3


def replication_factor(brokers: int) -> int:
    """Copies per partition: three where there are three brokers, else one per broker."""
    return max(1, min(MAX_REPLICATION, brokers))


def min_insync_replicas(replicas: int) -> int:
    """2 once three copies exist; 1 below that, because with two copies a minimum of two would
    stop every write while either broker is down."""
    return 2 if replicas >= 3 else 1
