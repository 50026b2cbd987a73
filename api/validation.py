"""ValidationService's API: a validation request, the report (one result per check),
their conversions, the ``ValidationApi`` protocol and its remote implementation.

A suite is a list of declarative checks (see ``servers/validation/suite.py``); a report
says, per check, whether it held, how many rows violate it and a bounded sample of them.
``ChecksFailed`` is what an ingest gate raises when the staged version fails a blocking
check: FAILED_PRECONDITION with the report attached to the status (a REST caller gets it
in the 400 body's details; ``report_of`` restores it client-side).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from google.protobuf import any_pb2, json_format, struct_pb2

from lakehouse.api.errors import FailedPrecondition
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import validation_pb2, validation_pb2_grpc

# Stable error reasons (ErrorInfo.reason) of ValidationService. It also returns
# UNKNOWN_COLUMN (lakehouse.api.errors) for a column the dataset lacks, and the catalog's
# DATASET_NOT_FOUND / VERSION_NOT_FOUND.
UNKNOWN_CHECK = "UNKNOWN_CHECK"  # a check whose type is not one of CHECK_TYPES
INVALID_SUITE = "INVALID_SUITE"  # a suite that is not valid YAML/JSON or breaks the check rules
SUITE_NOT_FOUND = "SUITE_NOT_FOUND"  # no stored suite of that name
SUITE_REQUIRED = "SUITE_REQUIRED"  # none (or more than one) of suite, suite_text, suite_spec
CHECK_NOT_APPLICABLE = "CHECK_NOT_APPLICABLE"  # e.g. a range bound the column's type cannot compare with
CHECKS_FAILED = "CHECKS_FAILED"  # FAILED_PRECONDITION: an ingest's staged version failed a blocking check
VALIDATION_TIMEOUT = "VALIDATION_TIMEOUT"  # DEADLINE_EXCEEDED after validator.timeout_s

CHECK_TYPES: tuple[str, ...] = (
    "schema",
    "not_null",
    "null_rate",
    "unique",
    "range",
    "allowed_values",
    "regex",
    "row_count",
    "freshness",
    "references",
)


@dataclass(frozen=True)
class ValidateRequest:
    """Exactly one of ``suite`` (a stored suite's name), ``suite_text`` (YAML or JSON) and
    ``suite_spec`` (the parsed object) names the checks."""

    dataset: str
    version: int = 0  # 0: the current version
    suite: str = ""
    suite_text: str = ""
    suite_spec: Mapping[str, Any] | None = None
    sample_rows: int = 0  # 0: validator.sample_rows


@dataclass(frozen=True)
class CheckResult:
    name: str
    type: str
    columns: tuple[str, ...]
    blocking: bool
    passed: bool
    failing_count: int
    observed: float
    message: str
    sample: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ValidationReport:
    validation_id: str
    dataset: str
    version: int
    suite: str
    rows: int
    checks: tuple[CheckResult, ...]
    validated_at: datetime
    elapsed_ms: float = 0.0
    report_dataset: str = ""
    report_version: int = 0
    warning: str = ""

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """Blocking checks that failed."""
        return tuple(c for c in self.checks if c.blocking and not c.passed)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """Non-blocking checks that failed."""
        return tuple(c for c in self.checks if not c.blocking and not c.passed)

    @property
    def passed(self) -> bool:
        return not self.failed


class ChecksFailed(FailedPrecondition):
    """A staged version failed blocking checks: it was not committed. Carries the report."""

    def __init__(self, report: ValidationReport) -> None:
        failed = report.failed
        listed = ", ".join(f"{c.name} ({c.failing_count} failing: {c.message})" for c in failed)
        super().__init__(
            f"{len(failed)} blocking check(s) failed on {report.dataset} v{report.version}, which was not"
            f" committed: {listed}",
            reason=CHECKS_FAILED,
            metadata={
                "dataset": report.dataset,
                "version": str(report.version),
                "suite": report.suite,
                "validation_id": report.validation_id,
                "failed_checks": ",".join(c.name for c in failed),
            },
            attachments=[report_to_pb(report)],
        )
        self.report = report


def report_of(exc: BaseException) -> ValidationReport | None:
    """The report a ChecksFailed carries, in-process or restored from a status."""
    if isinstance(exc, ChecksFailed):
        return exc.report
    for detail in getattr(exc, "attachments", ()):
        message = validation_pb2.ValidationReport()
        if isinstance(detail, any_pb2.Any) and detail.Is(message.DESCRIPTOR) and detail.Unpack(message):
            return report_from_pb(message)
        if isinstance(detail, validation_pb2.ValidationReport):
            return report_from_pb(detail)
    return None


class ValidationApi(Protocol):
    """Met in-process by ValidationCore and across processes by RemoteValidation."""

    def validate(self, request: ValidateRequest) -> ValidationReport: ...


# Conversions ---------------------------------------------------------------------


def request_to_pb(r: ValidateRequest) -> validation_pb2.ValidateDatasetRequest:
    message = validation_pb2.ValidateDatasetRequest(
        dataset=r.dataset, version=r.version, suite=r.suite, suite_text=r.suite_text, sample_rows=r.sample_rows
    )
    if r.suite_spec is not None:
        message.suite_spec.update(dict(r.suite_spec))
    return message


def request_from_pb(m: validation_pb2.ValidateDatasetRequest) -> ValidateRequest:
    return ValidateRequest(
        dataset=m.dataset,
        version=m.version,
        suite=m.suite,
        suite_text=m.suite_text,
        suite_spec=json_format.MessageToDict(m.suite_spec) if m.HasField("suite_spec") else None,
        sample_rows=m.sample_rows,
    )


def _row_struct(row: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(dict(row))
    return out


def check_to_pb(c: CheckResult) -> validation_pb2.CheckResult:
    return validation_pb2.CheckResult(
        name=c.name,
        type=c.type,
        columns=list(c.columns),
        blocking=c.blocking,
        passed=c.passed,
        failing_count=c.failing_count,
        observed=c.observed,
        message=c.message,
        sample=[_row_struct(row) for row in c.sample],
    )


def check_from_pb(m: validation_pb2.CheckResult) -> CheckResult:
    return CheckResult(
        name=m.name,
        type=m.type,
        columns=tuple(m.columns),
        blocking=m.blocking,
        passed=m.passed,
        failing_count=m.failing_count,
        observed=m.observed,
        message=m.message,
        sample=tuple(json_format.MessageToDict(s) for s in m.sample),
    )


def report_to_pb(r: ValidationReport) -> validation_pb2.ValidationReport:
    return validation_pb2.ValidationReport(
        validation_id=r.validation_id,
        dataset=r.dataset,
        version=r.version,
        suite=r.suite,
        passed=r.passed,
        failed=len(r.failed),
        warnings=len(r.warnings),
        rows=r.rows,
        checks=[check_to_pb(c) for c in r.checks],
        validated_at=timestamp(r.validated_at),
        elapsed_ms=r.elapsed_ms,
        report_dataset=r.report_dataset,
        report_version=r.report_version,
        warning=r.warning,
    )


def report_from_pb(m: validation_pb2.ValidationReport) -> ValidationReport:
    return ValidationReport(
        validation_id=m.validation_id,
        dataset=m.dataset,
        version=m.version,
        suite=m.suite,
        rows=m.rows,
        checks=tuple(check_from_pb(c) for c in m.checks),
        validated_at=m.validated_at.ToDatetime(tzinfo=UTC),
        elapsed_ms=m.elapsed_ms,
        report_dataset=m.report_dataset,
        report_version=m.report_version,
        warning=m.warning,
    )


# Remote --------------------------------------------------------------------------


class RemoteValidation(Remote):
    """ValidationApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = validation_pb2_grpc.ValidationServiceStub

    def validate(self, request: ValidateRequest) -> ValidationReport:
        return report_from_pb(self._call("ValidateDataset", request_to_pb(request)))
