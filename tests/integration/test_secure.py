"""newsflow against a secured cluster: Kafka over SASL_SSL (SCRAM-SHA-512, PLAIN) and mutual TLS,
Elasticsearch over HTTPS with an API key or basic auth — the secure local test stack
(`newsflow stack up --secure`), which this module starts on its own ports beside the shared
plaintext stack and stops again when it started it.

Every command runs as the CLI users run, as a subprocess, with DEBUG logging wherever the command
has a log level; all their output and the worker's and indexer's logs are kept and grepped for
every secret of the run."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest

from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings
from newsflow.runner import SAMPLES, free_port, wait_worker_ready
from newsflow.stack.secure import SecureStack, secure_down, secure_stack, secure_status, secure_up
from newsflow.stack.secure_certs import make_ca, write_ca
from newsflow.stack.secure_env import client_env
from newsflow.stack.secure_kafka import Credentials
from tests.conftest import REPO

pytestmark = pytest.mark.integration

SAMPLE_COUNT = sum(1 for line in SAMPLES.read_text().splitlines() if line.strip())
SAMPLES_FILE = str(SAMPLES)  # package data in the source tree: a real path


@dataclass
class Secure:
    stack: SecureStack
    creds: Credentials
    tmp: Path
    outputs: list[str] = field(default_factory=list)  # everything any command printed or logged

    def env(self, kafka: str = "scram", es: str = "apikey", **extra: str) -> dict[str, str]:
        uid = uuid.uuid4().hex[:8]
        base = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
        return {
            **base,
            **client_env(self.stack, self.creds, kafka, es),
            "NEWSFLOW_STACK_DIR": str(self.tmp / "stack"),  # never the shared plaintext stack
            "NEWSFLOW_TOPIC_RAW": f"s{uid}.raw",
            "NEWSFLOW_TOPIC_ENRICHED": f"s{uid}.enriched",
            "NEWSFLOW_TOPIC_DLQ": f"s{uid}.dlq",
            "NEWSFLOW_ES_ALIAS": f"s{uid}-news",
            "NEWSFLOW_APP_ID": f"newsflow-s{uid}",
            "NEWSFLOW_INDEXER_GROUP": f"newsflow-indexer-s{uid}",
            "NEWSFLOW_INDEXER_BATCH_SECONDS": "0.5",
            "NEWSFLOW_LOG_LEVEL": "DEBUG",
            **extra,
        }

    def run(
        self, env: dict[str, str], *args: str, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "newsflow", *args],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.outputs.append(f"$ newsflow {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        return proc

    def secrets(self) -> list[str]:
        from newsflow.stack.secure_env import encoded_api_key
        from newsflow.stack.secure_kafka import ES_API_KEY_ID

        key_body = [
            line
            for line in self.stack.tls.client_key.read_text().splitlines()
            if line and not line.startswith("-----")
        ]
        return [
            *self.creds.values(),
            encoded_api_key(ES_API_KEY_ID, self.creds.es_api_key),
            *key_body,
        ]


@pytest.fixture(scope="module")
def secure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secure]:
    stack = secure_stack()
    started = not all(s.is_up for s in secure_status(stack))
    if started:
        secure_up(stack, say=lambda m: None)
    try:
        yield Secure(stack, stack.credentials(), tmp_path_factory.mktemp("secure"))
    finally:
        if started:
            secure_down(stack, say=lambda m: None)


def _start(
    secure: Secure, env: dict[str, str], name: str, *args: str
) -> tuple[subprocess.Popen[bytes], Path]:
    log = secure.tmp / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "newsflow", *args],
            env=env,
            cwd=REPO,
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    return proc, log


def _stop(procs: list[tuple[subprocess.Popen[bytes], Path]], secure: Secure) -> None:
    for proc, _ in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, log in procs:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        secure.outputs.append(f"=== {log.name}\n{log.read_text(errors='replace')}")


def _settings(env: dict[str, str]) -> Settings:
    return Settings(
        **{
            k.removeprefix("NEWSFLOW_").lower(): v
            for k, v in env.items()
            if k.startswith("NEWSFLOW_")
        }
    )


def _wait_lag_zero(
    secure: Secure, env: dict[str, str], timeout: float = 120
) -> list[dict[str, object]]:
    """Polls in process (cheap), then asks the `newsflow lag` command once."""
    from ingest.lag import consumer_lag

    settings, deadline = _settings(env), time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = consumer_lag(settings)
        if rows and all(r.lag == 0 and r.committed is not None for r in rows if r.end):
            break
        time.sleep(1)
    proc = secure.run(env, "lag", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows_json: list[dict[str, object]] = orjson.loads(proc.stdout)
    assert rows_json and all(r["lag"] == 0 for r in rows_json), rows_json
    return rows_json


def _in_process_debug_run(
    secure: Secure, env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> str:
    """Lag and a search from this process with every logger at DEBUG (the CLI commands set up
    no DEBUG handler): what kafka-python and elastic-transport log at their most verbose."""
    from ingest.lag import consumer_lag

    settings = _settings(env)
    with caplog.at_level(logging.DEBUG):
        assert consumer_lag(settings)
        es = elasticsearch_client(settings)
        es.search(index=settings.es_alias, size=1)
        es.close()
    secure.outputs.append(f"=== in-process DEBUG\n{caplog.text}")
    return caplog.text


def test_pipeline_over_scram_tls_and_es_api_key(
    secure: Secure, caplog: pytest.LogCaptureFixture
) -> None:
    env = secure.env("scram", "apikey")
    setup = secure.run(env, "setup")
    assert setup.returncode == 0, setup.stderr[-3000:]
    assert "created" in setup.stdout + setup.stderr
    port = free_port()
    procs = [
        _start(secure, env, "worker", "worker", "--web-port", str(port), "--loglevel", "debug"),
        _start(secure, env, "indexer", "index"),
    ]
    try:
        wait_worker_ready(f"http://127.0.0.1:{port}/health", procs[0][0], procs[0][1])
        produced = secure.run(env, "produce", SAMPLES_FILE, "--json", "--quiet")
        assert produced.returncode == 0, produced.stderr[-3000:]
        assert orjson.loads(produced.stdout)["sent"] == SAMPLE_COUNT
        settings = _settings(env)
        es = elasticsearch_client(settings)
        deadline, count = time.monotonic() + 180, 0
        while time.monotonic() < deadline and count < SAMPLE_COUNT:
            es.indices.refresh(index=settings.es_alias)
            count = int(es.count(index=settings.es_alias)["count"])
            time.sleep(0.5)
        es.close()
        assert count == SAMPLE_COUNT
        found = secure.run(env, "search", "بوتين", "--json")
        assert found.returncode == 0, found.stderr[-3000:]
        assert orjson.loads(found.stdout)["hits"], found.stdout[:500]
        rows = _wait_lag_zero(secure, env)
        assert sum(int(r["end"]) for r in rows) >= 2 * SAMPLE_COUNT  # raw + enriched
    finally:
        _stop(procs, secure)
    for args in (["--help"], ["stack", "up", "--help"], ["worker", "--help"], ["setup", "--help"]):
        assert secure.run(env, *args).returncode == 0
    debug = _in_process_debug_run(secure, env, caplog)
    _assert_no_secret(secure, "scram")
    # The grep above can fail: kafka-python really logs its configuration at DEBUG (masked here).
    assert "'sasl_plain_password': '**********'" in debug


def test_plain_over_sasl_ssl_with_system_ca_store_and_basic_auth(
    secure: Secure, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Confluent-Cloud style: SASL_SSL + PLAIN and no CA file (a public CA is in the system
    store; SSL_CERT_FILE puts our CA there for this run). Elasticsearch with basic auth."""
    env = secure.env("plain", "basic", SSL_CERT_FILE=str(secure.stack.tls.ca_cert))
    del env["NEWSFLOW_KAFKA_SSL_CAFILE"]
    for args in (
        ["setup"],
        ["produce", SAMPLES_FILE, "--json", "--quiet"],
        ["lag", "--json"],
        ["search", "بوتين", "--json"],
    ):
        proc = secure.run(env, *args)
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"
    assert orjson.loads(proc.stdout)["total"] == 0  # nothing indexed: no worker ran
    monkeypatch.setenv("SSL_CERT_FILE", env["SSL_CERT_FILE"])
    debug = _in_process_debug_run(secure, env, caplog)
    _assert_no_secret(secure, "plain")
    # PLAIN sends the password itself: kafka-python logs those bytes at DEBUG (masked here).
    assert "SaslAuthenticateRequest" in debug and "\\x00newsflow\\x00**********" in debug


def test_mutual_tls(secure: Secure) -> None:
    env = secure.env("mtls", "apikey")
    for args in (["setup"], ["produce", SAMPLES_FILE, "--json", "--quiet"]):
        proc = secure.run(env, *args)
        assert proc.returncode == 0, f"{args}: {proc.stderr[-3000:]}"
    lag = secure.run(env, "lag", "--json")
    assert lag.returncode == 0, lag.stderr[-3000:]
    raw = [r for r in orjson.loads(lag.stdout) if r["topic"] == env["NEWSFLOW_TOPIC_RAW"]]
    assert sum(int(r["end"]) for r in raw) == SAMPLE_COUNT
    _assert_no_secret(secure, "mtls")


def _other_ca(secure: Secure) -> str:
    path = secure.tmp / "other-ca.pem"
    if not path.exists():
        write_ca(*make_ca("some other CA"), path)
    return str(path)


# case: (command, client profile, variables changed ("" removes one), the setting to name)
BROKEN: dict[str, tuple[str, str, dict[str, str], str]] = {
    "kafka wrong password": (
        "lag",
        "scram",
        {"NEWSFLOW_KAFKA_SASL_PASSWORD": "not-the-password"},
        "NEWSFLOW_KAFKA_SASL_PASSWORD",
    ),
    "worker wrong password": (
        "worker",
        "scram",
        {"NEWSFLOW_KAFKA_SASL_PASSWORD": "not-the-password"},
        "NEWSFLOW_KAFKA_SASL_PASSWORD",
    ),
    "kafka unknown CA": (
        "lag",
        "scram",
        {"NEWSFLOW_KAFKA_SSL_CAFILE": "{other_ca}"},
        "NEWSFLOW_KAFKA_SSL_CAFILE",
    ),
    "kafka plaintext client": (
        "lag",
        "scram",
        {"NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "NEWSFLOW_KAFKA_SASL_MECHANISM": ""},
        "NEWSFLOW_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL",
    ),
    "kafka mTLS without client certificate": (
        "lag",
        "mtls",
        {"NEWSFLOW_KAFKA_SSL_CERTFILE": "", "NEWSFLOW_KAFKA_SSL_KEYFILE": ""},
        "NEWSFLOW_KAFKA_SSL_CERTFILE",
    ),
    "es wrong API key": (
        "search",
        "scram",
        {"NEWSFLOW_ES_API_KEY": "bm9wZTpub3BlLW5vcGUtbm9wZQ=="},
        "NEWSFLOW_ES_API_KEY",
    ),
    "es unknown CA": (
        "search",
        "scram",
        {"NEWSFLOW_ES_CA_FILE": "{other_ca}"},
        "NEWSFLOW_ES_CA_FILE",
    ),
    "es plaintext client": (
        "search",
        "scram",
        {"NEWSFLOW_ES_URL": "http://127.0.0.1:{proxy_port}", "NEWSFLOW_ES_CA_FILE": ""},
        "NEWSFLOW_ES_URL=https://",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_wrong_security_settings_fail_fast_in_one_line(secure: Secure, case: str) -> None:
    command, profile, overrides, setting = BROKEN[case]
    env = secure.env(profile, "apikey")
    for key, value in overrides.items():
        if value:
            env[key] = value.format(
                other_ca=_other_ca(secure), proxy_port=secure.stack.es_proxy_port
            )
        else:
            env.pop(key, None)
    args = [command, "x"] if command == "search" else [command]
    started = time.monotonic()
    proc = secure.run(env, *args, timeout=90)
    elapsed = time.monotonic() - started
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert len(lines) == 1 and lines[0].startswith("newsflow: "), proc.stderr[-3000:]
    assert setting in lines[0], lines[0]
    # kafka-python alone waits out its bootstrap timeout (about 40 s here) on each of these.
    assert elapsed < 30, f"{case}: {elapsed:.0f} s"
    with (secure.tmp / "errors.txt").open("a") as fh:
        fh.write(f"{case}: {lines[0]}\n")
    _assert_no_secret(secure, case)


def _assert_no_secret(secure: Secure, label: str) -> None:
    text = "\n".join(secure.outputs)
    (secure.tmp / f"output-{label.replace(' ', '-')}.txt").write_text(text)
    leaked = [s[:4] + "..." for s in secure.secrets() if s in text]
    assert not leaked, f"secrets in the output of {label}: {leaked}"
