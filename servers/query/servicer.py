"""QueryService: SQL -> QueryCore -> Arrow IPC stream or JSON rows."""

from __future__ import annotations

import logging

import grpc
from google.protobuf import empty_pb2

from lakehouse.api import arrow_wire
from lakehouse.api.query import rows_to_pb, timeout_from_pb
from lakehouse.servers.memory import apply_process_cap, release_arrow_memory
from lakehouse.v1 import query_pb2, query_pb2_grpc

SERVICE_NAME = "lakehouse.v1.QueryService"
log = logging.getLogger("lakehouse.query")


class QueryServicer(query_pb2_grpc.QueryServiceServicer):
    """Converts, calls the core, converts back (ExecuteQuery answers in wire format)."""

    def __init__(self, core, max_message_bytes: int) -> None:
        self._core = core
        self._max_message_bytes = max_message_bytes

    def ExecuteQuery(self, request, context):
        stream = self._core.open(request.sql, timeout_s=timeout_from_pb(request), query_id=request.query_id)
        context.add_callback(stream.cancel)
        try:
            yield from arrow_wire.encode_stream(stream.schema, stream, self._max_message_bytes)
        finally:
            stream.close()
            release_arrow_memory()  # the encoded messages were built on this thread

    def Sql(self, request, context):
        try:
            result = self._core.rows(
                request.sql,
                max_rows=request.max_rows,
                timeout_s=timeout_from_pb(request),
                query_id=request.query_id,
                on_start=lambda stream: context.add_callback(stream.cancel),
            )
        finally:
            release_arrow_memory()
        return rows_to_pb(result)

    def CancelQuery(self, request, context):
        self._core.cancel(request.query_id)
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
    servicer = QueryServicer(runtime.query, runtime.settings.server.max_message_bytes)
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
