"""The one place where exceptions become gRPC statuses.

Servicers and cores raise ``LakehouseError`` subclasses; this interceptor turns
them into a ``google.rpc.Status`` carrying ``ErrorInfo`` (reason, domain,
metadata) and, for named fields, ``BadRequest``. Envoy's transcoder renders the
same status as a JSON body under the matching HTTP code. Anything else is a bug:
it is logged with its traceback and returned as INTERNAL without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from lakehouse.servers.errors import ERROR_DOMAIN, Internal, LakehouseError

log = logging.getLogger("lakehouse.errors")


def to_status(exc: LakehouseError) -> grpc.Status:
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata)
    details = [info]
    if exc.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in exc.violations
                ]
            )
        )
    packed = []
    for detail in details:
        any_msg = any_pb2.Any()
        any_msg.Pack(detail)
        packed.append(any_msg)
    status = status_pb2.Status(code=getattr(code_pb2, exc.code), message=exc.message, details=packed)
    return rpc_status.to_status(status)


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


class ErrorInterceptor(grpc.ServerInterceptor):
    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        method = handler_call_details.method

        def wrap_unary(fn: Callable[..., Any]) -> Callable[..., Any]:
            def call(request: Any, context: grpc.ServicerContext) -> Any:
                try:
                    return fn(request, context)
                except Exception as exc:  # noqa: BLE001 - mapped below
                    if _is_abort(exc):
                        raise
                    _abort(context, method, exc)

            return call

        def wrap_stream(fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
            def call(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                try:
                    yield from fn(request, context)
                except Exception as exc:  # noqa: BLE001 - mapped below
                    if _is_abort(exc):
                        raise
                    _abort(context, method, exc)

            return call

        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                wrap_unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                wrap_stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_unary:
            return grpc.stream_unary_rpc_method_handler(
                wrap_unary(handler.stream_unary), handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_stream:
            return grpc.stream_stream_rpc_method_handler(
                wrap_stream(handler.stream_stream), handler.request_deserializer, handler.response_serializer
            )
        return handler


_ERROR_CLASSES = {cls.code: cls for cls in LakehouseError.__subclasses__()}


def call(method: Callable[..., Any], request: Any, timeout: float | None, **kw: Any) -> Any:
    """A unary call whose failure surfaces as the domain exception it was raised as."""
    try:
        return method(request, timeout=timeout, **kw)
    except grpc.RpcError as err:
        raise from_rpc_error(err) from None


def from_rpc_error(err: grpc.RpcError) -> LakehouseError:
    """The inverse mapping, for in-cluster clients (e.g. a remote catalog), so a
    status from another process surfaces as the same domain exception."""
    code = err.code().name if hasattr(err, "code") else "UNKNOWN"
    cls = _ERROR_CLASSES.get(code, Internal)
    reason, metadata = code, {}
    status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                reason, metadata = info.reason, dict(info.metadata)
    exc = cls(err.details() if hasattr(err, "details") else str(err), reason=reason, metadata=metadata)
    exc.code = code  # keep codes that have no class of their own (OUT_OF_RANGE, DATA_LOSS ...)
    return exc
