"""All configuration, defined once. Every field reads ``NEWSFLOW_<NAME>`` from the environment
(or a ``.env`` file in the working directory)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA = "127.0.0.1:9092"
LOCAL_ES = "http://127.0.0.1:9200"
KAFKA_SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
KAFKA_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _default_stack_dir() -> Path:
    """``.stack`` at the root of a source checkout; in the working directory when installed."""
    root = Path(__file__).resolve().parents[2]
    return (root if (root / "pyproject.toml").is_file() else Path.cwd()) / ".stack"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSFLOW_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    # Kafka
    kafka_bootstrap_servers: str = Field(LOCAL_KAFKA, description="comma-separated host:port list")
    kafka_security_protocol: str = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    kafka_sasl_mechanism: str | None = Field(
        None, description="PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    kafka_ssl_certfile: Path | None = None
    kafka_ssl_keyfile: Path | None = None

    topic_raw: str = "news.raw"
    topic_enriched: str = "news.enriched"
    topic_dlq: str = "news.dlq"
    topic_partitions: int = Field(3, ge=1)
    topic_replication: int | None = Field(
        None, ge=1, description="replicas per partition of new topics; default min(3, brokers)"
    )
    topic_min_insync_replicas: int | None = Field(
        None, ge=1, description="default 2 with three or more replicas, else 1"
    )
    # Per-label streams (issue 10): the worker copies each enriched article to
    # <prefix><label> for each of its labels; "*" = every taxonomy label, "" = none.
    topic_label_prefix: str = "news.topic."
    label_streams: str = Field("*", description="comma-separated labels with a stream, * = all")
    topic_label_retention_hours: float = Field(7 * 24, gt=0)

    # Elasticsearch
    es_url: str = Field(LOCAL_ES, description="comma-separated URLs")
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_api_key: SecretStr | None = None
    es_ca_file: Path | None = None
    es_verify_certs: bool = True
    es_alias: str = "news"
    es_index_version: int = Field(1, ge=1)
    es_request_timeout: float = 30.0

    # Local stack
    stack_dir: Path = Field(default_factory=_default_stack_dir)
    stack_es_heap: str = "1g"
    stack_kafka_heap: str = "512m"
    stack_start_timeout: float = 600.0

    # Processing
    app_id: str = "newsflow"
    worker_web_port: int = 6066
    indexer_group: str = "newsflow-indexer"
    indexer_batch_size: int = Field(500, ge=1)
    indexer_batch_seconds: float = Field(1.0, gt=0)
    indexer_batch_bytes: int = Field(
        32 * 1024 * 1024, ge=1024, description="a batch is flushed at this many record bytes"
    )
    indexer_flush_when_drained: bool = Field(
        True, description="send as soon as the consumer has nothing more (else: count/bytes/age)"
    )
    indexer_quiet_refresh_seconds: float = Field(
        0.25, ge=0, description="a small batch sent because nothing more came asks Elasticsearch "
        "to refresh at once, at most once per this many seconds (0: only the index's interval)"
    )
    indexer_metrics_port: int = Field(6067, ge=0, description="/metrics of the indexer; 0: off")
    indexer_max_retry_seconds: float = Field(60.0, gt=0)
    max_body_chars: int = Field(1_000_000, ge=1000, description="longer bodies are dead-lettered")

    # Enrichment
    ner_backend: str = Field(
        "rules", description="rules (default, offline), crf (bundled model) or camel"
    )
    topics_file: Path | None = Field(None, description="replace the bundled taxonomy")
    topics_extra_file: Path | None = Field(None, description="extend the bundled taxonomy")
    topic_threshold: float = 1.0
    dedup_threshold: float = Field(0.8, gt=0, le=1)
    dedup_num_perm: int = 128
    dedup_max_entries: int = 200_000
    dedup_max_bytes: int = Field(96 * 2**20, ge=2**16, description="near-duplicate state bound")
    dedup_max_age_days: float = 7.0
    dedup_shingle_size: int = Field(3, ge=1, le=8, description="words per MinHash shingle")
    dedup_stage: bool = Field(
        True, description="one near-duplicate stage for all workers (false: per worker, 1 only)"
    )
    enrich_process: bool = Field(
        False, description="worker enriches in a child process (with dedup_stage; +~70 MB)"
    )

    # HTTP API (newsflow serve)
    serve_host: str = "127.0.0.1"
    serve_port: int = 8080
    serve_api_key: SecretStr | None = Field(None, description="when set, required by the API")

    log_level: str = "INFO"

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        # kafka-python and Faust only know the upper-case names ("sasl_ssl" would make Faust
        # connect without TLS while kafka-python refuses to start).
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("kafka_security_protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        if value not in KAFKA_SECURITY_PROTOCOLS:
            raise ValueError(f"must be one of {', '.join(KAFKA_SECURITY_PROTOCOLS)}")
        return value

    @field_validator("kafka_sasl_mechanism")
    @classmethod
    def _known_mechanism(cls, value: str | None) -> str | None:
        if value and value not in KAFKA_SASL_MECHANISMS:
            raise ValueError(f"must be one of {', '.join(KAFKA_SASL_MECHANISMS)}")
        return value or None

    @model_validator(mode="after")
    def _sasl_consistent(self) -> Settings:
        # Without this check kafka-python and Faust disagree: a mechanism under PLAINTEXT made
        # Faust log in over SASL_PLAINTEXT while kafka-python connected without SASL.
        sasl = self.kafka_security_protocol.startswith("SASL_")
        if self.kafka_sasl_mechanism and not sasl:
            raise ValueError(
                "NEWSFLOW_KAFKA_SASL_MECHANISM is set but NEWSFLOW_KAFKA_SECURITY_PROTOCOL is "
                f"{self.kafka_security_protocol}; set it to SASL_SSL (or SASL_PLAINTEXT)"
            )
        if sasl and not (self.kafka_sasl_mechanism and self.kafka_sasl_username):
            raise ValueError(
                f"NEWSFLOW_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs "
                "NEWSFLOW_KAFKA_SASL_MECHANISM, NEWSFLOW_KAFKA_SASL_USERNAME and "
                "NEWSFLOW_KAFKA_SASL_PASSWORD"
            )
        return self

    @property
    def es_index(self) -> str:
        return f"{self.es_alias}-v{self.es_index_version}"

    @property
    def topic_dedup_stage(self) -> str:
        """The near-duplicate stage's internal topic (one partition; processors.dedup_stage),
        named after the worker group like Faust's own internal topics."""
        return f"{self.app_id}-dedup-stage"

    def is_local_default(self) -> bool:
        return self.kafka_bootstrap_servers == LOCAL_KAFKA and self.es_url == LOCAL_ES


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
