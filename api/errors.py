"""Domain exceptions raised by cores.

Cores raise these plain-Python exceptions; the one gRPC interceptor in
``servers/interceptors.py`` turns them into a ``google.rpc.Status`` with
``ErrorInfo`` (and ``BadRequest`` when fields are named), which Envoy renders
as a JSON body under the matching HTTP code. Nothing here imports gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR_DOMAIN = "lakehouse.v1"


@dataclass
class FieldViolation:
    field: str
    description: str


@dataclass
class LakehouseError(Exception):
    """Base class. ``reason`` is a stable UPPER_SNAKE identifier clients may switch on."""

    message: str
    reason: str = "ERROR"
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[FieldViolation] = field(default_factory=list)

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


def invalid_field(field_name: str, description: str, reason: str = "INVALID_FIELD") -> InvalidArgument:
    """Shorthand for the common single-field validation failure."""
    return InvalidArgument(
        f"{field_name}: {description}", reason=reason, violations=[FieldViolation(field_name, description)]
    )
