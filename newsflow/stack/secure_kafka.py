"""Kafka of the secure local test stack: its credentials, keystore, properties, SCRAM users and
readiness probe. Secrets live in 0600 files of the secure stack dir; none reaches a command line
or a log line (the JVM reads them from server.properties, SCRAM users go through the admin API)."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from newsflow.core.redact import register_secret
from newsflow.stack.config import KAFKA, StackConfig
from newsflow.stack.formats import render_properties
from newsflow.stack.kafka import _quiet_logger, _tcp_open
from newsflow.stack.secure_certs import TlsFiles

TEMPLATE = "server-secure.properties.template"
KAFKA_ADMIN_USER = "newsflow-admin"  # PLAIN only: the stack's own admin connection
KAFKA_USER = "newsflow"  # the client user: SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN
SCRAM_MECHANISMS = ("SCRAM-SHA-512", "SCRAM-SHA-256")
ES_USER = "newsflow"
ES_API_KEY_ID = "newsflow-test-key"


def write_private_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT


@dataclass(frozen=True)
class Credentials:
    """Random per-stack secrets, made once and kept in ``credentials.json`` (0600)."""

    kafka_admin_password: str
    kafka_password: str
    keystore_password: str
    es_password: str
    es_api_key: str  # the secret half of the API key whose id is ES_API_KEY_ID

    def __repr__(self) -> str:  # never print a secret by accident
        return "Credentials(<redacted>)"

    @classmethod
    def load_or_create(cls, path: Path) -> Credentials:
        if path.is_file():
            return cls(**json.loads(path.read_text()))
        creds = cls(*(secrets.token_urlsafe(24) for _ in range(5)))
        write_private_text(path, json.dumps(asdict(creds), indent=2) + "\n")
        return creds

    def values(self) -> tuple[str, ...]:
        return tuple(asdict(self).values())


def write_keystore(tls: TlsFiles, keystore: Path, password: str) -> None:
    """PKCS12 keystore for the broker from the PEM server key and chain (rewritten each start)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12

    key = serialization.load_pem_private_key(tls.server_key.read_bytes(), password=None)
    chain = x509.load_pem_x509_certificates(tls.server_cert.read_bytes())
    data = pkcs12.serialize_key_and_certificates(
        b"broker",
        key,  # type: ignore[arg-type]
        chain[0],
        chain[1:],
        serialization.BestAvailableEncryption(password.encode()),
    )
    keystore.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def write_secure_properties(
    cfg: StackConfig, mtls_port: int, tls: TlsFiles, creds: Credentials
) -> Path:
    keystore = cfg.service_dir(KAFKA) / "broker.p12"
    write_keystore(tls, keystore, creds.keystore_password)
    template = (cfg.deploy_dir / KAFKA / TEMPLATE).read_text()
    text = render_properties(
        template,
        {
            "port": cfg.kafka_port,
            "mtls_port": mtls_port,
            "controller_port": cfg.kafka_controller_port,
            "log_dirs": cfg.service_dir(KAFKA) / "data",
            "keystore": keystore,
            "keystore_password": creds.keystore_password,
            "truststore": tls.ca_cert,
            "admin_user": KAFKA_ADMIN_USER,
            "admin_password": creds.kafka_admin_password,
            "user": KAFKA_USER,
            "password": creds.kafka_password,
        },
    )
    out = cfg.service_dir(KAFKA) / "server.properties"
    write_private_text(out, text)
    return out


def admin_config(cfg: StackConfig, tls: TlsFiles, creds: Credentials) -> dict[str, Any]:
    """kafka-python keywords for the stack's own admin connection (PLAIN over TLS)."""
    register_secret(creds.kafka_admin_password)  # kafka-python logs its config at DEBUG
    return {
        "bootstrap_servers": [f"127.0.0.1:{cfg.kafka_port}"],
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": KAFKA_ADMIN_USER,
        "sasl_plain_password": creds.kafka_admin_password,
        "ssl_cafile": str(tls.ca_cert),
        "client_id": "newsflow-secure-stack",
    }


def _admin(cfg: StackConfig, tls: TlsFiles, creds: Credentials, timeout: float) -> Any:
    from kafka import KafkaAdminClient

    ms = int(timeout * 1000)
    return KafkaAdminClient(
        **admin_config(cfg, tls, creds), request_timeout_ms=ms, bootstrap_timeout_ms=ms
    )


def secure_kafka_ready(
    cfg: StackConfig, tls: TlsFiles, creds: Credentials, timeout: float = 5.0
) -> bool:
    """True when the broker answers metadata over SASL_SSL and knows a controller."""
    if not _tcp_open(cfg.kafka_port):
        return False
    with _quiet_logger("kafka"):
        try:
            admin = _admin(cfg, tls, creds, timeout)
        except Exception:
            return False
        try:
            cluster = admin.describe_cluster()
            return bool(cluster.get("brokers")) and cluster.get("controller_id", -1) != -1
        except Exception:
            return False
        finally:
            admin.close()


def upsert_scram_users(cfg: StackConfig, tls: TlsFiles, creds: Credentials) -> None:
    """(Re)create the client user's SCRAM credentials; idempotent, run on every start."""
    from kafka.admin import UserScramCredentialUpsertion

    admin = _admin(cfg, tls, creds, timeout=30.0)
    errors: dict[str, str] = {}
    try:
        # One request per mechanism: the broker refuses two alterations of a user in one.
        for mechanism in SCRAM_MECHANISMS:
            upsert = UserScramCredentialUpsertion(KAFKA_USER, mechanism, creds.kafka_password)
            result = admin.alter_user_scram_credentials([upsert])
            errors.update({f"{user} {mechanism}": err for user, err in result.items() if err})
    finally:
        admin.close()
    if errors:
        raise RuntimeError(f"creating SCRAM users failed: {errors}")
