"""What every command shares: one-line errors for the failures users meet most."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

F = TypeVar("F", bound=Callable[..., Any])

# Which services a command connects to: checked up front (newsflow.core.preflight) so that a
# wrong password, CA or protocol fails in a second with a line naming the setting.
PREFLIGHT: dict[str, tuple[str, ...]] = {
    "setup": ("kafka", "es"),
    "produce": ("kafka",),
    "worker": ("kafka", "es"),
    "index": ("kafka", "es"),
    "lag": ("kafka",),
    "reindex": ("kafka", "es"),
    "run": ("kafka", "es"),
    "search": ("es",),
    "bench": ("kafka", "es"),
    "subscribe": ("kafka",),
    "serve": ("kafka", "es"),
    "serve-bench": ("es",),
}


def preflight(command: str | None) -> None:
    """Check the connection settings a command needs; the plaintext local defaults are left to
    the commands (they may start the local stack). Raises ConnectionSettingsError."""
    from newsflow.core import preflight as checks
    from newsflow.core.settings import LOCAL_ES, LOCAL_KAFKA, get_settings

    services = PREFLIGHT.get(command or "", ())
    if not services:
        return
    settings = get_settings()
    local_kafka = settings.kafka_bootstrap_servers == LOCAL_KAFKA
    if "kafka" in services and not (
        local_kafka and settings.kafka_security_protocol == "PLAINTEXT"
    ):
        checks.check_kafka(settings)
    if "es" in services and settings.es_url != LOCAL_ES:
        checks.check_elasticsearch(settings)


def checked_first(command: str, func: F) -> F:
    """``func`` (a command) runs ``preflight(command)`` first; --help never gets that far."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        preflight(command)
        return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def settings_error(exc: BaseException) -> str | None:
    """One line for invalid NEWSFLOW_* values (never echoing the value: it may be a secret)."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError) or exc.title != "Settings":
        return None
    parts = []
    for error in exc.errors(include_input=False, include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        field = "_".join(str(p) for p in error["loc"]).upper()
        parts.append(f"NEWSFLOW_{field}: {message}" if field else message)
    return "invalid settings: " + "; ".join(parts)


def _security_message(exc: BaseException) -> str | None:
    """Authentication and TLS failures raised by the clients themselves (after preflight)."""
    from elastic_transport import TlsError
    from elasticsearch import AuthenticationException
    from kafka.errors import SaslAuthenticationFailedError

    from newsflow.core.preflight import ConnectionSettingsError

    if isinstance(exc, ConnectionSettingsError):
        return str(exc)
    if isinstance(exc, SaslAuthenticationFailedError):
        return (
            "Kafka refused the SASL login; check NEWSFLOW_KAFKA_SASL_PASSWORD (and "
            "NEWSFLOW_KAFKA_SASL_USERNAME, NEWSFLOW_KAFKA_SASL_MECHANISM)"
        )
    if isinstance(exc, AuthenticationException):
        return (
            "Elasticsearch rejected the credentials (401); check NEWSFLOW_ES_API_KEY (or "
            "NEWSFLOW_ES_USERNAME and NEWSFLOW_ES_PASSWORD)"
        )
    if isinstance(exc, TlsError):
        return (
            f"Elasticsearch TLS failed ({exc.message}); check NEWSFLOW_ES_CA_FILE and "
            "NEWSFLOW_ES_URL"
        )
    return None


def friendly_message(exc: BaseException) -> str | None:
    """A one-line explanation for the errors users meet most: a service that is not there, or a
    configuration error whose message already says what to fix. None: not one of those."""
    from elasticsearch import ConnectionError as ESConnectionError
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from newsflow.core.sanitize import redact_url
    from newsflow.core.settings import get_settings

    message = settings_error(exc) or _security_message(exc)
    if message:
        return message
    settings = get_settings()
    hint = "is the stack running? (`newsflow stack up`)"
    if isinstance(exc, KafkaConnectionError) or (
        isinstance(exc, KafkaTimeoutError) and "bootstrap" in str(exc)
    ):
        return (
            f"Kafka at {settings.kafka_bootstrap_servers} is unreachable; {hint} "
            "or set NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS"
        )
    if isinstance(exc, ESConnectionError):
        return (
            f"Elasticsearch at {redact_url(settings.es_url)} is unreachable; {hint} "
            "or set NEWSFLOW_ES_URL"
        )
    if type(exc).__name__ in ("TaxonomyError", "CamelDataMissing", "ReplicationSettingError"):
        return str(exc)
    return None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``newsflow: message`` to stderr; raise the returned Exit."""
    typer.echo(f"newsflow: {message}", err=True)
    return typer.Exit(code)


# glibc's M_ARENA_MAX (malloc.h). glibc gives every thread that allocates its own arena (up to
# 8 per core); the worker (event loop, enrichment thread, Faust's consumer thread) and the
# indexer (bulk thread, kafka-python's threads) each kept ~20 MB of half-empty arenas that way.
_M_ARENA_MAX = -8
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; call before starting threads. An explicit
    ``MALLOC_ARENA_MAX`` in the environment wins. False where it does not apply (not glibc)."""
    import ctypes
    import ctypes.util
    import os

    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):  # musl, macOS: no mallopt
        return False
