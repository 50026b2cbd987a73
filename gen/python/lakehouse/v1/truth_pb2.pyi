from google.api import annotations_pb2 as _annotations_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CheckRequest(_message.Message):
    __slots__ = ("rules", "rules_source", "rule_set", "record", "records", "dataset", "key", "limit")
    RULES_FIELD_NUMBER: _ClassVar[int]
    RULES_SOURCE_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    rules: str
    rules_source: str
    rule_set: str
    record: _struct_pb2.Struct
    records: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    dataset: str
    key: str
    limit: int
    def __init__(self, rules: _Optional[str] = ..., rules_source: _Optional[str] = ..., rule_set: _Optional[str] = ..., record: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., records: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., dataset: _Optional[str] = ..., key: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class TruthViolation(_message.Message):
    __slots__ = ("rule_id", "severity", "description", "key")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    severity: str
    description: str
    key: str
    def __init__(self, rule_id: _Optional[str] = ..., severity: _Optional[str] = ..., description: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class RuleCount(_message.Message):
    __slots__ = ("rule_id", "severity", "applicable", "violations")
    RULE_ID_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    APPLICABLE_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    rule_id: str
    severity: str
    applicable: int
    violations: int
    def __init__(self, rule_id: _Optional[str] = ..., severity: _Optional[str] = ..., applicable: _Optional[int] = ..., violations: _Optional[int] = ...) -> None: ...

class CheckResponse(_message.Message):
    __slots__ = ("rule_set", "records", "violations", "counts", "violation_count", "truncated", "dataset", "dataset_version", "report_dataset", "report_version")
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    VIOLATION_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DATASET_VERSION_FIELD_NUMBER: _ClassVar[int]
    REPORT_DATASET_FIELD_NUMBER: _ClassVar[int]
    REPORT_VERSION_FIELD_NUMBER: _ClassVar[int]
    rule_set: str
    records: int
    violations: _containers.RepeatedCompositeFieldContainer[TruthViolation]
    counts: _containers.RepeatedCompositeFieldContainer[RuleCount]
    violation_count: int
    truncated: bool
    dataset: str
    dataset_version: int
    report_dataset: str
    report_version: int
    def __init__(self, rule_set: _Optional[str] = ..., records: _Optional[int] = ..., violations: _Optional[_Iterable[_Union[TruthViolation, _Mapping]]] = ..., counts: _Optional[_Iterable[_Union[RuleCount, _Mapping]]] = ..., violation_count: _Optional[int] = ..., truncated: _Optional[bool] = ..., dataset: _Optional[str] = ..., dataset_version: _Optional[int] = ..., report_dataset: _Optional[str] = ..., report_version: _Optional[int] = ...) -> None: ...

class ListRuleSetsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RuleSetInfo(_message.Message):
    __slots__ = ("name", "description", "origin", "rules", "key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    RULES_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    origin: str
    rules: _containers.RepeatedScalarFieldContainer[str]
    key: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., origin: _Optional[str] = ..., rules: _Optional[_Iterable[str]] = ..., key: _Optional[str] = ...) -> None: ...

class ListRuleSetsResponse(_message.Message):
    __slots__ = ("rule_sets", "invalid")
    RULE_SETS_FIELD_NUMBER: _ClassVar[int]
    INVALID_FIELD_NUMBER: _ClassVar[int]
    rule_sets: _containers.RepeatedCompositeFieldContainer[RuleSetInfo]
    invalid: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rule_sets: _Optional[_Iterable[_Union[RuleSetInfo, _Mapping]]] = ..., invalid: _Optional[_Iterable[str]] = ...) -> None: ...
