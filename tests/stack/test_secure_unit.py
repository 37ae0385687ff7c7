"""Pure parts of the security path: how Settings map onto kafka-python, aiokafka (through Faust)
and elasticsearch-py; secret masking in log records; settings validation; the test proxy's
credential check; the throwaway certificates. The real thing is tests/integration/test_secure.py."""

from __future__ import annotations

import base64
import logging
import ssl
from pathlib import Path

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import ValidationError

from newsflow.cli.base import settings_error
from newsflow.core.clients import es_config, faust_broker_config, kafka_config
from newsflow.core.redact import MASK, redact, register_secret
from newsflow.core.settings import Settings
from newsflow.stack.secure_certs import TlsFiles, ensure_tls_files
from newsflow.stack.tls_proxy import is_authorized

PASSWORD = "unit-test-sasl-password-7f3a"
API_KEY_ID, API_KEY = "key-id-1", "unit-test-api-key-secret-91b2"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    files = TlsFiles(tmp_path_factory.mktemp("tls"))
    assert ensure_tls_files(files) is True
    assert ensure_tls_files(files) is False  # kept, not regenerated
    return files


def _scram(tls: TlsFiles) -> Settings:
    return Settings(
        kafka_bootstrap_servers="127.0.0.1:29093",
        kafka_security_protocol="sasl_ssl",  # lower case on purpose: normalised
        kafka_sasl_mechanism="scram-sha-512",
        kafka_sasl_username="newsflow",
        kafka_sasl_password=PASSWORD,  # type: ignore[arg-type]
        kafka_ssl_cafile=tls.ca_cert,
    )


def test_kafka_python_and_faust_get_the_same_sasl_ssl_settings(tls: TlsFiles) -> None:
    settings = _scram(tls)
    kp = kafka_config(settings)
    assert (kp["security_protocol"], kp["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (kp["sasl_plain_username"], kp["sasl_plain_password"]) == ("newsflow", PASSWORD)
    assert kp["ssl_cafile"] == str(tls.ca_cert)
    aio = credentials_to_aiokafka_auth(faust_broker_config(settings)["broker_credentials"])
    assert aio["security_protocol"] == "SASL_SSL" and aio["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (aio["sasl_plain_username"], aio["sasl_plain_password"]) == ("newsflow", PASSWORD)
    context = aio["ssl_context"]
    assert isinstance(context, ssl.SSLContext) and context.check_hostname
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert len(context.get_ca_certs()) == 1  # our CA, not only the system store


def test_mtls_maps_client_certificate_to_both_kafka_clients(tls: TlsFiles) -> None:
    settings = Settings(
        kafka_security_protocol="SSL",
        kafka_ssl_cafile=tls.ca_cert,
        kafka_ssl_certfile=tls.client_cert,
        kafka_ssl_keyfile=tls.client_key,
    )
    kp = kafka_config(settings)
    assert kp["ssl_certfile"] == str(tls.client_cert) and kp["ssl_keyfile"] == str(tls.client_key)
    assert "sasl_mechanism" not in kp
    aio = credentials_to_aiokafka_auth(faust_broker_config(settings)["broker_credentials"])
    assert aio["security_protocol"] == "SSL" and isinstance(aio["ssl_context"], ssl.SSLContext)


def test_es_api_key_encoded_or_id_colon_key_and_basic_auth(tls: TlsFiles) -> None:
    encoded = base64.b64encode(f"{API_KEY_ID}:{API_KEY}".encode()).decode()
    base = {"es_url": "https://127.0.0.1:29443", "es_ca_file": tls.ca_cert}
    assert es_config(Settings(**base, es_api_key=encoded))["api_key"] == encoded  # type: ignore[arg-type]
    raw = es_config(Settings(**base, es_api_key=f"{API_KEY_ID}:{API_KEY}"))  # type: ignore[arg-type]
    assert raw["api_key"] == (API_KEY_ID, API_KEY) and raw["ca_certs"] == str(tls.ca_cert)
    basic = es_config(Settings(**base, es_username="u", es_password="p4ssw0rd"))  # type: ignore[arg-type]
    assert basic["basic_auth"] == ("u", "p4ssw0rd") and "api_key" not in basic


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"kafka_security_protocol": "TLS"}, "NEWSFLOW_KAFKA_SECURITY_PROTOCOL: must be one of"),
        ({"kafka_sasl_mechanism": "PLAIN"}, "set it to SASL_SSL"),
        ({"kafka_security_protocol": "SASL_SSL"}, "needs NEWSFLOW_KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_mechanism": "MD5", "kafka_security_protocol": "SASL_SSL"}, "must be one of"),
    ],
)
def test_inconsistent_kafka_security_settings_are_one_line_errors(
    values: dict[str, str], needle: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Settings(**values, kafka_sasl_password=PASSWORD)  # type: ignore[arg-type]
    line = settings_error(info.value)
    assert line is not None and needle in line and "\n" not in line and PASSWORD not in line


def test_registered_secrets_never_reach_a_log_record(caplog: pytest.LogCaptureFixture) -> None:
    encoded = base64.b64encode(f"{API_KEY_ID}:{API_KEY}".encode()).decode()
    register_secret(PASSWORD)
    register_secret(encoded)
    logger = logging.getLogger("kafka.admin.client")
    with caplog.at_level(logging.DEBUG):
        # What kafka-python really logs at DEBUG, and a PLAIN login's bytes.
        logger.debug("Starting with configuration: %s", {"sasl_plain_password": PASSWORD})
        logger.debug("Send: %r", f"\x00newsflow\x00{PASSWORD}".encode())
        logger.info(
            "header ApiKey %s / key %s / pair %s", encoded, API_KEY, f"{API_KEY_ID}:{API_KEY}"
        )
        try:
            raise RuntimeError(f"login failed for {PASSWORD}")
        except RuntimeError:
            logger.exception("boom")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert MASK in text and "boom" in text and "newsflow" in text
    for secret in (PASSWORD, encoded, API_KEY):
        assert secret not in text
    assert redact(f"x{PASSWORD}y") == f"x{MASK}y"


def test_proxy_accepts_basic_and_api_key_and_nothing_else() -> None:
    users, keys = {"newsflow": "pw-1"}, {API_KEY_ID: API_KEY}

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    assert is_authorized(f"Basic {b64('newsflow:pw-1')}", users, keys)
    assert is_authorized(f"ApiKey {b64(f'{API_KEY_ID}:{API_KEY}')}", users, keys)
    assert is_authorized(f"apikey {b64(f'{API_KEY_ID}:{API_KEY}')}", users, keys)
    for bad in (
        None,
        "",
        f"Basic {b64('newsflow:wrong')}",
        f"Basic {b64(f'{API_KEY_ID}:{API_KEY}')}",  # an API key is not a user
        f"ApiKey {b64('newsflow:pw-1')}",  # nor a user an API key
        f"Bearer {b64('newsflow:pw-1')}",
        "Basic not-base64!",
        f"Basic {b64('no-colon')}",
    ):
        assert not is_authorized(bad, users, keys), bad


def test_certificates_chain_to_the_ca_and_name_loopback(tls: TlsFiles) -> None:
    from cryptography import x509

    server = x509.load_pem_x509_certificates(tls.server_cert.read_bytes())
    names = server[0].extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    server[0].verify_directly_issued_by(x509.load_pem_x509_certificate(tls.ca_cert.read_bytes()))
    for key in (tls.ca_key, tls.server_key, tls.client_key):
        assert Path(key).stat().st_mode & 0o077 == 0, f"{key} readable by others"
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls.server_cert), str(tls.server_key))  # a usable pair
