"""The one mapping between domain exceptions and gRPC statuses, both ways.

A ``LakehouseError`` becomes a ``google.rpc.Status`` carrying ``ErrorInfo`` (reason,
domain, metadata) and, for named fields, ``BadRequest`` (``to_status``, used by the
server interceptor); a failed call becomes the same exception again, its reason,
metadata and field violations restored (``from_rpc_error``, used by every remote and
the client). Envoy's transcoder renders the same status as a JSON body.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, json_format
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from lakehouse.api.errors import ERROR_DOMAIN, STREAM_RESET, FieldViolation, Internal, LakehouseError, Unavailable

# How gRPC reports a stream the peer reset before any status arrived.
_RESET_MARKER = "RST_STREAM"


# gRPC code name -> HTTP status, as Envoy's transcoder maps them for REST; the HTTP
# front ends (UI, MCP) answer with the same.
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


def http_status(exc: LakehouseError) -> int:
    return HTTP_STATUS.get(exc.code, 500)


def status_json(exc: LakehouseError) -> dict:
    """The error as the transcoder's JSON body: a google.rpc.Status with its details."""
    return json_format.MessageToDict(to_rpc_status(exc))


def to_status(exc: LakehouseError) -> grpc.Status:
    return rpc_status.to_status(to_rpc_status(exc))


def to_rpc_status(exc: LakehouseError) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason=exc.reason, domain=ERROR_DOMAIN, metadata=exc.metadata)
    details = [info]
    if exc.violations:
        details.append(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(
                        field=v.field, description=v.description, reason=exc.reason
                    )
                    for v in exc.violations
                ]
            )
        )
    details.extend(exc.attachments)
    packed = []
    for detail in details:
        any_msg = any_pb2.Any()
        any_msg.Pack(detail)
        packed.append(any_msg)
    return status_pb2.Status(code=getattr(code_pb2, exc.code), message=exc.message, details=packed)


_ERROR_CLASSES = {cls.code: cls for cls in LakehouseError.__subclasses__()}


def from_rpc_error(err: grpc.RpcError) -> LakehouseError:
    """The inverse mapping, for in-cluster clients (e.g. a remote catalog), so a
    status from another process surfaces as the same domain exception."""
    code = err.code().name if hasattr(err, "code") else "UNKNOWN"
    status = rpc_status.from_call(err) if hasattr(err, "trailing_metadata") else None
    details = (err.details() if hasattr(err, "details") else str(err)) or ""
    if code == "INTERNAL" and status is None and _RESET_MARKER in details:
        return _stream_reset(details)
    cls = _ERROR_CLASSES.get(code, Internal)
    reason, metadata = code, {}
    violations: list[FieldViolation] = []
    attachments: list[any_pb2.Any] = []
    if status is not None:
        for detail in status.details:
            info = error_details_pb2.ErrorInfo()
            bad = error_details_pb2.BadRequest()
            if detail.Is(info.DESCRIPTOR) and detail.Unpack(info):
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(bad.DESCRIPTOR) and detail.Unpack(bad):
                violations = [FieldViolation(v.field, v.description) for v in bad.field_violations]
            else:
                attachments.append(detail)
    exc = cls(details, reason=reason, metadata=metadata, violations=violations, attachments=attachments)
    exc.code = code  # keep codes that have no class of their own (OUT_OF_RANGE, DATA_LOSS ...)
    return exc


def _stream_reset(details: str) -> Unavailable:
    """A call cut off mid-stream: e.g. the server died after the response had started,
    which Envoy can only pass on as an HTTP/2 reset, and gRPC libraries report as
    INTERNAL. Nothing answered it, so it is UNAVAILABLE; whether it took effect is unknown."""
    return Unavailable(
        f"the call was cut off before it completed ({details}); it may or may not have taken effect",
        reason=STREAM_RESET,
    )
