"""What every command shares: one-line errors for the failures users meet most."""

from __future__ import annotations

import typer


def friendly_message(exc: BaseException) -> str | None:
    """A one-line explanation for the errors users meet most: a service that is not there, or a
    configuration error whose message already says what to fix. None: not one of those."""
    from elasticsearch import ConnectionError as ESConnectionError
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError

    from newsflow.core.settings import get_settings

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
        return f"Elasticsearch at {settings.es_url} is unreachable; {hint} or set NEWSFLOW_ES_URL"
    if type(exc).__name__ in ("TaxonomyError", "CamelDataMissing"):
        return str(exc)
    return None


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``newsflow: message`` to stderr; raise the returned Exit."""
    typer.echo(f"newsflow: {message}", err=True)
    return typer.Exit(code)
