"""Elasticsearch specifics: the node's home, the launcher's command line, health and version."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from newsflow.stack.build import java_major
from newsflow.stack.cluster import es_member_args, split_member
from newsflow.stack.config import ELASTICSEARCH, ES_MAIN_CLASS, StackConfig
from newsflow.stack.kafka import jvm_common_args


def es_home(cfg: StackConfig, node: str = ELASTICSEARCH) -> Path:
    return cfg.service_dir(node) / "node"


def es_argv(cfg: StackConfig, java: Path, node: str = ELASTICSEARCH) -> list[str]:
    """``node``: a member of a multi-node stack (``elasticsearch-2``): newsflow.stack.cluster."""
    http_port, transport_port = cfg.ports(node)
    # JDK 22+ warns on every start that ES (Lucene, native libs) uses restricted methods.
    native = ["--enable-native-access=ALL-UNNAMED"] if (java_major(java) or 0) >= 22 else []
    return [
        str(java),
        *jvm_common_args(cfg, node, cfg.es_heap),
        *native,
        "-cp",
        f"{cfg.lib_dir(ELASTICSEARCH)}/*",
        ES_MAIN_CLASS,
        "--home",
        str(es_home(cfg, node)),
        "--host",
        "127.0.0.1",
        "--port",
        str(http_port),
        # Pinned (not the 9300-9399 default range) so the port check before start is exact.
        "--transport-port",
        str(transport_port),
        *es_member_args(cfg.es_transport_port, cfg.layout.es_nodes, split_member(node)[1]),
    ]


@dataclass(frozen=True)
class HttpReply:
    status: int
    headers: Mapping[str, str]
    body: Any


def http_get_json(url: str, timeout: float = 5.0) -> HttpReply | None:
    """GET a JSON endpoint; None when nothing answers. HTTP error statuses are replies too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return HttpReply(resp.status, dict(resp.headers.items()), json.loads(resp.read()))
    except urllib.error.HTTPError as exc:
        try:
            body = json.loads(exc.read())
        except ValueError:
            body = None
        return HttpReply(exc.code, dict(exc.headers.items()), body)
    except (OSError, ValueError):
        return None


def es_ready(cfg: StackConfig, timeout: float = 5.0, node: str = ELASTICSEARCH) -> bool:
    """LAUNCH.md's readiness: cluster health reaches yellow (or green), asked of ``node`` (a
    node that has not joined its cluster yet answers 503)."""
    url = f"{cfg.address(node)}/_cluster/health?wait_for_status=yellow&timeout=1s"
    reply = http_get_json(url, timeout)
    return (
        reply is not None
        and reply.status == 200
        and isinstance(reply.body, dict)
        and reply.body.get("status") in ("yellow", "green")
    )


def es_version(cfg: StackConfig, node: str = ELASTICSEARCH) -> str | None:
    reply = http_get_json(f"{cfg.address(node)}/", timeout=5.0)
    if reply is None or reply.status != 200 or not isinstance(reply.body, dict):
        return None
    version = reply.body.get("version", {}).get("number")
    return str(version) if version else None
