"""The one place that turns ``Settings`` into client configurations: kafka-python (producers,
consumers, admin), aiokafka through Faust, and elasticsearch-py. Security settings (SASL, TLS,
API keys) are mapped here and nowhere else, so every client connects the same way."""

from __future__ import annotations

import functools
import ssl
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from newsflow.core.deadletter import DLQ_MAX_BYTES
from newsflow.core.redact import register_secret
from newsflow.core.settings import Settings

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch


def _secret(value: SecretStr) -> str:
    """The plain value for a client, registered first so that no log line can show it."""
    plain = value.get_secret_value()
    register_secret(plain)
    return plain


def kafka_config(settings: Settings) -> dict[str, Any]:
    """Connection keywords shared by kafka-python producers, consumers and admin clients."""
    cfg: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        cfg["sasl_mechanism"] = settings.kafka_sasl_mechanism
        cfg["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            cfg["sasl_plain_password"] = _secret(settings.kafka_sasl_password)
    if settings.kafka_ssl_cafile:
        cfg["ssl_cafile"] = str(settings.kafka_ssl_cafile)
    if settings.kafka_ssl_certfile:
        cfg["ssl_certfile"] = str(settings.kafka_ssl_certfile)
    if settings.kafka_ssl_keyfile:
        cfg["ssl_keyfile"] = str(settings.kafka_ssl_keyfile)
    return cfg


# Producer tuning shared by every producer of ours, whichever library sends.
PRODUCER_COMPRESSION = "lz4"
# Dead letters carry the whole original record, which may be far larger than an article.
PRODUCER_MAX_REQUEST_BYTES = DLQ_MAX_BYTES


def kafka_producer_config(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """kafka-python producer: every write acknowledged by all in-sync replicas, idempotent (no
    duplicates from its own retries), compressed, large requests allowed."""
    cfg: dict[str, Any] = {
        **kafka_config(settings),
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": PRODUCER_COMPRESSION,
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_request_size": PRODUCER_MAX_REQUEST_BYTES,
        "retries": 2**31 - 1,
    }
    cfg.update(overrides)
    return cfg


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context aiokafka (Faust) uses: the same CA, certificate and key files that
    kafka-python gets as paths; hostname checking on, like kafka-python's default."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(
        cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
    )
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(
            str(settings.kafka_ssl_certfile), str(settings.kafka_ssl_keyfile or "") or None
        )
    return context


def registered_password(settings: Settings) -> str | None:
    """The SASL password for clients that take it directly (aiokafka), registered for redaction."""
    password = settings.kafka_sasl_password
    return _secret(password) if password is not None else None


# aiokafka >= 0.11 compresses lz4 at level 9 (LZ4-HC, ~12 MB/s here) and offers no setting for
# it (aiokafka#1028, fix pending in #1121). Our worker writes every article two or three times
# (stage envelope, enriched, label copies): at level 9 compression was a fifth of the worker's
# CPU. Level 1 is the fast mode python-lz4 used before (~280 MB/s); the frames are the same
# format, so every consumer reads them unchanged.
AIOKAFKA_LZ4_LEVEL = 1


def use_fast_aiokafka_lz4(level: int = AIOKAFKA_LZ4_LEVEL) -> None:
    """Point aiokafka's record builders (C and pure Python) at lz4 of ``level``. Idempotent."""
    import importlib

    from aiokafka import codec

    fast = functools.partial(codec.lz4_encode, level=level)
    for name in ("aiokafka.record.default_records", "aiokafka.record.legacy_records",
                 "aiokafka.record._crecords.default_records",
                 "aiokafka.record._crecords.legacy_records"):
        try:
            module = importlib.import_module(name)
        except ImportError:  # built without the C extensions
            continue
        if hasattr(module, "lz4_encode"):
            module.lz4_encode = fast  # type: ignore[attr-defined]


def faust_broker_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``faust.App`` that say how to reach and write to the brokers
    (aiokafka underneath). The producer tuning mirrors ``kafka_producer_config``, lz4 at the
    same fast level included (``use_fast_aiokafka_lz4``)."""
    from faust.auth import SASLCredentials, SSLCredentials

    use_fast_aiokafka_lz4()

    context = kafka_ssl_context(settings)
    credentials: Any = None
    if settings.kafka_sasl_mechanism:
        credentials = SASLCredentials(
            username=settings.kafka_sasl_username,
            password=registered_password(settings),
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    elif context is not None:
        credentials = SSLCredentials(context)
    return {
        "broker": [f"kafka://{s}" for s in settings.kafka_bootstrap_servers.split(",")],
        "broker_credentials": credentials,
        "producer_acks": -1,
        "producer_compression_type": PRODUCER_COMPRESSION,
        "producer_max_request_size": PRODUCER_MAX_REQUEST_BYTES,
        # An enriched article is ~20 KiB, more than aiokafka's default 16 KiB batch: every send
        # would wait for the previous one to drain. Batches of ~1 MiB let a batch of sends fly.
        "producer_max_batch_size": 1024 * 1024,
        "producer_linger": 0.005,
    }


def es_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``elasticsearch.Elasticsearch``."""
    kw: dict[str, Any] = {
        "hosts": settings.es_url.split(","),
        "request_timeout": settings.es_request_timeout,
    }
    if settings.es_api_key is not None:
        kw["api_key"] = es_api_key(_secret(settings.es_api_key))
    elif settings.es_username:
        password = _secret(settings.es_password) if settings.es_password else ""
        kw["basic_auth"] = (settings.es_username, password)
    if settings.es_ca_file:
        kw["ca_certs"] = str(settings.es_ca_file)
    if not settings.es_verify_certs:
        kw["verify_certs"] = False
    return kw


def es_api_key(value: str) -> str | tuple[str, str]:
    """An API key as Elastic hands it out: the "encoded" form (base64 of ``id:key``, sent as is)
    or ``id:key`` as shown beside it (":" never occurs in base64), which the client encodes."""
    key_id, sep, key = value.strip().partition(":")
    return (key_id, key) if sep else value.strip()


def elasticsearch_client(settings: Settings, **overrides: Any) -> Elasticsearch:
    from elasticsearch import Elasticsearch

    return Elasticsearch(**{**es_config(settings), **overrides})
