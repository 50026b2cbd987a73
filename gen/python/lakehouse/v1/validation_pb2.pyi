import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValidateDatasetRequest(_message.Message):
    __slots__ = ("dataset", "version", "suite", "suite_text", "suite_spec", "sample_rows")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    SUITE_TEXT_FIELD_NUMBER: _ClassVar[int]
    SUITE_SPEC_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_ROWS_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    version: int
    suite: str
    suite_text: str
    suite_spec: _struct_pb2.Struct
    sample_rows: int
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ..., suite: _Optional[str] = ..., suite_text: _Optional[str] = ..., suite_spec: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sample_rows: _Optional[int] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("name", "type", "columns", "blocking", "passed", "failing_count", "observed", "message", "sample")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    BLOCKING_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILING_COUNT_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    blocking: bool
    passed: bool
    failing_count: int
    observed: float
    message: str
    sample: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., blocking: _Optional[bool] = ..., passed: _Optional[bool] = ..., failing_count: _Optional[int] = ..., observed: _Optional[float] = ..., message: _Optional[str] = ..., sample: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ...) -> None: ...

class ValidationReport(_message.Message):
    __slots__ = ("validation_id", "dataset", "version", "suite", "passed", "failed", "warnings", "rows", "checks", "validated_at", "elapsed_ms", "report_dataset", "report_version", "warning")
    VALIDATION_ID_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    VALIDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    REPORT_DATASET_FIELD_NUMBER: _ClassVar[int]
    REPORT_VERSION_FIELD_NUMBER: _ClassVar[int]
    WARNING_FIELD_NUMBER: _ClassVar[int]
    validation_id: str
    dataset: str
    version: int
    suite: str
    passed: bool
    failed: int
    warnings: int
    rows: int
    checks: _containers.RepeatedCompositeFieldContainer[CheckResult]
    validated_at: _timestamp_pb2.Timestamp
    elapsed_ms: float
    report_dataset: str
    report_version: int
    warning: str
    def __init__(self, validation_id: _Optional[str] = ..., dataset: _Optional[str] = ..., version: _Optional[int] = ..., suite: _Optional[str] = ..., passed: _Optional[bool] = ..., failed: _Optional[int] = ..., warnings: _Optional[int] = ..., rows: _Optional[int] = ..., checks: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ..., validated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., elapsed_ms: _Optional[float] = ..., report_dataset: _Optional[str] = ..., report_version: _Optional[int] = ..., warning: _Optional[str] = ...) -> None: ...
