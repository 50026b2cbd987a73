"""SourceService's API: its domain types, the interface (``SourcesApi``), the proto
conversions and the remote implementation (the local one is ``servers/sources/core.py``).

A source is a registered PostgreSQL connection; its password goes in once
(``SourceSpec.password``) and never comes back (``Source.has_password``). A pull
(``PullSpec``) streams a table, or a read-only query's rows, from a source into a new
dataset version; with an incremental column it reads only what is past the watermark
the previous pull committed, and commits the new watermark with its version.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import pyarrow as pa

from lakehouse.api.catalog import WriteMode, schema_from_pb, schema_to_pb
from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.errors import invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.api.query import duration_to_pb
from lakehouse.api.remote import Remote
from lakehouse.v1 import sources_pb2, sources_pb2_grpc

# Stable error reasons (ErrorInfo.reason) of SourceService. Pulls also return the
# ingest reasons of the write (SCHEMA_MISMATCH, PRIMARY_KEY_MISMATCH, INVALID_KEY,
# CANCELLED ... in lakehouse.api.ingest), UNKNOWN_COLUMN (lakehouse.api.errors) and
# DATASET_NOT_FOUND / INVALID_DATASET_NAME (lakehouse.api.catalog).
# The registry.
INVALID_SOURCE_NAME = "INVALID_SOURCE_NAME"
SOURCE_NOT_FOUND = "SOURCE_NOT_FOUND"
SOURCE_EXISTS = "SOURCE_EXISTS"
SOURCE_REGISTRY_CORRUPT = "SOURCE_REGISTRY_CORRUPT"
SOURCE_REGISTRY_UNWRITABLE = "SOURCE_REGISTRY_UNWRITABLE"
# Reaching the source.
SOURCE_UNREACHABLE = "SOURCE_UNREACHABLE"  # refused, timed out, name not resolved
SOURCE_AUTH_FAILED = "SOURCE_AUTH_FAILED"  # wrong user or password, or no pg_hba entry
SOURCE_DATABASE_NOT_FOUND = "SOURCE_DATABASE_NOT_FOUND"
SOURCE_CONNECTION_LOST = "SOURCE_CONNECTION_LOST"  # dropped mid-pull (server shut down, backend terminated)
SOURCE_PERMISSION_DENIED = "SOURCE_PERMISSION_DENIED"  # signed in, but may not read this
SOURCE_TIMEOUT = "SOURCE_TIMEOUT"  # the source cancelled a statement (sources.statement_timeout_s)
SOURCE_ERROR = "SOURCE_ERROR"  # any other refusal by the source; the message has its words
# What to pull.
TABLE_NOT_FOUND = "TABLE_NOT_FOUND"
INVALID_TABLE_NAME = "INVALID_TABLE_NAME"
QUERY_NOT_READ_ONLY = "QUERY_NOT_READ_ONLY"
MULTIPLE_STATEMENTS = "MULTIPLE_STATEMENTS"
INVALID_QUERY = "INVALID_QUERY"  # the source could not parse or plan it
DUPLICATE_COLUMN = "DUPLICATE_COLUMN"  # a query returns two columns of one name
UNSUPPORTED_VALUE = "UNSUPPORTED_VALUE"  # a value the lake's type cannot hold (NaN in a numeric(p,s))

SOURCE_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
DEFAULT_PORT = 5432
# The modes a pull may write with (create and delete make no sense for a table read).
PULL_MODES: tuple[WriteMode, ...] = (WriteMode.REPLACE, WriteMode.APPEND, WriteMode.UPSERT)


@dataclass(frozen=True)
class SourceSpec:
    """What CreateSource registers. ``password`` never appears in a repr."""

    name: str
    host: str
    database: str
    user: str
    port: int = DEFAULT_PORT
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Source:
    """A registered source as every method returns it: no password, only whether one is stored."""

    name: str
    host: str
    port: int
    database: str
    user: str
    has_password: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PullSpec:
    """One pull. Exactly one of ``table`` and ``query``; ``mode`` None means replace, or
    append with ``incremental_column``."""

    dataset: str
    source: str
    table: str = ""
    query: str = ""
    mode: WriteMode | str | None = None
    key: tuple[str, ...] = ()
    incremental_column: str = ""
    reset_watermark: bool = False


@dataclass(frozen=True)
class PullResult:
    dataset: str
    version: int  # committed; when ``unchanged``, the current one (0: none)
    mode: WriteMode
    rows: int
    bytes_read: int  # Arrow bytes received from the source
    bytes_written: int  # Parquet bytes
    files: int
    schema: pa.Schema
    elapsed_s: float
    source_hash: str
    incremental_column: str = ""
    watermark_before: str = ""  # PostgreSQL text form; "" = none (every row read)
    watermark_after: str = ""
    unchanged: bool = False  # nothing past the watermark: no version committed


def validate_source_name(name: str, field_name: str = "name") -> str:
    if not SOURCE_NAME_RE.match(name or ""):
        raise invalid_field(
            field_name,
            f"invalid source name {name!r}: use 1-63 lowercase letters, digits or '_', starting with a letter",
            reason=INVALID_SOURCE_NAME,
        )
    return name


class SourcesApi(Protocol):
    """Met in-process by SourcesCore and across processes by RemoteSources."""

    def create_source(self, spec: SourceSpec, *, replace: bool = False, check_connection: bool = False) -> Source: ...

    def list_sources(self, page_size: int = 0, page_token: str = "") -> tuple[list[Source], str]: ...

    def get_source(self, name: str) -> Source: ...

    def delete_source(self, name: str) -> None: ...

    def pull(self, spec: PullSpec, cancelled: Callable[[], bool] | None = None) -> PullResult: ...


# Conversions -----------------------------------------------------------------


def source_to_pb(s: Source) -> sources_pb2.Source:
    return sources_pb2.Source(
        name=s.name,
        host=s.host,
        port=s.port,
        database=s.database,
        user=s.user,
        has_password=s.has_password,
        create_time=timestamp(s.created_at),
        update_time=timestamp(s.updated_at),
    )


def source_from_pb(m: sources_pb2.Source) -> Source:
    return Source(
        name=m.name,
        host=m.host,
        port=m.port,
        database=m.database,
        user=m.user,
        has_password=m.has_password,
        created_at=m.create_time.ToDatetime(tzinfo=UTC),
        updated_at=m.update_time.ToDatetime(tzinfo=UTC),
    )


def create_request(spec: SourceSpec, replace: bool, check_connection: bool) -> sources_pb2.CreateSourceRequest:
    return sources_pb2.CreateSourceRequest(
        name=spec.name,
        host=spec.host,
        port=spec.port,
        database=spec.database,
        user=spec.user,
        password=spec.password,
        replace=replace,
        check_connection=check_connection,
    )


def create_from_pb(m: sources_pb2.CreateSourceRequest) -> tuple[SourceSpec, bool, bool]:
    """The request as a spec (port 0 is the default port), ``replace`` and ``check_connection``."""
    spec = SourceSpec(
        name=m.name, host=m.host, port=m.port or DEFAULT_PORT, database=m.database, user=m.user, password=m.password
    )
    return spec, m.replace, m.check_connection


def pull_to_pb(spec: PullSpec) -> sources_pb2.PullDatasetRequest:
    mode = spec.mode.value if isinstance(spec.mode, WriteMode) else (spec.mode or "")
    return sources_pb2.PullDatasetRequest(
        dataset=spec.dataset,
        source=spec.source,
        table=spec.table,
        query=spec.query,
        mode=mode,
        key=list(spec.key),
        incremental_column=spec.incremental_column,
        reset_watermark=spec.reset_watermark,
    )


def pull_from_pb(m: sources_pb2.PullDatasetRequest) -> PullSpec:
    """The request as given (the core validates the mode and the rest)."""
    return PullSpec(
        dataset=m.dataset,
        source=m.source,
        table=m.table,
        query=m.query,
        mode=m.mode.lower() or None,
        key=tuple(m.key),
        incremental_column=m.incremental_column,
        reset_watermark=m.reset_watermark,
    )


def pull_result_to_pb(r: PullResult) -> sources_pb2.PullResult:
    return sources_pb2.PullResult(
        dataset=r.dataset,
        version=r.version,
        mode=r.mode.value,
        rows=r.rows,
        bytes_read=r.bytes_read,
        bytes_written=r.bytes_written,
        files=r.files,
        incremental_column=r.incremental_column,
        watermark_before=r.watermark_before,
        watermark_after=r.watermark_after,
        unchanged=r.unchanged,
        elapsed=duration_to_pb(r.elapsed_s),
        schema=schema_to_pb(r.schema),
        source_hash=r.source_hash,
    )


def pull_result_from_pb(m: sources_pb2.PullResult) -> PullResult:
    return PullResult(
        dataset=m.dataset,
        version=m.version,
        mode=WriteMode(m.mode),
        rows=m.rows,
        bytes_read=m.bytes_read,
        bytes_written=m.bytes_written,
        files=m.files,
        schema=schema_from_pb(m.schema),
        elapsed_s=m.elapsed.ToTimedelta().total_seconds(),
        source_hash=m.source_hash,
        incremental_column=m.incremental_column,
        watermark_before=m.watermark_before,
        watermark_after=m.watermark_after,
        unchanged=m.unchanged,
    )


# Remote ----------------------------------------------------------------------


class RemoteSources(Remote):
    """SourcesApi over a channel from ``lakehouse.api.channel.open_channel``. A pull has no
    deadline of its own (a table's size is the caller's); ``cancelled`` cancels it."""

    stub_type = sources_pb2_grpc.SourceServiceStub

    def create_source(self, spec: SourceSpec, *, replace: bool = False, check_connection: bool = False) -> Source:
        return source_from_pb(self._call("CreateSource", create_request(spec, replace, check_connection)))

    def list_sources(self, page_size: int = 0, page_token: str = "") -> tuple[list[Source], str]:
        request = sources_pb2.ListSourcesRequest(page_size=page_size, page_token=page_token)
        reply = self._call("ListSources", request)
        return [source_from_pb(s) for s in reply.sources], reply.next_page_token

    def get_source(self, name: str) -> Source:
        return source_from_pb(self._call("GetSource", sources_pb2.GetSourceRequest(name=name)))

    def delete_source(self, name: str) -> None:
        self._call("DeleteSource", sources_pb2.DeleteSourceRequest(name=name))

    def pull(self, spec: PullSpec, cancelled: Callable[[], bool] | None = None) -> PullResult:
        reply = self._channel.call(self._stub.PullDataset, pull_to_pb(spec), NO_DEADLINE, cancelled=cancelled)
        return pull_result_from_pb(reply)
