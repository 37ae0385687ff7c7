"""Several nodes from the same jars: a KRaft Kafka cluster of N combined broker+controller nodes
and an Elasticsearch cluster of M nodes (``newsflow stack up --kafka-brokers 3 --es-nodes 2``).

Layout arithmetic (no I/O except the layout file), imported by ``config``:

* Member names: the first node keeps the single-node name (``kafka``, ``elasticsearch``) so a
  one-node stack directory is unchanged; the others are ``kafka-2``, ``kafka-3``,
  ``elasticsearch-2``. Each member has its own ``<stack>/<member>/`` (data, rendered config),
  log and pid file; the jars stay shared in ``<stack>/kafka/lib`` and ``<stack>/elasticsearch/lib``.
* Ports: broker i (0-based) listens on ``base + 2i`` and its controller on ``base + 2i + 1``
  (9092/9093, 9094/9095, 9096/9097); Elasticsearch node i serves HTTP on ``http + i`` and
  transport on ``transport + i`` (9200/9300, 9201/9301).
* Replication: the brokers' internal topics and their defaults follow
  newsflow.core.replication (``min(3, brokers)`` copies, ``min.insync.replicas`` 2 from three).
* Elasticsearch: node 1 is the only master-eligible node (two master-eligible nodes cannot
  lose either one without losing the quorum); the others are data nodes that join it. Stopping a
  data node keeps the cluster serving (the index template's ``auto_expand_replicas: 0-1`` keeps
  a copy of every shard on each of two nodes); stopping node 1 stops the cluster.
* ``<stack>/cluster.json`` remembers the layout a directory was started with, so ``status``,
  ``down`` and a later ``up`` without options address the same members.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from newsflow.core.replication import min_insync_replicas, replication_factor

KAFKA_KIND = "kafka"
ES_KIND = "elasticsearch"
KINDS = (KAFKA_KIND, ES_KIND)
LAYOUT_FILE = "cluster.json"
ES_NODE_NAME = "newsflow-es"  # EsLauncher's default --node-name
MAX_MEMBERS = 9  # ports are spaced for it; more JVMs would not fit a laptop anyway


@dataclass(frozen=True)
class Layout:
    kafka_brokers: int = 1
    es_nodes: int = 1

    def __post_init__(self) -> None:
        for what, count in (("Kafka brokers", self.kafka_brokers), ("ES nodes", self.es_nodes)):
            if not 1 <= count <= MAX_MEMBERS:
                raise ValueError(f"{what}: {count} (1 to {MAX_MEMBERS})")

    def count(self, kind: str) -> int:
        return self.kafka_brokers if kind == KAFKA_KIND else self.es_nodes

    def members(self, kind: str) -> list[str]:
        return [member_name(kind, i) for i in range(self.count(kind))]


def member_name(kind: str, index: int) -> str:
    return kind if index == 0 else f"{kind}-{index + 1}"


def split_member(name: str) -> tuple[str, int]:
    """``kafka-2`` -> (``kafka``, 1); ``elasticsearch`` -> (``elasticsearch``, 0)."""
    kind, _, number = name.rpartition("-")
    if kind in KINDS and number.isdigit() and int(number) >= 2:
        return kind, int(number) - 1
    if name in KINDS:
        return name, 0
    raise ValueError(f"not a stack member: {name!r}")


def kind_of(name: str) -> str:
    return split_member(name)[0]


def kafka_member_ports(base: int, index: int) -> tuple[int, int]:
    """(broker, controller) ports of broker ``index``."""
    return base + 2 * index, base + 2 * index + 1


def es_member_ports(http_base: int, transport_base: int, index: int) -> tuple[int, int]:
    return http_base + index, transport_base + index


def quorum_voters(base: int, brokers: int) -> str:
    return ",".join(f"{i + 1}@127.0.0.1:{kafka_member_ports(base, i)[1]}" for i in range(brokers))


def kafka_member_properties(base: int, brokers: int, index: int) -> dict[str, str]:
    """What a member of an N-broker cluster sets on top of the single-node template (rendered
    after it: in a Java .properties file the last occurrence of a key wins)."""
    if brokers == 1:
        return {}
    replicas = replication_factor(brokers)
    isr = min_insync_replicas(replicas)
    return {
        "node.id": str(index + 1),
        "controller.quorum.voters": quorum_voters(base, brokers),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(isr),
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(isr),
        # Give a restarted broker its leaderships back once it has caught up.
        "auto.leader.rebalance.enable": "true",
    }


def render_overrides(properties: dict[str, str]) -> str:
    if not properties:
        return ""
    lines = [f"{key}={value}" for key, value in properties.items()]
    return "\n# Cluster member settings (newsflow.stack.cluster)\n" + "\n".join(lines) + "\n"


def es_member_args(transport_base: int, nodes: int, index: int) -> list[str]:
    """EsLauncher arguments that turn the single-node default into a member of ``nodes``."""
    name = ES_NODE_NAME if index == 0 else f"{ES_NODE_NAME}-{index + 1}"
    if nodes == 1:
        return ["--node-name", name]
    seeds = ",".join(f"127.0.0.1:{transport_base + i}" for i in range(nodes))
    args = ["--node-name", name, "-E", "discovery.type=multi-node"]
    args += ["-E", f"discovery.seed_hosts={seeds}"]
    if index == 0:
        args += ["-E", f"cluster.initial_master_nodes={ES_NODE_NAME}"]
    else:
        args += ["-E", "node.roles=data"]
    return args


def read_layout(stack_dir: Path) -> Layout | None:
    path = stack_dir / LAYOUT_FILE
    try:
        data = json.loads(path.read_text())
        return Layout(int(data["kafka_brokers"]), int(data["es_nodes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_layout(stack_dir: Path, layout: Layout) -> None:
    stack_dir.mkdir(parents=True, exist_ok=True)
    data = {"kafka_brokers": layout.kafka_brokers, "es_nodes": layout.es_nodes}
    (stack_dir / LAYOUT_FILE).write_text(json.dumps(data) + "\n")


def layout_change_problem(stack_dir: Path, stored: Layout | None, wanted: Layout) -> str | None:
    """Why ``wanted`` cannot be started in a directory that already holds data of another
    layout: a KRaft quorum's voters are fixed when the storage is formatted."""
    if stored is None or stored == wanted:
        return None
    return (
        f"{stack_dir} holds a stack of {stored.kafka_brokers} Kafka broker(s) and "
        f"{stored.es_nodes} Elasticsearch node(s); it cannot become {wanted.kafka_brokers} and "
        f"{wanted.es_nodes}. Use another directory (--dir or NEWSFLOW_STACK_DIR) with its own "
        "ports, or `newsflow stack down` and delete the directory first."
    )


def bootstrap_servers(base: int, brokers: int) -> str:
    """The client setting that lists every broker (a client can then start while any one of
    them is down)."""
    return ",".join(f"127.0.0.1:{kafka_member_ports(base, i)[0]}" for i in range(brokers))
