"""The recording interceptor: every RPC of every service becomes an ObservedOp.

It runs in every process, outermost but for the tracing interceptor (so it sees the
status the error interceptor mapped, and a traced call's span is current), and it is
built to cost no measurable time per call (D28, D34):

* handlers are wrapped once per method (``WrappedHandlers``); a method not recorded
  (``observer.unrecorded``: health, reflection, the observer's own reads) keeps its
  handler as it is;
* sizes come from the bytes gRPC already has: the request deserializer and response
  serializer are wrapped and note ``len()`` of what passes through (``ByteSize()`` would
  serialize every message a second time). gRPC deserializes a request on its polling
  thread, so its size is noted by the message's ``id()`` and taken by the handler; a
  response is serialized on the call's own thread, right after the handler, so its size
  is noted in a thread-local;
* a unary call is recorded in the response serializer, after the handler returned, so
  the latency covers serialization; a failed call (the handler raised, or aborted with a
  mapped status) is recorded where it fails, its code read from the context and its
  reason from the ``ErrorInfo`` in the status details; a streamed response is recorded
  when the stream ends (finished, failed, or cancelled by the client: CANCELLED);
* the op is a tuple appended to the recorder's ring (RingRecorder.record_call): no I/O,
  no lock, no ObservedOp built until someone reads it.

The source is ``rest`` when Envoy's transcoder forwarded the call (it adds
``x-envoy-original-path``), else ``grpc``; a caller may say ``workflow``, ``mcp`` or ``ui``
in ``x-lakehouse-source``. Attributes are the key fields of the request (then of the
response, for fields the request did not have), see servers/observer/fields.py.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from lakehouse.api.observer import OK, SOURCE_GRPC, SOURCE_HEADER, SOURCE_REST, SOURCES
from lakehouse.servers.interceptors import WrappedHandlers, rewrapped
from lakehouse.servers.observer.attribution import CALL_SLOT
from lakehouse.servers.observer.fields import FieldSummaries
from lakehouse.servers.observer.recorder import RingRecorder
from lakehouse.servers.settings import ObserverSettings

log = logging.getLogger("lakehouse.observer")

# The header Envoy's gRPC-JSON transcoder adds to a REST request it rewrote
# (gateway_envoy/config.py TRANSCODED_HEADER).
REST_HEADER = "x-envoy-original-path"
STATUS_DETAILS_KEY = "grpc-status-details-bin"
CANCELLED = "CANCELLED"
UNKNOWN = "UNKNOWN"
INTERNAL = "INTERNAL"
NO_TRACE = ("", "")
_NS_PER_MS = 1_000_000


# Request sizes noted but never taken (a call cancelled before its handler ran) are
# forgotten once this many are waiting.
SIZE_NOTES_MAX = 4096


class _CallState(threading.local):
    """Per thread: the unary call waiting for its response to be serialized, and a
    stream's response bytes."""

    pending: tuple | None = None
    response_bytes = 0


def _source(context: grpc.ServicerContext) -> str:
    source = SOURCE_GRPC
    for key, value in context.invocation_metadata() or ():
        if key == REST_HEADER:
            source = SOURCE_REST
        elif key == SOURCE_HEADER and value in SOURCES:
            return value
    return source


def _failure(context: grpc.ServicerContext) -> tuple[str, str]:
    """(code name, ErrorInfo reason) of a call that failed."""
    code = context.code()
    name = code.name if isinstance(code, grpc.StatusCode) else UNKNOWN
    if name == OK:
        name = UNKNOWN  # an exception escaped with no status set: gRPC answers UNKNOWN
    for key, value in context.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY:
            return name, _reason(value)
    return name, ""


def _reason(raw: bytes) -> str:
    try:
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                return info.reason
    except Exception:  # noqa: BLE001 - a status we cannot read still records its code
        return ""
    return ""


def _set_code(context: grpc.ServicerContext) -> str:
    """The code of a call whose handler returned: OK unless it set one itself."""
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else OK


def _trace_ids() -> tuple[str, str]:
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return "", ""
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def _no_trace() -> tuple[str, str]:
    return "", ""


class RecordingInterceptor(grpc.ServerInterceptor):
    """Records every call of every method except ``settings.unrecorded`` into ``recorder``.
    ``traced``: a tracer provider is set, so ops carry the call's trace and span ids."""

    def __init__(self, recorder: RingRecorder, settings: ObserverSettings, traced: bool = False) -> None:
        self._recorder = recorder
        self._fields = FieldSummaries(
            settings.secret_fields, settings.attribute_max_count, settings.attribute_max_chars
        )
        self._skip = frozenset(m for m in settings.unrecorded if not m.endswith("/"))
        self._skip_services = tuple(m for m in settings.unrecorded if m.endswith("/"))
        self._traced = traced
        self._trace_ids = _trace_ids if traced else _no_trace
        self._state = _CallState()
        self._sizes: dict[int, int] = {}  # id(request message) -> its size on the wire
        self._handlers = WrappedHandlers(self._wrap)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)

    def recorded(self, method: str) -> bool:
        return method not in self._skip and not method.startswith(self._skip_services)

    # Building the wrapped handler (once per method) --------------------------------

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if not self.recorded(method):
            return handler
        service, _, name = method.lstrip("/").partition("/")
        state = self._state
        sizes = self._sizes
        record = self._recorder.record_call
        caller_slot = CALL_SLOT
        fields = self._fields
        trace_ids = self._trace_ids
        traced = self._traced
        add_fields = self._fields.add
        perf_ns = time.perf_counter_ns
        # Op times are the monotonic clock shifted to the wall clock by the recorder's offset
        # (refreshed at every flush): one clock read per call, latencies immune to clock steps.
        clock = self._recorder
        streamed_in = handler.request_streaming
        streamed_out = handler.response_streaming

        def summary(message: Any, into: dict[str, str], response: bool = False) -> dict[str, str]:
            if isinstance(message, Message):
                try:
                    fields.add(message, into, response)
                except Exception:  # noqa: BLE001 - a summary must never fail a call
                    pass
            return into

        def counted(requests: Iterator[Any], acc: list) -> Iterator[Any]:
            """A streamed request: sizes summed, attributes from the first message."""
            for request in requests:
                acc[0] += sizes.pop(id(request), 0)
                if acc[1] is None:
                    acc[1] = summary(request, {})
                yield request

        def failed(
            context, start_ns: int, t0: int, request_bytes: int, attrs, response_bytes: int = 0, who: str = ""
        ) -> None:
            try:
                code, reason = _failure(context)
                trace_id, span_id = trace_ids()
                latency = (perf_ns() - t0) / _NS_PER_MS
                source = _source(context)
            except Exception:  # noqa: BLE001
                return
            record(
                start_ns,
                service,
                name,
                source,
                code,
                reason,
                latency,
                request_bytes,
                response_bytes,
                attrs,
                trace_id,
                span_id,
                who,
            )

        def unary_response(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                t0 = perf_ns()
                if streamed_in:
                    acc: list = [0, None]
                    argument: Any = counted(request, acc)
                else:
                    acc = [sizes.pop(id(request), 0), request]
                    argument = request
                who = [""]
                token = caller_slot.set(who)
                try:
                    response = fn(argument, context)
                except BaseException:
                    failed(context, t0 + clock.wall_offset_ns, t0, acc[0], _attrs(acc, streamed_in), 0, who[0])
                    raise
                finally:
                    caller_slot.reset(token)
                # Recorded by the serializer, which gRPC calls next on this thread.
                state.pending = (t0, acc, context, trace_ids() if traced else NO_TRACE, who[0])
                return response

            return call

        def _attrs(acc: list, from_stream: bool) -> dict[str, str]:
            return (acc[1] or {}) if from_stream else summary(acc[1], {})

        def stream_response(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                t0 = perf_ns()
                start_ns = t0 + clock.wall_offset_ns
                if streamed_in:
                    acc: list = [0, None]
                    argument: Any = counted(request, acc)
                else:
                    acc = [sizes.pop(id(request), 0), request]
                    argument = request
                state.response_bytes = 0
                trace_id, span_id = trace_ids()
                code = ""
                who = [""]
                token = caller_slot.set(who)
                try:
                    yield from fn(argument, context)
                except GeneratorExit:
                    code = CANCELLED
                    raise
                except BaseException:
                    failed(context, start_ns, t0, acc[0], _attrs(acc, streamed_in), state.response_bytes, who[0])
                    code = None  # recorded
                    raise
                finally:
                    _reset_quietly(token)
                    if code is not None:
                        try:
                            latency = (perf_ns() - t0) / _NS_PER_MS
                            if not code:
                                code = _set_code(context) if context.is_active() else CANCELLED
                            record(
                                start_ns,
                                service,
                                name,
                                _source(context),
                                code,
                                "",
                                latency,
                                acc[0],
                                state.response_bytes,
                                _attrs(acc, streamed_in),
                                trace_id,
                                span_id,
                                who[0],
                            )
                        except Exception:  # noqa: BLE001
                            pass

            return call

        deserialize = handler.request_deserializer

        def noted_request(raw: bytes) -> Any:
            message = deserialize(raw)
            if len(sizes) > SIZE_NOTES_MAX:
                sizes.clear()
            sizes[id(message)] = len(raw)
            return message

        serialize = handler.response_serializer or _identity

        def unary_serialized(response: Any) -> bytes:
            pending = state.pending
            if pending is None:
                return serialize(response)
            state.pending = None
            t0, acc, context, (trace_id, span_id), who = pending
            try:
                data = serialize(response)
            except BaseException:
                latency = (perf_ns() - t0) / _NS_PER_MS
                record(t0 + clock.wall_offset_ns, service, name, _source(context), INTERNAL, "", latency, acc[0], 0,
                       _attrs(acc, streamed_in), trace_id, span_id, who)  # fmt: skip
                raise
            try:
                latency = (perf_ns() - t0) / _NS_PER_MS
                if streamed_in:
                    attrs = acc[1] or {}
                else:
                    attrs = {}
                    add_fields(acc[1], attrs)  # a decoded request: undecodable ones failed above
                add_fields(response, attrs, True)
                code = context.code()
                record(t0 + clock.wall_offset_ns, service, name, _source(context), code.name if code else OK, "",
                       latency, acc[0], len(data), attrs, trace_id, span_id, who)  # fmt: skip
            except Exception:  # noqa: BLE001 - recording must not fail the call
                pass
            return data

        def stream_serialized(response: Any) -> bytes:
            data = serialize(response)
            state.response_bytes += len(data)
            return data

        wrapped = rewrapped(
            handler,
            unary_response,
            stream_response,
            noted_request if deserialize is not None else None,
        )
        return _with_serializer(wrapped, stream_serialized if streamed_out else unary_serialized)


def _reset_quietly(token) -> None:
    """Close a stream's caller slot; a generator closed from another context cannot."""
    try:
        CALL_SLOT.reset(token)
    except ValueError:
        pass


def _identity(value: Any) -> Any:
    return value


def _with_serializer(handler: grpc.RpcMethodHandler, serializer: Callable[[Any], bytes]) -> grpc.RpcMethodHandler:
    """``handler`` with another response serializer (rewrapped keeps the original)."""
    des = handler.request_deserializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(handler.unary_unary, des, serializer)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(handler.unary_stream, des, serializer)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(handler.stream_unary, des, serializer)
    return grpc.stream_stream_rpc_method_handler(handler.stream_stream, des, serializer)
