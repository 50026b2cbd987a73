import datetime

from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WriteMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WRITE_MODE_UNSPECIFIED: _ClassVar[WriteMode]
    WRITE_MODE_CREATE: _ClassVar[WriteMode]
    WRITE_MODE_APPEND: _ClassVar[WriteMode]
    WRITE_MODE_REPLACE: _ClassVar[WriteMode]
    WRITE_MODE_UPSERT: _ClassVar[WriteMode]
    WRITE_MODE_DELETE: _ClassVar[WriteMode]

class FileProblemKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_PROBLEM_KIND_UNSPECIFIED: _ClassVar[FileProblemKind]
    FILE_PROBLEM_KIND_MISSING: _ClassVar[FileProblemKind]
    FILE_PROBLEM_KIND_SIZE_MISMATCH: _ClassVar[FileProblemKind]
    FILE_PROBLEM_KIND_HASH_MISMATCH: _ClassVar[FileProblemKind]
    FILE_PROBLEM_KIND_UNREADABLE: _ClassVar[FileProblemKind]
WRITE_MODE_UNSPECIFIED: WriteMode
WRITE_MODE_CREATE: WriteMode
WRITE_MODE_APPEND: WriteMode
WRITE_MODE_REPLACE: WriteMode
WRITE_MODE_UPSERT: WriteMode
WRITE_MODE_DELETE: WriteMode
FILE_PROBLEM_KIND_UNSPECIFIED: FileProblemKind
FILE_PROBLEM_KIND_MISSING: FileProblemKind
FILE_PROBLEM_KIND_SIZE_MISMATCH: FileProblemKind
FILE_PROBLEM_KIND_HASH_MISMATCH: FileProblemKind
FILE_PROBLEM_KIND_UNREADABLE: FileProblemKind

class Field(_message.Message):
    __slots__ = ("name", "type", "nullable")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    nullable: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., nullable: _Optional[bool] = ...) -> None: ...

class Schema(_message.Message):
    __slots__ = ("fields", "arrow_schema")
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    ARROW_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    fields: _containers.RepeatedCompositeFieldContainer[Field]
    arrow_schema: bytes
    def __init__(self, fields: _Optional[_Iterable[_Union[Field, _Mapping]]] = ..., arrow_schema: _Optional[bytes] = ...) -> None: ...

class DataFile(_message.Message):
    __slots__ = ("path", "rows", "size_bytes", "content_hash")
    PATH_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    path: str
    rows: int
    size_bytes: int
    content_hash: str
    def __init__(self, path: _Optional[str] = ..., rows: _Optional[int] = ..., size_bytes: _Optional[int] = ..., content_hash: _Optional[str] = ...) -> None: ...

class DatasetVersion(_message.Message):
    __slots__ = ("dataset", "version", "files", "deltas", "schema", "create_time", "mode", "source_hash", "primary_key", "base_rows", "size_bytes")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    BASE_ROWS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    version: int
    files: _containers.RepeatedCompositeFieldContainer[DataFile]
    deltas: _containers.RepeatedCompositeFieldContainer[DataFile]
    schema: Schema
    create_time: _timestamp_pb2.Timestamp
    mode: WriteMode
    source_hash: str
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    base_rows: int
    size_bytes: int
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ..., files: _Optional[_Iterable[_Union[DataFile, _Mapping]]] = ..., deltas: _Optional[_Iterable[_Union[DataFile, _Mapping]]] = ..., schema: _Optional[_Union[Schema, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mode: _Optional[_Union[WriteMode, str]] = ..., source_hash: _Optional[str] = ..., primary_key: _Optional[_Iterable[str]] = ..., base_rows: _Optional[int] = ..., size_bytes: _Optional[int] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("name", "create_time", "update_time", "current", "version_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    VERSION_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    current: DatasetVersion
    version_count: int
    def __init__(self, name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current: _Optional[_Union[DatasetVersion, _Mapping]] = ..., version_count: _Optional[int] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    def __init__(self, dataset: _Optional[str] = ...) -> None: ...

class DeleteDatasetRequest(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    def __init__(self, dataset: _Optional[str] = ...) -> None: ...

class ListVersionsRequest(_message.Message):
    __slots__ = ("dataset", "page_size", "page_token")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    page_size: int
    page_token: str
    def __init__(self, dataset: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVersionsResponse(_message.Message):
    __slots__ = ("versions", "next_page_token")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[DatasetVersion]
    next_page_token: str
    def __init__(self, versions: _Optional[_Iterable[_Union[DatasetVersion, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetVersionRequest(_message.Message):
    __slots__ = ("dataset", "version")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    version: int
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class CommitVersionRequest(_message.Message):
    __slots__ = ("dataset", "expected_version", "files", "deltas", "schema", "mode", "source_hash", "primary_key")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    expected_version: int
    files: _containers.RepeatedCompositeFieldContainer[DataFile]
    deltas: _containers.RepeatedCompositeFieldContainer[DataFile]
    schema: Schema
    mode: WriteMode
    source_hash: str
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset: _Optional[str] = ..., expected_version: _Optional[int] = ..., files: _Optional[_Iterable[_Union[DataFile, _Mapping]]] = ..., deltas: _Optional[_Iterable[_Union[DataFile, _Mapping]]] = ..., schema: _Optional[_Union[Schema, _Mapping]] = ..., mode: _Optional[_Union[WriteMode, str]] = ..., source_hash: _Optional[str] = ..., primary_key: _Optional[_Iterable[str]] = ...) -> None: ...

class FindVersionBySourceRequest(_message.Message):
    __slots__ = ("dataset", "source_hash")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    source_hash: str
    def __init__(self, dataset: _Optional[str] = ..., source_hash: _Optional[str] = ...) -> None: ...

class FindVersionBySourceResponse(_message.Message):
    __slots__ = ("version",)
    VERSION_FIELD_NUMBER: _ClassVar[int]
    version: DatasetVersion
    def __init__(self, version: _Optional[_Union[DatasetVersion, _Mapping]] = ...) -> None: ...

class GetGenerationRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetGenerationResponse(_message.Message):
    __slots__ = ("generation",)
    GENERATION_FIELD_NUMBER: _ClassVar[int]
    generation: int
    def __init__(self, generation: _Optional[int] = ...) -> None: ...

class VerifyDatasetsRequest(_message.Message):
    __slots__ = ("dataset", "all_versions")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    ALL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    all_versions: bool
    def __init__(self, dataset: _Optional[str] = ..., all_versions: _Optional[bool] = ...) -> None: ...

class FileProblem(_message.Message):
    __slots__ = ("dataset", "version", "path", "kind", "expected", "actual")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    version: int
    path: str
    kind: FileProblemKind
    expected: str
    actual: str
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ..., path: _Optional[str] = ..., kind: _Optional[_Union[FileProblemKind, str]] = ..., expected: _Optional[str] = ..., actual: _Optional[str] = ...) -> None: ...

class VerifyDatasetsResponse(_message.Message):
    __slots__ = ("datasets_checked", "files_checked", "bytes_checked", "problems")
    DATASETS_CHECKED_FIELD_NUMBER: _ClassVar[int]
    FILES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    BYTES_CHECKED_FIELD_NUMBER: _ClassVar[int]
    PROBLEMS_FIELD_NUMBER: _ClassVar[int]
    datasets_checked: int
    files_checked: int
    bytes_checked: int
    problems: _containers.RepeatedCompositeFieldContainer[FileProblem]
    def __init__(self, datasets_checked: _Optional[int] = ..., files_checked: _Optional[int] = ..., bytes_checked: _Optional[int] = ..., problems: _Optional[_Iterable[_Union[FileProblem, _Mapping]]] = ...) -> None: ...

class VacuumDatasetsRequest(_message.Message):
    __slots__ = ("dataset", "retain_versions", "retain_duration", "dry_run")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    RETAIN_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    RETAIN_DURATION_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    retain_versions: int
    retain_duration: _duration_pb2.Duration
    dry_run: bool
    def __init__(self, dataset: _Optional[str] = ..., retain_versions: _Optional[int] = ..., retain_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., dry_run: _Optional[bool] = ...) -> None: ...

class VacuumedDataset(_message.Message):
    __slots__ = ("dataset", "expired_versions", "files_deleted", "bytes_deleted")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    FILES_DELETED_FIELD_NUMBER: _ClassVar[int]
    BYTES_DELETED_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    expired_versions: _containers.RepeatedScalarFieldContainer[int]
    files_deleted: int
    bytes_deleted: int
    def __init__(self, dataset: _Optional[str] = ..., expired_versions: _Optional[_Iterable[int]] = ..., files_deleted: _Optional[int] = ..., bytes_deleted: _Optional[int] = ...) -> None: ...

class VacuumDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "dry_run")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    DRY_RUN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[VacuumedDataset]
    dry_run: bool
    def __init__(self, datasets: _Optional[_Iterable[_Union[VacuumedDataset, _Mapping]]] = ..., dry_run: _Optional[bool] = ...) -> None: ...
