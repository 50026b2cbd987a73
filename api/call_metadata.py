"""Fixed request metadata on every call of a channel built by ``lakehouse.api.channel``.

A caller that speaks for someone else (the MCP server: ``x-lakehouse-source: mcp``) says
so on each call, streamed or not, without every client method passing ``metadata=``.
Written on gRPC's own client-interceptor interfaces, as ``lakehouse.api.tracing`` is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc

from lakehouse.api.tracing import _Details

Metadata = Sequence[tuple[str, str]]


class MetadataInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Appends ``metadata`` (lower-case keys, as gRPC requires) to each call's own."""

    def __init__(self, metadata: Metadata) -> None:
        self._metadata = tuple((key.lower(), value) for key, value in metadata)

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        return _Details(
            details.method,
            details.timeout,
            [*(details.metadata or ()), *self._metadata],
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)
