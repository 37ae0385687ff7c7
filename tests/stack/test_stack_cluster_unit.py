"""The multi-node layout of the local stack (newsflow.stack.cluster): names, ports, per-node
settings, the layout file; no JVM."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.topics import replication_for, topic_specs
from newsflow.core.replication import min_insync_replicas, replication_factor
from newsflow.core.settings import Settings
from newsflow.stack.cluster import (
    Layout,
    es_member_args,
    kafka_member_properties,
    layout_change_problem,
    read_layout,
    split_member,
    write_layout,
)
from newsflow.stack.config import StackConfig, StackError, local_port, selected_members
from newsflow.stack.kafka import write_kafka_properties


def _cfg(tmp_path: Path, layout: Layout) -> StackConfig:
    settings = Settings(
        stack_dir=tmp_path,
        kafka_bootstrap_servers="127.0.0.1:39092,127.0.0.1:39094",
        es_url="http://127.0.0.1:39200",
    )
    return StackConfig.from_settings(settings, layout=layout)


def _props(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value  # last occurrence wins, as in java.util.Properties
    return out


def test_members_ports_and_shared_jars(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, Layout(3, 2))
    assert cfg.members() == ["kafka", "kafka-2", "kafka-3", "elasticsearch", "elasticsearch-2"]
    assert [cfg.ports(m) for m in cfg.members()] == [
        (39092, 39093),
        (39094, 39095),
        (39096, 39097),
        (39200, 39300),
        (39201, 39301),
    ]
    assert cfg.lib_dir("kafka-3") == cfg.lib_dir("kafka") == tmp_path.resolve() / "kafka" / "lib"
    assert cfg.service_dir("kafka-3") == tmp_path.resolve() / "kafka-3"
    assert cfg.markers("kafka-2") != cfg.markers("kafka")


def test_selecting_members(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, Layout(3, 2))
    assert selected_members(cfg, "kafka") == ["kafka", "kafka-2", "kafka-3"]
    assert selected_members(cfg, "kafka-1") == ["kafka"]
    assert selected_members(cfg, ["es", "kafka-3"]) == [
        "kafka-3",
        "elasticsearch",
        "elasticsearch-2",
    ]
    with pytest.raises(StackError):
        selected_members(cfg, "kafka-7")
    assert split_member("elasticsearch-2") == ("elasticsearch", 1)
    with pytest.raises(ValueError):
        split_member("kafka-1")


def test_broker_properties_form_one_quorum(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, Layout(3, 1))
    third = _props(write_kafka_properties(cfg, "kafka-3").read_text())
    assert third["node.id"] == "3"
    assert third["controller.quorum.voters"] == (
        "1@127.0.0.1:39093,2@127.0.0.1:39095,3@127.0.0.1:39097"
    )
    assert third["listeners"] == "PLAINTEXT://127.0.0.1:39096,CONTROLLER://127.0.0.1:39097"
    assert third["log.dirs"] == str(tmp_path.resolve() / "kafka-3" / "data")
    assert third["offsets.topic.replication.factor"] == "3"
    assert third["min.insync.replicas"] == "2"
    single = _props(write_kafka_properties(_cfg(tmp_path / "one", Layout()), "kafka").read_text())
    assert single["node.id"] == "1" and single["offsets.topic.replication.factor"] == "1"
    assert kafka_member_properties(9092, 1, 0) == {}


def test_es_members_join_the_first_node() -> None:
    first = es_member_args(39300, 2, 0)
    second = es_member_args(39300, 2, 1)
    assert (
        "discovery.type=multi-node" in first and "cluster.initial_master_nodes=newsflow-es" in first
    )
    assert "discovery.seed_hosts=127.0.0.1:39300,127.0.0.1:39301" in second
    assert "node.roles=data" in second and "--node-name" in second
    assert not any(a.startswith("discovery") for a in es_member_args(9300, 1, 0))


def test_layout_file_and_changes(tmp_path: Path) -> None:
    assert read_layout(tmp_path) is None
    write_layout(tmp_path, Layout(3, 2))
    assert read_layout(tmp_path) == Layout(3, 2)
    assert StackConfig.from_settings(Settings(stack_dir=tmp_path)).layout == Layout(3, 2)
    assert layout_change_problem(tmp_path, Layout(3, 2), Layout(3, 2)) is None
    problem = layout_change_problem(tmp_path, Layout(1, 1), Layout(3, 1))
    assert problem and "NEWSFLOW_STACK_DIR" in problem
    with pytest.raises(ValueError):
        Layout(0, 1)


def test_clients_may_list_every_local_node() -> None:
    assert local_port("Kafka", "127.0.0.1:39092,localhost:39094", default=9092) == 39092


@pytest.mark.parametrize(("brokers", "factor", "isr"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)])
def test_replication_policy(brokers: int, factor: int, isr: int) -> None:
    assert replication_factor(brokers) == factor and min_insync_replicas(factor) == isr
    replication = replication_for(Settings(), brokers)
    assert (replication.factor, replication.min_insync) == (factor, isr)
    raw = topic_specs(Settings(), replication=replication)[0]
    assert raw.replication_factor == factor
    assert raw.topic_configs["min.insync.replicas"] == str(isr)


def test_replication_settings_are_checked_against_the_cluster() -> None:
    with pytest.raises(ValueError, match="3 broker"):
        replication_for(Settings(topic_replication=5), brokers=3)
    with pytest.raises(ValueError, match="every write would fail"):
        replication_for(Settings(topic_replication=2, topic_min_insync_replicas=3), brokers=3)
    assert replication_for(Settings(topic_replication=2), brokers=3).min_insync == 1
