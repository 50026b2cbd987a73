"""QueryService: SQL -> QueryCore -> Arrow IPC stream or JSON rows."""

from __future__ import annotations

import logging
import threading

import grpc
from google.protobuf import empty_pb2, struct_pb2

from lakehouse.api import arrow_wire
from lakehouse.api.errors import AlreadyExists, NotFound, invalid_field
from lakehouse.servers.memory import apply_process_cap, release_arrow_memory
from lakehouse.v1 import query_pb2, query_pb2_grpc

SERVICE_NAME = "lakehouse.v1.QueryService"
log = logging.getLogger("lakehouse.query")


class RunningQueries:
    """Queries in flight by caller-given id, so CancelQuery can reach them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, object] = {}

    def add(self, query_id: str, stream) -> None:
        if not query_id:
            return
        with self._lock:
            if query_id in self._by_id:
                raise AlreadyExists(f"query {query_id!r} is already running", reason="QUERY_ID_IN_USE")
            self._by_id[query_id] = stream

    def remove(self, query_id: str, stream) -> None:
        with self._lock:
            if self._by_id.get(query_id) is stream:
                del self._by_id[query_id]

    def cancel(self, query_id: str) -> None:
        with self._lock:
            stream = self._by_id.get(query_id)
        if stream is None:
            raise NotFound(f"no running query {query_id!r}", reason="QUERY_NOT_FOUND", metadata={"query_id": query_id})
        stream.cancel()


def _timeout(msg) -> float | None:
    if not msg.HasField("timeout"):
        return None
    seconds = msg.timeout.ToTimedelta().total_seconds()
    if seconds <= 0:
        raise invalid_field("timeout", "must be positive")
    return seconds


class QueryServicer(query_pb2_grpc.QueryServiceServicer):
    def __init__(self, runtime) -> None:
        self._rt = runtime
        self._running = RunningQueries()

    def ExecuteQuery(self, request, context):
        if not request.sql.strip():
            raise invalid_field("sql", "required")
        stream = self._rt.query.execute(request.sql, timeout_s=_timeout(request))
        self._running.add(request.query_id, stream)
        context.add_callback(stream.cancel)
        try:
            limit = self._rt.settings.server.max_message_bytes
            yield from arrow_wire.encode_stream(stream.schema, stream, limit)
        finally:
            self._running.remove(request.query_id, stream)
            stream.close()
            release_arrow_memory()  # the encoded messages were built on this thread

    def Sql(self, request, context):
        if not request.sql.strip():
            raise invalid_field("sql", "required")
        cap = self._rt.settings.query.max_json_rows
        if request.max_rows < 0:
            raise invalid_field("max_rows", "must not be negative")
        max_rows = min(request.max_rows or cap, cap)
        started = []

        def track(stream) -> None:
            self._running.add(request.query_id, stream)
            started.append(stream)
            context.add_callback(stream.cancel)

        try:
            result = self._rt.query.execute_rows(request.sql, max_rows, timeout_s=_timeout(request), on_start=track)
        finally:
            for stream in started:
                self._running.remove(request.query_id, stream)
            release_arrow_memory()
        rows = []
        for row in result.rows:
            lv = struct_pb2.ListValue()
            lv.extend(row)
            rows.append(lv)
        return query_pb2.SqlResponse(
            columns=[query_pb2.Column(name=n, type=t) for n, t in result.columns],
            rows=rows,
            truncated=result.truncated,
            row_count=len(rows),
        )

    def CancelQuery(self, request, context):
        if not request.query_id:
            raise invalid_field("query_id", "required")
        self._running.cancel(request.query_id)
        return empty_pb2.Empty()


def register(server: grpc.Server, runtime) -> None:
    """Like the generated add_QueryServiceServicer_to_server, except that
    ExecuteQuery yields responses already in wire format (see arrow_wire).

    A process hosting queries also caps its data segment (query.process_memory_limit):
    the only bound on engine allocations DuckDB's memory_limit does not see. The cap is
    never set below what the process already uses plus the engine's memory_limit (the
    data segment counts reserved address space, e.g. thread stacks, not only RSS)."""
    settings = runtime.settings.query
    cap = apply_process_cap(settings.process_memory_limit, settings.memory_limit)
    if cap:
        log.info("process data limit: %d MiB", cap // (1024 * 1024))
    servicer = QueryServicer(runtime)
    handlers = {
        "ExecuteQuery": grpc.unary_stream_rpc_method_handler(
            servicer.ExecuteQuery,
            request_deserializer=query_pb2.ExecuteQueryRequest.FromString,
            response_serializer=bytes,
        ),
        "Sql": grpc.unary_unary_rpc_method_handler(
            servicer.Sql,
            request_deserializer=query_pb2.SqlRequest.FromString,
            response_serializer=query_pb2.SqlResponse.SerializeToString,
        ),
        "CancelQuery": grpc.unary_unary_rpc_method_handler(
            servicer.CancelQuery,
            request_deserializer=query_pb2.CancelQueryRequest.FromString,
            response_serializer=empty_pb2.Empty.SerializeToString,
        ),
    }
    missing = set(query_pb2.DESCRIPTOR.services_by_name["QueryService"].methods_by_name) - set(handlers)
    if missing:
        raise RuntimeError(f"QueryService methods without a handler: {sorted(missing)}")
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
