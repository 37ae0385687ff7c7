"""What `newsflow stack up --kafka-brokers N --es-nodes M` adds on top of the lifecycle: the
layout asked for, and the client settings that name every node of it."""

from __future__ import annotations

from pathlib import Path

from newsflow.core.settings import get_settings
from newsflow.stack.cluster import Layout, bootstrap_servers, read_layout
from newsflow.stack.config import StackConfig, StackError


def requested_layout(
    stack_dir: Path | None, kafka_brokers: int | None, es_nodes: int | None
) -> Layout | None:
    """None when neither count is given (keep the directory's layout); a count not given is
    the directory's (else 1)."""
    if kafka_brokers is None and es_nodes is None:
        return None
    cfg = StackConfig.from_settings(get_settings(), stack_dir)
    stored = read_layout(cfg.stack_dir) or Layout()
    try:
        return Layout(kafka_brokers or stored.kafka_brokers, es_nodes or stored.es_nodes)
    except ValueError as exc:
        raise StackError(str(exc)) from None


def client_settings(cfg: StackConfig) -> dict[str, str]:
    """NEWSFLOW_* values that list every node, so clients start even while one node is down."""
    es_urls = ",".join(cfg.address(m) for m in cfg.layout.members("elasticsearch"))
    return {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(
            cfg.kafka_port, cfg.layout.kafka_brokers
        ),
        "NEWSFLOW_ES_URL": es_urls,
    }


def cluster_hint(stack_dir: Path | None) -> str | None:
    """For a multi-node stack: the exports that point clients at all of its nodes."""
    cfg = StackConfig.from_settings(get_settings(), stack_dir)
    if cfg.layout == Layout():
        return None
    exports = " ".join(f"{k}={v}" for k, v in client_settings(cfg).items())
    return (
        f"{cfg.layout.kafka_brokers} Kafka broker(s), {cfg.layout.es_nodes} Elasticsearch "
        f"node(s). Point clients at all of them:\n  export {exports}"
    )
