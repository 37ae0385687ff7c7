"""The local Kafka + Elasticsearch stack, run from Maven Central jars without Docker.

Everything lives under one stack directory (``settings.stack_dir``, default ``<repo>/.stack``)::

    kafka/lib/            jars copied by deploy/kafka/pom.xml
    kafka/data/           KRaft log dir (formatted once)
    kafka/server.properties, kafka/cluster.id
    elasticsearch/lib/    jars + launcher built by deploy/elasticsearch/pom.xml
    elasticsearch/node/   the node's home (data, logs, config)
    logs/<service>.log    stdout+stderr of each JVM; logs/build-<service>.log for Maven
    run/<service>.pid     pid files; run/stack.lock serialises concurrent up/down

Ports come from the client settings (``kafka_bootstrap_servers``, ``es_url``) so the stack always
serves exactly what the rest of newsflow connects to; the Kafka controller listens on the broker
port + 1 and the Elasticsearch transport on the HTTP port + 100.

Every JVM we start carries ``-Dnewsflow.stack.dir=<dir>`` and ``-Dnewsflow.stack.service=<name>``
on its command line: that is how our processes are told apart from anyone else's, even when a pid
file is stale or missing.

Modules, in the order a start goes through them: ``config`` (paths, ports, services), ``build``
(JDK, Maven class paths), ``kafka`` / ``elasticsearch`` (service specifics), ``processes`` (our
JVMs, pid files, ports), ``lifecycle`` (status, up, down); ``files`` and ``formats`` are helpers.
This package exports what the CLI, the runner and the bench use.
"""

from newsflow.stack.config import DEPLOY_DIR, SERVICES, StackConfig, StackError
from newsflow.stack.files import follow, tail_lines
from newsflow.stack.lifecycle import ServiceStatus, ensure_up, is_up, stack_down, status

__all__ = [
    "DEPLOY_DIR",
    "SERVICES",
    "ServiceStatus",
    "StackConfig",
    "StackError",
    "ensure_up",
    "follow",
    "is_up",
    "stack_down",
    "status",
    "tail_lines",
]
