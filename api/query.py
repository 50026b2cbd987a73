"""QueryService's API: the interface, its domain types, the proto conversions, and the
remote implementation over the generated stub.

The local implementation is ``lakehouse.servers.query.core.QueryCore``; ``RemoteQuery``
returns the same types and raises the same exceptions (reason and details restored), so
a caller (the matrix service, the Python client) cannot tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import pyarrow as pa
from google.protobuf import duration_pb2, struct_pb2

from lakehouse.api import errors
from lakehouse.api.arrow_wire import decode_response, decode_stream
from lakehouse.api.channel import NO_DEADLINE, Channel
from lakehouse.api.remote import Remote
from lakehouse.v1 import query_pb2, query_pb2_grpc

EXECUTE_QUERY = "/lakehouse.v1.QueryService/ExecuteQuery"
# A query's own timeout is enforced by the server; the call's deadline leaves it room to answer.
DEADLINE_SLACK_S = 5.0

# Stable error reasons (ErrorInfo.reason) of QueryService; a query also returns
# DATASET_NOT_FOUND (lakehouse.api.catalog) and STORAGE_UNAVAILABLE (lakehouse.api.storage).
# The statement is refused before it runs.
SQL_EMPTY = "SQL_EMPTY"
SQL_SYNTAX = "SQL_SYNTAX"
SQL_MULTIPLE_STATEMENTS = "SQL_MULTIPLE_STATEMENTS"
SQL_UNSUPPORTED = "SQL_UNSUPPORTED"
SQL_TOO_COMPLEX = "SQL_TOO_COMPLEX"
SANDBOX_VIOLATION = "SANDBOX_VIOLATION"
INVALID_TIMEOUT = "INVALID_TIMEOUT"
INVALID_MAX_ROWS = "INVALID_MAX_ROWS"
QUERY_ID_IN_USE = "QUERY_ID_IN_USE"
# The engine refused or failed the statement.
SQL_BIND = "SQL_BIND"
SQL_RUNTIME = "SQL_RUNTIME"
DATASET_UNAVAILABLE = "DATASET_UNAVAILABLE"  # the dataset's view could not be built
DATASET_UNREADABLE = "DATASET_UNREADABLE"  # a file of the dataset cannot be read
QUERY_TIMEOUT = "QUERY_TIMEOUT"
QUERY_CANCELLED = "QUERY_CANCELLED"
QUERY_OUT_OF_MEMORY = "QUERY_OUT_OF_MEMORY"
QUERY_FAILED = "QUERY_FAILED"
# The engine failed internally on this query (a DuckDB assertion): INTERNAL, because it
# is a server defect that retrying the same statement would only repeat.
QUERY_ENGINE_FAILED = "QUERY_ENGINE_FAILED"
# The engine is being rebuilt after such a failure: UNAVAILABLE, a retry soon succeeds.
QUERY_ENGINE_RESTARTING = "QUERY_ENGINE_RESTARTING"
QUERY_ENGINE_CLOSED = "QUERY_ENGINE_CLOSED"
QUERY_ENGINE_BUSY = "QUERY_ENGINE_BUSY"
CATALOG_FAILED = "CATALOG_FAILED"  # reading the catalog for the query's datasets failed
STREAM_CLOSED = "STREAM_CLOSED"  # a result stream read after it was closed
QUERY_NOT_FOUND = "QUERY_NOT_FOUND"  # no running query has the id to cancel


@dataclass(frozen=True)
class Rows:
    """A capped result (JSON-friendly values): ``columns`` are (name, engine type) pairs."""

    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    truncated: bool


class QueryApi(Protocol):
    """Read-only SQL over the catalog's datasets."""

    def stream(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> pa.RecordBatchReader:
        """The whole result as Arrow batches, read as they are produced."""
        ...

    def rows(self, sql: str, *, max_rows: int = 0, timeout_s: float | None = None, query_id: str = "") -> Rows:
        """At most ``max_rows`` rows (0: the server's cap) as JSON-friendly values."""
        ...

    def cancel(self, query_id: str) -> None:
        """Stop the running query started with ``query_id`` (NotFound when none runs)."""
        ...


# Conversions ---------------------------------------------------------------------


def duration_to_pb(seconds: float | None) -> duration_pb2.Duration | None:
    if seconds is None:
        return None
    out = duration_pb2.Duration()
    out.FromTimedelta(timedelta(seconds=seconds))
    return out


def timeout_from_pb(message: Any) -> float | None:
    """A request's ``timeout`` in seconds (None when unset); it must be positive."""
    if not message.HasField("timeout"):
        return None
    seconds = message.timeout.ToTimedelta().total_seconds()
    if seconds <= 0:
        raise errors.invalid_field("timeout", "must be positive")
    return seconds


# JSON numbers are doubles: integers beyond this travel as strings (query.proto says so).
MAX_EXACT_JSON_INT = 2**53


def _wire(value: Any) -> Any:
    """A row value as a protobuf Value can hold it exactly."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_EXACT_JSON_INT:
        return str(value)
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    return value


def rows_to_pb(result: Rows) -> query_pb2.SqlResponse:
    rows = []
    for row in result.rows:
        values = struct_pb2.ListValue()
        values.extend([_wire(v) for v in row])
        rows.append(values)
    return query_pb2.SqlResponse(
        columns=[query_pb2.Column(name=n, type=t) for n, t in result.columns],
        rows=rows,
        truncated=result.truncated,
        row_count=len(rows),
    )


# Engine column types whose JSON numbers are integers (JSON itself does not say).
INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)


def _value(v: struct_pb2.Value, integral: bool = False) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "null_value" or kind is None:
        return None
    if kind == "number_value":
        return int(v.number_value) if integral else v.number_value
    if kind == "string_value":
        return int(v.string_value) if integral else v.string_value  # a big integer, sent as text
    if kind == "bool_value":
        return v.bool_value
    if kind == "list_value":
        return [_value(x) for x in v.list_value.values]
    return {k: _value(x) for k, x in v.struct_value.fields.items()}


def rows_from_pb(message: query_pb2.SqlResponse) -> Rows:
    integral = [c.type in INTEGER_TYPES for c in message.columns]
    return Rows(
        columns=[(c.name, c.type) for c in message.columns],
        rows=[[_value(v, i) for v, i in zip(row.values, integral, strict=False)] for row in message.rows],
        truncated=message.truncated,
    )


# Remote ----------------------------------------------------------------------------


class RemoteQuery(Remote):
    """QueryApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = query_pb2_grpc.QueryServiceStub

    def __init__(self, channel: Channel) -> None:
        super().__init__(channel)
        # Raw responses: the Arrow payload is sliced out of each message without copies.
        self._execute_raw = channel.grpc.unary_stream(
            EXECUTE_QUERY,
            request_serializer=query_pb2.ExecuteQueryRequest.SerializeToString,
            response_deserializer=None,
        )

    def _deadline(self, timeout_s: float | None) -> float | None:
        """The call's deadline: the query's own timeout plus room to answer. Without one the
        server's default query timeout bounds the call (and keepalive notices a dead peer), so
        no channel default cuts a long stream short."""
        return timeout_s + DEADLINE_SLACK_S if timeout_s else None

    def stream(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> pa.RecordBatchReader:
        request = query_pb2.ExecuteQueryRequest(sql=sql, timeout=duration_to_pb(timeout_s), query_id=query_id)
        responses = self._channel.stream(self._execute_raw, request, self._deadline(timeout_s) or NO_DEADLINE)
        return decode_stream(decode_response(raw) for raw in responses)

    def rows(self, sql: str, *, max_rows: int = 0, timeout_s: float | None = None, query_id: str = "") -> Rows:
        request = query_pb2.SqlRequest(sql=sql, max_rows=max_rows, timeout=duration_to_pb(timeout_s), query_id=query_id)
        return rows_from_pb(self._call("Sql", request, self._deadline(timeout_s)))

    def cancel(self, query_id: str) -> None:
        request = query_pb2.CancelQueryRequest(query_id=query_id)
        self._call("CancelQuery", request)
