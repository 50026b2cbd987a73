"""The one typed configuration model for every Lakehouse process.

Values come from (highest first) keyword arguments, ``LAKEHOUSE_*`` environment
variables (nested with ``__``, e.g. ``LAKEHOUSE_STORAGE__BACKEND=s3``), a TOML
file named by ``LAKEHOUSE_CONFIG``, then the defaults below. Nothing else in the
code base holds a tunable literal.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

MiB = 1024 * 1024


class StorageSettings(BaseModel):
    """Where the lake bucket lives: a local directory (embedded default) or S3."""

    backend: Literal["local", "s3"] = "local"
    # Local backend: directory holding the lake bucket. Defaults to <home>/lake.
    root: Path | None = None
    # S3 backend.
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = ""
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "lakehouse"
    s3_region: str = "us-east-1"
    s3_secure: bool = False
    # Name under which the lake bucket is registered.
    lake_bucket: str = "lake"
    # Transfer chunk for streamed object reads.
    chunk_bytes: int = 1 * MiB
    # Bounded retries for transient S3 failures before the operation fails.
    s3_retries: int = 2
    s3_timeout_s: float = 10.0


class IngestSettings(BaseModel):
    """Limits and Parquet layout for ingestion."""

    # Maximum size of one REST (Envoy-transcoded) raw body; gRPC streams are unbounded.
    max_rest_body_bytes: int = 1024 * MiB
    # Rows per Parquet row group and per part file.
    row_group_rows: int = 256 * 1024
    rows_per_file: int = 8 * 1024 * 1024
    compression: str = "zstd"
    # Rows fetched per batch when converting; also the progress granularity.
    batch_rows: int = 128 * 1024
    # Longest single CSV line (record) accepted; longer records are rejected, not truncated.
    max_line_bytes: int = 64 * MiB
    # Spool directory for in-flight uploads. Defaults to <home>/spool.
    spool_dir: Path | None = None


class QuerySettings(BaseModel):
    """Query engine limits."""

    timeout_s: float = 60.0
    max_timeout_s: float = 3600.0
    # Row cap for JSON (REST) responses; Arrow streams are not capped.
    max_json_rows: int = 10_000
    batch_rows: int = 64 * 1024
    threads: int = 0  # 0: DuckDB default (all cores)
    memory_limit: str = ""  # "" : DuckDB default


class ModelSettings(BaseModel):
    """Embedding and chat providers (ModelService)."""

    embed_provider: str = "local"  # local | ollama | openai | hash
    embed_model: str = "all-MiniLM-L6-v2"
    local_batch_size: int = 64
    local_max_tokens: int = 256  # all-MiniLM-L6-v2 was trained with 256-token inputs
    local_threads: int = 0  # 0: all cores
    max_texts_per_request: int = 2048
    max_text_chars: int = 100_000
    chat_provider: str = "ollama"  # ollama | openai | anthropic
    chat_model: str = ""
    ollama_url: str = "http://127.0.0.1:11434"
    openai_url: str = ""  # an OpenAI-compatible base URL ending in /v1
    openai_api_key: SecretStr = SecretStr("")
    anthropic_url: str = ""
    anthropic_api_key: SecretStr = SecretStr("")
    anthropic_version: str = "2023-06-01"
    http_timeout_s: float = 30.0
    http_connect_timeout_s: float = 5.0
    http_retries: int = 2
    http_max_connections: int = 16


class VectorSettings(BaseModel):
    """FAISS HNSW corpora (VectorService)."""

    metric: Literal["cosine", "l2", "ip"] = "cosine"
    hnsw_m: int = 16
    ef_construction: int = 100
    ef_search: int = 64
    max_k: int = 1000
    max_items_per_request: int = 10_000
    # Filtered search: below this many allowed ids, search them exactly instead of walking the graph.
    exact_search_max_ids: int = 20_000
    # Embedding batch when building from a dataset.
    build_batch_rows: int = 1024


class ServerSettings(BaseModel):
    """gRPC server process settings."""

    host: str = "127.0.0.1"
    # Port of the gRPC upstream that Envoy fronts; 0 picks a free one.
    grpc_port: int = 0
    max_workers: int = 32
    max_message_bytes: int = 64 * MiB
    grace_s: float = 5.0
    # OpenTelemetry server spans for every RPC (exported wherever the process's
    # tracer provider sends them; a no-op without one).
    tracing: bool = True


class Settings(BaseSettings):
    """Root settings: one instance per process."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", env_nested_delimiter="__", extra="ignore")

    home: Path = Path(".lakehouse")
    # Envoy listener (REST and gRPC) host and port.
    host: str = "127.0.0.1"
    port: int = 8080
    # Envoy admin port; 0 picks a free one.
    admin_port: int = 0
    services: str = "all"
    # Upstream gRPC addresses of services this process uses but does not host.
    catalog_address: str = ""
    vector_address: str = ""
    server: ServerSettings = Field(default_factory=ServerSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    query: QuerySettings = Field(default_factory=QuerySettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    vector: VectorSettings = Field(default_factory=VectorSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("LAKEHOUSE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=config_file))
        return tuple(sources)

    # Derived locations -------------------------------------------------

    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def lake_root(self) -> Path:
        return (self.storage.root or self.home_dir / "lake").expanduser().resolve()

    @property
    def spool_dir(self) -> Path:
        return (self.ingest.spool_dir or self.home_dir / "spool").expanduser().resolve()

    @property
    def catalog_db(self) -> Path:
        return self.home_dir / "catalog.sqlite"

    @property
    def rescue_root(self) -> Path:
        """Local directory that receives error records when the lake bucket cannot."""
        return self.home_dir / "rescue"

    @property
    def run_dir(self) -> Path:
        return self.home_dir / "run"
