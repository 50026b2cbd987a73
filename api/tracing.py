"""Trace context across processes for channels built by ``lakehouse.api.channel``.

Every call gets the caller's W3C trace context in its metadata (so the server's
OpenTelemetry interceptor continues the same trace) and, for unary calls, a client
span that ends when the call does. Written on gRPC's own client-interceptor
interfaces rather than OpenTelemetry's wrapper channel, which hands back streamed
calls as bare generators (no ``cancel()``, no metadata). A channel opened while no
tracer provider is configured is not intercepted at all (``tracing_configured``).
"""

from __future__ import annotations

import collections
from typing import Any

import grpc
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

TRACER_NAME = "lakehouse.api.channel"


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


def _with_context(details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return details
    metadata = [*(details.metadata or ()), *carrier.items()]
    return _Details(
        details.method,
        details.timeout,
        metadata,
        details.credentials,
        getattr(details, "wait_for_ready", None),
        getattr(details, "compression", None),
    )


def tracing_configured() -> bool:
    """Whether a tracer provider is set. Without one, spans and context are no-ops, and the
    interceptor would only cost every call gRPC's intercepted-call path (a channel opened
    before a provider is set stays untraced)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


class TracingInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    def __init__(self) -> None:
        self._tracer = trace.get_tracer(TRACER_NAME)

    def _unary(self, continuation: Any, details: grpc.ClientCallDetails, request: Any) -> Any:
        span = self._tracer.start_span(details.method.lstrip("/"), kind=SpanKind.CLIENT)
        if not span.is_recording():
            span.end()
            return continuation(_with_context(details), request)
        with trace.use_span(span, end_on_exit=False):
            outcome = continuation(_with_context(details), request)

        def finish(call: Any) -> None:
            code = call.code()
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code != grpc.StatusCode.OK:
                span.set_status(Status(StatusCode.ERROR, code.name))
            span.end()

        outcome.add_done_callback(finish)
        return outcome

    def intercept_unary_unary(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return self._unary(continuation, client_call_details, request)

    def intercept_stream_unary(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return self._unary(continuation, client_call_details, request_iterator)

    def intercept_unary_stream(self, continuation, client_call_details, request):  # type: ignore[no-untyped-def]
        return continuation(_with_context(client_call_details), request)

    def intercept_stream_stream(self, continuation, client_call_details, request_iterator):  # type: ignore[no-untyped-def]
        return continuation(_with_context(client_call_details), request_iterator)
