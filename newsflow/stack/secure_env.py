"""Client side of the secure local test stack: the NEWSFLOW_* environments that reach it (one per
common production setup), the TLS proxy's config file and its readiness probe."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from newsflow.stack.secure_kafka import (
    ES_API_KEY_ID,
    ES_USER,
    KAFKA_USER,
    Credentials,
    write_private_text,
)

if TYPE_CHECKING:
    from pathlib import Path

    from newsflow.stack.secure import SecureStack

KAFKA_PROFILES = ("scram", "plain", "mtls")
ES_PROFILES = ("apikey", "basic")
# The env files `stack up --secure` writes: Kafka profile + Elasticsearch profile.
ENV_FILES = {"scram": ("scram", "apikey"), "plain": ("plain", "basic"), "mtls": ("mtls", "apikey")}


def encoded_api_key(key_id: str, key: str) -> str:
    """The form Elastic Cloud hands out ("encoded"): base64 of ``id:key``."""
    return base64.b64encode(f"{key_id}:{key}".encode()).decode()


def kafka_env(stack: SecureStack, creds: Credentials, profile: str) -> dict[str, str]:
    tls = stack.tls
    if profile == "mtls":
        return {
            "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{stack.kafka_mtls_port}",
            "NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "SSL",
            "NEWSFLOW_KAFKA_SSL_CAFILE": str(tls.ca_cert),
            "NEWSFLOW_KAFKA_SSL_CERTFILE": str(tls.client_cert),
            "NEWSFLOW_KAFKA_SSL_KEYFILE": str(tls.client_key),
        }
    mechanism = {"scram": "SCRAM-SHA-512", "plain": "PLAIN"}[profile]
    return {
        "NEWSFLOW_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{stack.inner.kafka_port}",
        "NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "NEWSFLOW_KAFKA_SASL_MECHANISM": mechanism,
        "NEWSFLOW_KAFKA_SASL_USERNAME": KAFKA_USER,
        "NEWSFLOW_KAFKA_SASL_PASSWORD": creds.kafka_password,
        "NEWSFLOW_KAFKA_SSL_CAFILE": str(tls.ca_cert),
    }


def es_env(stack: SecureStack, creds: Credentials, profile: str) -> dict[str, str]:
    env = {
        "NEWSFLOW_ES_URL": f"https://127.0.0.1:{stack.es_proxy_port}",
        "NEWSFLOW_ES_CA_FILE": str(stack.tls.ca_cert),
    }
    if profile == "apikey":
        env["NEWSFLOW_ES_API_KEY"] = encoded_api_key(ES_API_KEY_ID, creds.es_api_key)
    else:
        env["NEWSFLOW_ES_USERNAME"] = ES_USER
        env["NEWSFLOW_ES_PASSWORD"] = creds.es_password
    return env


def client_env(
    stack: SecureStack, creds: Credentials, kafka: str = "scram", es: str = "apikey"
) -> dict[str, str]:
    return {**kafka_env(stack, creds, kafka), **es_env(stack, creds, es)}


def write_client_envs(stack: SecureStack, creds: Credentials) -> list[Path]:
    """``<secure dir>/{scram,plain,mtls}.env``: `set -a; . scram.env` points newsflow at it."""
    written = []
    for name, (kafka, es) in ENV_FILES.items():
        env = client_env(stack, creds, kafka, es)
        text = "".join(f"{k}={v}\n" for k, v in env.items())
        path = stack.env_file(name)
        write_private_text(path, f"# newsflow secure local test stack: {kafka} + {es}\n{text}")
        written.append(path)
    return written


def write_proxy_config(stack: SecureStack, creds: Credentials) -> Path:
    path = stack.stack_dir / PROXY_CONFIG
    config = {
        "listen_host": "127.0.0.1",
        "listen_port": stack.es_proxy_port,
        "upstream": f"http://127.0.0.1:{stack.inner.es_port}",
        "cert_file": str(stack.tls.server_cert),
        "key_file": str(stack.tls.server_key),
        "users": {ES_USER: creds.es_password},
        "api_keys": {ES_API_KEY_ID: creds.es_api_key},
    }
    write_private_text(path, json.dumps(config, indent=2) + "\n")
    return path


PROXY_CONFIG = "es-proxy.json"


def es_proxy_ready(stack: SecureStack, creds: Credentials, timeout: float = 5.0) -> bool:
    """The cluster is yellow or green through the proxy, over verified TLS, with the API key."""
    url = f"https://127.0.0.1:{stack.es_proxy_port}/_cluster/health"
    key = encoded_api_key(ES_API_KEY_ID, creds.es_api_key)
    request = urllib.request.Request(url, headers={"Authorization": f"ApiKey {key}"})
    context = ssl.create_default_context(cafile=str(stack.tls.ca_cert))
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            return json.loads(resp.read()).get("status") in ("yellow", "green")
    except (OSError, ValueError, urllib.error.URLError):
        return False
