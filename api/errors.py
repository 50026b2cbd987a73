"""Domain exceptions raised by cores.

Cores raise these plain-Python exceptions; the one gRPC interceptor in
``servers/interceptors.py`` turns them into a ``google.rpc.Status`` with
``ErrorInfo`` (and ``BadRequest`` when fields are named), which Envoy renders
as a JSON body under the matching HTTP code. Nothing here imports gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR_DOMAIN = "lakehouse.v1"

# Stable reasons (ErrorInfo.reason) any service may return; the reasons of one service
# are defined in its API module (lakehouse.api.catalog, .query, ...).
DEFAULT_REASON = "ERROR"  # a LakehouseError raised without a reason
INVALID_FIELD = "INVALID_FIELD"  # invalid_field without a more specific reason
EMPTY_INPUT = "EMPTY_INPUT"
# An object key (storage) or a primary-key value (an ingest's upsert/delete) is not usable.
INVALID_KEY = "INVALID_KEY"
UNKNOWN_COLUMN = "UNKNOWN_COLUMN"
# The call's HTTP/2 stream was reset before any status arrived (set client-side).
STREAM_RESET = "STREAM_RESET"
# This process neither hosts the called service nor has an upstream for it.
UPSTREAM_NOT_CONFIGURED = "UPSTREAM_NOT_CONFIGURED"
# Admission control, before a method runs: a cap is full (the prefix plus the capped kind
# in upper case, e.g. TOO_MANY_CONCURRENT_UPLOADS), or an upload stalled or ran too long.
TOO_MANY_CONCURRENT_PREFIX = "TOO_MANY_CONCURRENT_"
UPLOAD_STALLED = "UPLOAD_STALLED"
UPLOAD_TOO_SLOW = "UPLOAD_TOO_SLOW"


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass
class LakehouseError(Exception):
    """Base class. ``reason`` is a stable UPPER_SNAKE identifier clients may switch on."""

    message: str
    reason: str = DEFAULT_REASON
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)
    # Protobuf messages the status carries beside ErrorInfo: what the call still produced
    # (e.g. Ask's extractive answer when its chat provider is down). Restored client-side
    # as ``google.protobuf.Any`` messages, to unpack by type.
    attachments: list = field(default_factory=list)

    # gRPC status code name (grpc.StatusCode member name); subclasses override.
    code = "UNKNOWN"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class InvalidArgument(LakehouseError):
    code = "INVALID_ARGUMENT"


class NotFound(LakehouseError):
    code = "NOT_FOUND"


class AlreadyExists(LakehouseError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(LakehouseError):
    code = "FAILED_PRECONDITION"


class Aborted(LakehouseError):
    """A concurrent change won; the caller may retry."""

    code = "ABORTED"


class PermissionDenied(LakehouseError):
    code = "PERMISSION_DENIED"


class Unauthenticated(LakehouseError):
    code = "UNAUTHENTICATED"


class ResourceExhausted(LakehouseError):
    code = "RESOURCE_EXHAUSTED"


class DeadlineExceeded(LakehouseError):
    code = "DEADLINE_EXCEEDED"


class Cancelled(LakehouseError):
    code = "CANCELLED"


class Unavailable(LakehouseError):
    """A dependency (object storage, an upstream service) cannot be reached."""

    code = "UNAVAILABLE"


class Unimplemented(LakehouseError):
    """The method exists in the contract but is not served here (e.g. not hosted by this process)."""

    code = "UNIMPLEMENTED"


class Internal(LakehouseError):
    code = "INTERNAL"


def invalid_field(field_name: str, description: str, reason: str = INVALID_FIELD) -> InvalidArgument:
    """Shorthand for the common single-field validation failure."""
    return InvalidArgument(
        f"{field_name}: {description}", reason=reason, violations=[FieldViolation(field_name, description)]
    )
