"""``newsflow stack``: the local Kafka + Elasticsearch stack (see newsflow/stack.py)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from newsflow.cli.base import fail

stack_app = typer.Typer(
    help="Local Kafka + Elasticsearch from Maven Central jars (no Docker).",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path | None,
    typer.Option(
        "--dir",
        help="stack directory (jars, data, logs, pids); default: NEWSFLOW_STACK_DIR, <repo>/.stack",
        show_default=False,
    ),
]
SecureOption = Annotated[
    bool,
    typer.Option(
        "--secure",
        help="the SECURE local test stack instead: Kafka SASL_SSL/mTLS only, Elasticsearch via "
        "an HTTPS+auth test proxy; own dir (--dir, default <stack dir>/secure) and ports "
        "(29093-29095, 29443); writes client settings to <dir>/{scram,plain,mtls}.env",
    ),
]
OnlyOption = Annotated[
    str | None,
    typer.Option(
        "--only",
        help="kafka, elasticsearch, or one node such as kafka-2 (default: everything)",
        show_default=False,
    ),
]


def _print_table(statuses: list[object]) -> None:
    from rich.console import Console
    from rich.table import Table

    from newsflow.stack import ServiceStatus

    colours = {"up": "green", "down": "red", "unhealthy": "yellow"}
    table = Table(title="newsflow stack")
    for column in ("service", "address", "pid", "health", "version", "detail"):
        table.add_column(column)
    for st in statuses:
        assert isinstance(st, ServiceStatus)
        table.add_row(
            st.name,
            st.address,
            str(st.pid) if st.pid else "-",
            f"[{colours[st.health]}]{st.health}[/]",
            st.version or "-",
            st.detail,
        )
    Console().print(table)


@stack_app.command("up")
def up_cmd(
    directory: DirOption = None,
    only: OnlyOption = None,
    secure: SecureOption = False,
    kafka_brokers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=9,
            show_default=False,
            help="KRaft brokers, ports base, base+2, ... (default: as last started, else 1)",
        ),
    ] = None,
    es_nodes: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=9,
            show_default=False,
            help="Elasticsearch nodes, ports base, base+1, ... (default: as last started, else 1)",
        ),
    ] = None,
) -> None:
    """Build jars if missing, start the services, wait until healthy (no-op if already up)."""
    from newsflow.stack import StackError, ensure_up, status
    from newsflow.stack.members import cluster_hint, requested_layout

    try:
        if secure:
            from newsflow.stack.secure import secure_stack, secure_status, secure_up

            stack = secure_stack(stack_dir=directory)
            secure_up(stack)
            _print_table(list(secure_status(stack)))
            return
        layout = requested_layout(directory, kafka_brokers, es_nodes)
        ensure_up(stack_dir=directory, only=only, layout=layout)
        _print_table(list(status(stack_dir=directory, only=only)))
    except StackError as exc:
        raise fail(str(exc)) from None
    hint = cluster_hint(directory)
    if hint:
        typer.echo(hint)


@stack_app.command("down")
def down_cmd(
    directory: DirOption = None,
    only: OnlyOption = None,
    grace: Annotated[float, typer.Option(help="seconds between SIGTERM and SIGKILL")] = 30.0,
    secure: SecureOption = False,
) -> None:
    """Stop the services (SIGTERM, then SIGKILL after the grace period)."""
    from newsflow.stack import StackError, stack_down

    try:
        if secure:
            from newsflow.stack.secure import secure_down, secure_stack

            secure_down(secure_stack(stack_dir=directory), grace=grace)
            return
        stack_down(stack_dir=directory, only=only, grace=grace)
    except StackError as exc:
        raise fail(str(exc)) from None


@stack_app.command("status")
def status_cmd(
    directory: DirOption = None, only: OnlyOption = None, secure: SecureOption = False
) -> None:
    """Show each service's address, pid, health and version; exit 1 unless all are up."""
    from newsflow.stack import StackError, status

    try:
        if secure:
            from newsflow.stack.secure import secure_stack, secure_status

            statuses = secure_status(secure_stack(stack_dir=directory))
        else:
            statuses = status(stack_dir=directory, only=only)
    except StackError as exc:
        raise fail(str(exc)) from None
    _print_table(list(statuses))
    if not all(s.is_up for s in statuses):
        raise typer.Exit(1)


@stack_app.command("logs")
def logs_cmd(
    service: Annotated[
        str, typer.Argument(help="kafka, elasticsearch, or build-kafka / build-elasticsearch")
    ],
    directory: DirOption = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="keep printing new lines")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", help="lines to show")] = 50,
) -> None:
    """Print the end of a service's log (the JVM's stdout and stderr)."""
    from newsflow.core.settings import get_settings
    from newsflow.stack import SERVICES, StackConfig, StackError, tail_lines
    from newsflow.stack import follow as follow_log

    name = "elasticsearch" if service == "es" else service
    try:
        cfg = StackConfig.from_settings(get_settings(), directory)
    except StackError as exc:
        raise fail(str(exc)) from None
    known = [*cfg.members(), *(f"build-{s}" for s in SERVICES)]
    if name not in known:
        raise fail(f"Unknown log {service!r}; choose from {', '.join(known)}.")
    path = cfg.log_file(name)
    if not path.exists() and not follow:
        raise fail(f"No log yet at {path} (has `newsflow stack up` run?).")
    for line in tail_lines(path, lines):
        typer.echo(line)
    if follow:
        with contextlib.suppress(KeyboardInterrupt):
            follow_log(path, sys.stdout)
