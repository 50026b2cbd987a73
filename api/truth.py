"""TruthService's API: rule checks over one record or a dataset, their plain types, the
conversions to and from the contract, the ``TruthApi`` protocol and its remote.

A check names its rules (TOML text, or a known rule set) and one target: a record (a
dict) or a dataset. The result lists the violations (rule id, severity, the record's
key) and one count per rule; a dataset check's counts are also appended to the lake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from lakehouse.api.remote import Remote
from lakehouse.api.vector import _dict, _struct
from lakehouse.v1 import truth_pb2, truth_pb2_grpc

SEVERITIES = ("error", "warning", "info")
ORIGIN_HOME = "home"
ORIGIN_EXAMPLE = "example"
INLINE = "inline"  # the rule_set name of rules given as text

# Stable error reasons (ErrorInfo.reason) of TruthService; a rule naming a column the
# dataset lacks is UNKNOWN_COLUMN (lakehouse.api.errors), a missing dataset DATASET_NOT_FOUND.
RULES_TOML_SYNTAX = "RULES_TOML_SYNTAX"  # the file is not TOML (line and column in the metadata)
RULE_SYNTAX = "RULE_SYNTAX"  # a condition does not parse (rule, line, column)
RULES_INVALID = "RULES_INVALID"  # a missing, unknown or mistyped field of the file or of a rule
DUPLICATE_RULE_ID = "DUPLICATE_RULE_ID"
RULES_TOO_LARGE = "RULES_TOO_LARGE"
RULE_TYPE_MISMATCH = "RULE_TYPE_MISMATCH"  # e.g. a number compared with a text column
UNSUPPORTED_COLUMN_TYPE = "UNSUPPORTED_COLUMN_TYPE"  # e.g. a timestamp column in a rule
RULE_SET_NOT_FOUND = "RULE_SET_NOT_FOUND"
RULES_SOURCE_REQUIRED = "RULES_SOURCE_REQUIRED"  # neither or both of rules and rule_set
TARGET_REQUIRED = "TARGET_REQUIRED"  # neither or both of record and dataset
INVALID_LIMIT = "INVALID_LIMIT"


@dataclass(frozen=True)
class CheckRequest:
    rules: str = ""  # TOML text, or
    rules_source: str = ""  # (what messages call that text: e.g. its file; default "inline")
    rule_set: str = ""  # a known rule set's name
    record: Mapping[str, Any] | None = None  # the target: one record,
    records: tuple[Mapping[str, Any], ...] = ()  # several,
    dataset: str = ""  # or every row of a dataset
    key: str = ""  # the field identifying a record (default: the rule set's key)
    limit: int = 0  # violations returned (0: truth.violations_default)


@dataclass(frozen=True)
class Violation:
    rule_id: str
    severity: str
    description: str
    key: str = ""


@dataclass(frozen=True)
class RuleCount:
    rule_id: str
    severity: str
    applicable: int
    violations: int


@dataclass(frozen=True)
class CheckResult:
    rule_set: str
    records: int
    violations: tuple[Violation, ...]
    counts: tuple[RuleCount, ...]
    violation_count: int
    truncated: bool = False
    dataset: str = ""
    dataset_version: int = 0
    report_dataset: str = ""
    report_version: int = 0

    @property
    def ok(self) -> bool:
        return self.violation_count == 0


@dataclass(frozen=True)
class RuleSetInfo:
    name: str
    description: str
    origin: str
    rules: tuple[str, ...]
    key: str = ""


@dataclass(frozen=True)
class RuleSetListing:
    rule_sets: list[RuleSetInfo] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)


class TruthApi(Protocol):
    """Met in-process by TruthCore and across processes by RemoteTruth."""

    def check(self, request: CheckRequest) -> CheckResult: ...

    def list_rule_sets(self) -> RuleSetListing: ...


# Conversions ---------------------------------------------------------------------


def request_to_pb(r: CheckRequest) -> truth_pb2.CheckRequest:
    out = truth_pb2.CheckRequest(
        rules=r.rules, rules_source=r.rules_source, rule_set=r.rule_set, dataset=r.dataset, key=r.key, limit=r.limit
    )
    if r.record is not None:
        out.record.SetInParent()  # an empty record is still a target
        out.record.CopyFrom(_struct(dict(r.record)))
    out.records.extend(_struct(dict(x)) for x in r.records)
    return out


def request_from_pb(m: truth_pb2.CheckRequest) -> CheckRequest:
    record = _dict(m.record) if m.HasField("record") else None
    return CheckRequest(
        rules=m.rules,
        rules_source=m.rules_source,
        rule_set=m.rule_set,
        record=record,
        records=tuple(_dict(x) for x in m.records),
        dataset=m.dataset,
        key=m.key,
        limit=m.limit,
    )


def violation_to_pb(v: Violation) -> truth_pb2.TruthViolation:
    return truth_pb2.TruthViolation(rule_id=v.rule_id, severity=v.severity, description=v.description, key=v.key)


def violation_from_pb(m: truth_pb2.TruthViolation) -> Violation:
    return Violation(m.rule_id, m.severity, m.description, m.key)


def result_to_pb(r: CheckResult) -> truth_pb2.CheckResponse:
    return truth_pb2.CheckResponse(
        rule_set=r.rule_set,
        records=r.records,
        violations=[violation_to_pb(v) for v in r.violations],
        counts=[
            truth_pb2.RuleCount(
                rule_id=c.rule_id, severity=c.severity, applicable=c.applicable, violations=c.violations
            )
            for c in r.counts
        ],
        violation_count=r.violation_count,
        truncated=r.truncated,
        dataset=r.dataset,
        dataset_version=r.dataset_version,
        report_dataset=r.report_dataset,
        report_version=r.report_version,
    )


def result_from_pb(m: truth_pb2.CheckResponse) -> CheckResult:
    return CheckResult(
        rule_set=m.rule_set,
        records=m.records,
        violations=tuple(violation_from_pb(v) for v in m.violations),
        counts=tuple(RuleCount(c.rule_id, c.severity, c.applicable, c.violations) for c in m.counts),
        violation_count=m.violation_count,
        truncated=m.truncated,
        dataset=m.dataset,
        dataset_version=m.dataset_version,
        report_dataset=m.report_dataset,
        report_version=m.report_version,
    )


def listing_to_pb(listing: RuleSetListing) -> truth_pb2.ListRuleSetsResponse:
    return truth_pb2.ListRuleSetsResponse(
        rule_sets=[
            truth_pb2.RuleSetInfo(
                name=i.name, description=i.description, origin=i.origin, rules=list(i.rules), key=i.key
            )
            for i in listing.rule_sets
        ],
        invalid=list(listing.invalid),
    )


def listing_from_pb(m: truth_pb2.ListRuleSetsResponse) -> RuleSetListing:
    return RuleSetListing(
        [RuleSetInfo(i.name, i.description, i.origin, tuple(i.rules), i.key) for i in m.rule_sets], list(m.invalid)
    )


# Remote ----------------------------------------------------------------------


class RemoteTruth(Remote):
    """TruthApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = truth_pb2_grpc.TruthServiceStub

    def check(self, request: CheckRequest) -> CheckResult:
        return result_from_pb(self._call("Check", request_to_pb(request)))

    def list_rule_sets(self) -> RuleSetListing:
        return listing_from_pb(self._call("ListRuleSets", truth_pb2.ListRuleSetsRequest()))
