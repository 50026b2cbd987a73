"""The server side of the one exception <-> status mapping (``lakehouse.api.status``).

Servicers and cores raise ``LakehouseError`` subclasses; this interceptor turns
them into a ``google.rpc.Status`` carrying ``ErrorInfo`` (reason, domain,
metadata) and, for named fields, ``BadRequest``. Envoy's transcoder renders the
same status as a JSON body under the matching HTTP code. Anything else is a bug:
it is logged with its traceback and returned as INTERNAL without internals.

It also owns the one failure that happens before any handler runs: a request the
protobuf decoder refuses (invalid UTF-8 in a string field, corrupt wire bytes,
nesting past the decoder's depth limit). gRPC would answer that INTERNAL
("Exception deserializing request!"); here it is INVALID_ARGUMENT with a reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc

from lakehouse.api.errors import Internal, InvalidArgument, LakehouseError
from lakehouse.api.status import to_status

log = logging.getLogger("lakehouse.errors")

# upb's depth limit for nested messages (kUpb_WireFormat_DefaultDepthLimit); a fact of
# the decoder, not a setting. A JSON object level inside a Struct costs three of them.
PROTOBUF_MAX_DEPTH = 100


class _Undecodable:
    """Stands in for a request the decoder refused, so the handler wrapper can answer
    INVALID_ARGUMENT (a deserializer that raises makes gRPC answer INTERNAL itself)."""

    __slots__ = ("error",)

    def __init__(self, error: InvalidArgument) -> None:
        self.error = error


def decode_error(message: str, exc: Exception) -> InvalidArgument:
    """The client-facing error for a request of type ``message`` the decoder refused."""
    text = str(exc)
    if "MaxDepth" in text or "recursion" in text.lower():
        return InvalidArgument(
            f"the {message} request nests messages deeper than the protobuf decoder's limit of"
            f" {PROTOBUF_MAX_DEPTH} levels",
            reason="NESTING_TOO_DEEP",
            metadata={"message": message, "limit": str(PROTOBUF_MAX_DEPTH)},
        )
    what = "a string field is not valid UTF-8" if "UTF-8" in text else "the bytes are not a valid message"
    return InvalidArgument(
        f"the {message} request cannot be decoded: {what}",
        reason="INVALID_REQUEST_ENCODING",
        metadata={"message": message},
    )


def _safe_deserializer(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None
    owner = getattr(deserialize, "__self__", None)
    descriptor = getattr(owner, "DESCRIPTOR", None)
    message = descriptor.full_name if descriptor is not None else "request"

    def safe(raw: bytes) -> Any:
        try:
            return deserialize(raw)
        except Exception as exc:  # noqa: BLE001 - DecodeError and whatever else the decoder raises
            return _Undecodable(decode_error(message, exc))

    return safe


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    for request in requests:
        if type(request) is _Undecodable:
            raise request.error
        yield request


def _internal(method: str, exc: BaseException) -> grpc.Status:
    log.exception("unhandled error in %s", method, exc_info=exc)
    return to_status(Internal(f"internal error in {method}", reason="INTERNAL"))


def _abort(context: grpc.ServicerContext, method: str, exc: BaseException) -> None:
    status = to_status(exc) if isinstance(exc, LakehouseError) else _internal(method, exc)
    # set_code first: wrappers of the context (e.g. the tracing interceptor's) see the code.
    context.set_code(status.code)
    context.set_details(status.details)
    context.abort_with_status(status)


def _is_abort(exc: BaseException) -> bool:
    # context.abort raises a bare Exception after recording the status; let it through.
    return type(exc) is Exception and not exc.args


class WrappedHandlers:
    """Wrapped method handlers, built once per method: gRPC asks the interceptors for a
    handler on every call, and a wrapper built per call is a per-call allocation of
    closures and handler objects. Keyed by method, checked against the handler the
    continuation returned (so a different inner handler is wrapped afresh)."""

    def __init__(self, wrap: Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]) -> None:
        self._wrap = wrap
        self._built: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    def get(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        built = self._built.get(method)
        if built is not None and built[0] is handler:
            return built[1]
        wrapped = self._wrap(method, handler)
        self._built[method] = (handler, wrapped)  # a racing call builds an equal one; either is right
        return wrapped


class ErrorInterceptor(grpc.ServerInterceptor):
    def __init__(self) -> None:
        self._handlers = WrappedHandlers(_error_mapped)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return self._handlers.get(handler_call_details.method, handler)


def _error_mapped(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """``handler`` with every exception mapped to a status (and undecodable requests refused)."""
    streamed = handler.request_streaming

    def arguments(request: Any) -> Any:
        if streamed:
            return _checked(request)
        if type(request) is _Undecodable:
            raise request.error
        return request

    def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(request: Any, context: grpc.ServicerContext) -> Any:
            try:
                return fn(arguments(request), context)
            except Exception as exc:  # noqa: BLE001 - mapped below
                if _is_abort(exc):
                    raise
                _abort(context, method, exc)

        return call

    def wrap_stream(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from fn(arguments(request), context)
            except Exception as exc:  # noqa: BLE001 - mapped below
                if _is_abort(exc):
                    raise
                _abort(context, method, exc)

        return call

    return rewrapped(handler, wrap_unary, wrap_stream, _safe_deserializer(handler.request_deserializer))


Wrapper = Callable[[Callable[..., Any]], Callable[..., Any]]


def rewrapped(
    handler: grpc.RpcMethodHandler,
    unary_response: Wrapper,
    stream_response: Wrapper,
    deserializer: Callable[[bytes], Any] | None = None,
) -> grpc.RpcMethodHandler:
    """``handler`` with its behaviour wrapped by the wrapper for its response arity (and,
    optionally, another request deserializer); the serializer is kept."""
    des = deserializer if deserializer is not None else handler.request_deserializer
    ser = handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary_response(handler.unary_unary), des, ser)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(stream_response(handler.unary_stream), des, ser)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary_response(handler.stream_unary), des, ser)
    if handler.stream_stream:
        return grpc.stream_stream_rpc_method_handler(stream_response(handler.stream_stream), des, ser)
    return handler
