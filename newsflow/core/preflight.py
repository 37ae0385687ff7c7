"""Fail fast, in one line, when a connection setting is wrong.

A wrong SASL password, an untrusted CA or a plaintext client in front of a TLS port are not
transient, yet the clients only retry: kafka-python sees its connection dropped and waits out its
bootstrap timeout, Faust retries forever. One direct connection attempt with the same settings
(aiokafka's connection, the library under Faust) tells these cases apart in well under a second.
A broker or node that does not answer at all is left to the clients (it may be starting)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from urllib.parse import urlsplit

from newsflow.core.clients import elasticsearch_client, kafka_ssl_context, registered_password
from newsflow.core.settings import Settings

PROTOCOL = "NEWSFLOW_KAFKA_SECURITY_PROTOCOL"


class ConnectionSettingsError(RuntimeError):
    """A connection setting is wrong; the message is one line that names the variable to fix."""


def _host_port(address: str, default_port: int) -> tuple[str, int]:
    first = address.split(",")[0].strip()
    parts = urlsplit(first if "://" in first else f"tcp://{first}")
    return parts.hostname or "127.0.0.1", parts.port or default_port


def _reachable(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def speaks_tls(host: str, port: int, timeout: float = 3.0) -> bool:
    """True when a TLS handshake (certificate not checked) completes on host:port."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def _requires_client_cert(settings: Settings, host: str, port: int) -> bool:
    """With TLS 1.3 a server that wants a client certificate completes the handshake and then
    sends an alert: read it (the client speaks first in Kafka, so silence means no alert)."""
    context = kafka_ssl_context(settings)
    if context is None:
        return False
    try:
        with (
            socket.create_connection((host, port), timeout=3.0) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.settimeout(2.0)
            tls.recv(1)
    except ssl.SSLError as exc:
        # OpenSSL names TLS 1.3's certificate_required; Java's server sends bad_certificate.
        return any(
            alert in str(exc).lower() for alert in ("certificate required", "bad certificate")
        )
    except OSError:
        return False
    return False


def _tls_failure(what: str, exc: ssl.SSLError, ca_var: str, cert_vars: str) -> str | None:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or "certificate verify failed"
        return (
            f"{what}: its TLS certificate is not trusted ({reason}); set {ca_var} to the CA "
            "certificate that signed it"
        )
    text = str(exc).lower()
    if "certificate required" in text or "certificate_required" in text:
        return f"{what} requires a client certificate; set {cert_vars}"
    if "wrong version number" in text or "record layer" in text or "unexpected eof" in text:
        return f"{what} does not speak TLS"
    return None


async def _kafka_connect(settings: Settings, host: str, port: int, timeout: float) -> None:
    from aiokafka.conn import create_conn

    conn = await create_conn(
        host,
        port,
        client_id="newsflow-preflight",
        request_timeout_ms=int(timeout * 1000),
        ssl_context=kafka_ssl_context(settings),
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism or "PLAIN",
        sasl_plain_username=settings.kafka_sasl_username,
        sasl_plain_password=registered_password(settings),
    )
    conn.close()


def _kafka_message(settings: Settings, exc: BaseException, host: str, port: int) -> str | None:
    from aiokafka.errors import SaslAuthenticationFailed, UnsupportedSaslMechanismError

    what = f"Kafka at {host}:{port}"
    protocol = settings.kafka_security_protocol
    if isinstance(exc, SaslAuthenticationFailed):
        return (
            f"{what} refused the SASL login of user {settings.kafka_sasl_username!r} "
            f"({settings.kafka_sasl_mechanism}); check NEWSFLOW_KAFKA_SASL_PASSWORD "
            "(and NEWSFLOW_KAFKA_SASL_USERNAME, NEWSFLOW_KAFKA_SASL_MECHANISM)"
        )
    if isinstance(exc, UnsupportedSaslMechanismError):
        mechanism = settings.kafka_sasl_mechanism
        return f"{what} does not offer SASL {mechanism}: {exc}; set NEWSFLOW_KAFKA_SASL_MECHANISM"
    if isinstance(exc, ssl.SSLError):
        message = _tls_failure(
            what,
            exc,
            "NEWSFLOW_KAFKA_SSL_CAFILE",
            "NEWSFLOW_KAFKA_SSL_CERTFILE and NEWSFLOW_KAFKA_SSL_KEYFILE",
        )
        if message and message.endswith("does not speak TLS"):
            plain = "SASL_PLAINTEXT" if protocol == "SASL_SSL" else "PLAINTEXT"
            return f"{message}; set {PROTOCOL}={plain} (it is {protocol})"
        return message
    if protocol in ("PLAINTEXT", "SASL_PLAINTEXT") and speaks_tls(host, port):
        wanted = "SASL_SSL" if protocol == "SASL_PLAINTEXT" else "SSL or SASL_SSL"
        return f"{what} expects TLS but {PROTOCOL} is {protocol}; set {PROTOCOL}={wanted}"
    closed = "closed" in str(exc).lower()
    if closed and protocol in ("SSL", "SASL_SSL") and _requires_client_cert(settings, host, port):
        if settings.kafka_ssl_certfile:
            return (
                f"{what} rejected the client certificate; check NEWSFLOW_KAFKA_SSL_CERTFILE and "
                "NEWSFLOW_KAFKA_SSL_KEYFILE (signed by a CA the broker trusts?)"
            )
        return (
            f"{what} requires a client certificate; set NEWSFLOW_KAFKA_SSL_CERTFILE and "
            "NEWSFLOW_KAFKA_SSL_KEYFILE"
        )
    if protocol in ("PLAINTEXT", "SSL") and closed:
        return (
            f"{what} closed the connection before answering (a SASL listener?); set "
            f"{PROTOCOL}=SASL_SSL with NEWSFLOW_KAFKA_SASL_MECHANISM, _USERNAME and _PASSWORD"
        )
    return None


def check_kafka(settings: Settings, timeout: float = 10.0) -> None:
    """Raise ConnectionSettingsError when the first bootstrap server answers but refuses these
    settings; return quietly when it works or does not answer at all."""
    host, port = _host_port(settings.kafka_bootstrap_servers, 9092)
    if not _reachable(host, port, timeout=min(timeout, 3.0)):
        return
    try:
        asyncio.run(asyncio.wait_for(_kafka_connect(settings, host, port, timeout), timeout))
    except Exception as exc:
        message = _kafka_message(settings, exc, host, port)
        if message:
            raise ConnectionSettingsError(message) from None


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    """The ssl module's error under elastic-transport's and urllib3's wrappers."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLError):
            return current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        todo.extend(e for e in getattr(current, "errors", ()) if isinstance(e, BaseException))
        todo.extend(a for a in current.args if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return None


def _es_credential_vars(settings: Settings) -> str:
    if settings.es_api_key is not None:
        return "check NEWSFLOW_ES_API_KEY"
    if settings.es_username:
        return "check NEWSFLOW_ES_USERNAME and NEWSFLOW_ES_PASSWORD"
    return "set NEWSFLOW_ES_API_KEY (or NEWSFLOW_ES_USERNAME and NEWSFLOW_ES_PASSWORD)"


def _es_message(settings: Settings, exc: BaseException) -> str | None:
    from elastic_transport import TlsError
    from elasticsearch import AuthenticationException
    from elasticsearch import ConnectionError as ESConnectionError

    url = settings.es_url.split(",")[0].strip()
    what = f"Elasticsearch at {url}"
    if isinstance(exc, AuthenticationException):
        return f"{what} rejected the credentials (401); {_es_credential_vars(settings)}"
    if isinstance(exc, TlsError):
        inner = _ssl_cause(exc)
        if isinstance(inner, ssl.SSLError):
            message = _tls_failure(what, inner, "NEWSFLOW_ES_CA_FILE", "a client certificate")
            if message and message.endswith("does not speak TLS"):
                return f"{message}; set NEWSFLOW_ES_URL to an http:// URL"
            if message:
                return message
        return f"{what}: TLS failed ({exc.message}); check NEWSFLOW_ES_CA_FILE and NEWSFLOW_ES_URL"
    if isinstance(exc, ESConnectionError) and url.startswith("http://"):
        host, port = _host_port(url, 9200)
        if speaks_tls(host, port):
            return f"{what} expects HTTPS; set NEWSFLOW_ES_URL=https://{host}:{port}"
    return None


def check_elasticsearch(settings: Settings, timeout: float = 10.0) -> None:
    """Like check_kafka, for the first Elasticsearch URL."""
    url = settings.es_url.split(",")[0].strip()
    if settings.es_ca_file and url.startswith("http://"):
        raise ConnectionSettingsError(
            f"NEWSFLOW_ES_CA_FILE is set but NEWSFLOW_ES_URL is {url}; use an https:// URL "
            "(or unset NEWSFLOW_ES_CA_FILE)"
        )
    if not _reachable(*_host_port(url, 9200), timeout=min(timeout, 3.0)):
        return
    es = elasticsearch_client(settings, request_timeout=timeout, max_retries=0)
    try:
        es.info()
    except Exception as exc:
        message = _es_message(settings, exc)
        if message:
            raise ConnectionSettingsError(message) from None
    finally:
        with contextlib.suppress(Exception):
            es.close()
