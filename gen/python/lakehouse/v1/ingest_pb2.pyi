from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import httpbody_pb2 as _httpbody_pb2
from lakehouse.v1 import catalog_pb2 as _catalog_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CompactDatasetRequest(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    def __init__(self, dataset: _Optional[str] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("dataset", "format", "mode", "primary_key", "schema", "body", "embed_corpus", "embed_id_column", "embed_text_columns", "embed_metadata_columns")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_KEY_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    EMBED_CORPUS_FIELD_NUMBER: _ClassVar[int]
    EMBED_ID_COLUMN_FIELD_NUMBER: _ClassVar[int]
    EMBED_TEXT_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    EMBED_METADATA_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    format: str
    mode: str
    primary_key: _containers.RepeatedScalarFieldContainer[str]
    schema: str
    body: _httpbody_pb2.HttpBody
    embed_corpus: str
    embed_id_column: str
    embed_text_columns: _containers.RepeatedScalarFieldContainer[str]
    embed_metadata_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset: _Optional[str] = ..., format: _Optional[str] = ..., mode: _Optional[str] = ..., primary_key: _Optional[_Iterable[str]] = ..., schema: _Optional[str] = ..., body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., embed_corpus: _Optional[str] = ..., embed_id_column: _Optional[str] = ..., embed_text_columns: _Optional[_Iterable[str]] = ..., embed_metadata_columns: _Optional[_Iterable[str]] = ...) -> None: ...

class IngestProgress(_message.Message):
    __slots__ = ("phase", "bytes_done", "rows_done")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    BYTES_DONE_FIELD_NUMBER: _ClassVar[int]
    ROWS_DONE_FIELD_NUMBER: _ClassVar[int]
    phase: str
    bytes_done: int
    rows_done: int
    def __init__(self, phase: _Optional[str] = ..., bytes_done: _Optional[int] = ..., rows_done: _Optional[int] = ...) -> None: ...

class IngestResult(_message.Message):
    __slots__ = ("dataset", "version", "mode", "rows", "bytes_in", "bytes_written", "files", "source_hash", "deduplicated", "schema", "embedded")
    DATASET_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BYTES_IN_FIELD_NUMBER: _ClassVar[int]
    BYTES_WRITTEN_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    SOURCE_HASH_FIELD_NUMBER: _ClassVar[int]
    DEDUPLICATED_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_FIELD_NUMBER: _ClassVar[int]
    EMBEDDED_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    version: int
    mode: str
    rows: int
    bytes_in: int
    bytes_written: int
    files: int
    source_hash: str
    deduplicated: bool
    schema: _catalog_pb2.Schema
    embedded: int
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ..., mode: _Optional[str] = ..., rows: _Optional[int] = ..., bytes_in: _Optional[int] = ..., bytes_written: _Optional[int] = ..., files: _Optional[int] = ..., source_hash: _Optional[str] = ..., deduplicated: _Optional[bool] = ..., schema: _Optional[_Union[_catalog_pb2.Schema, _Mapping]] = ..., embedded: _Optional[int] = ...) -> None: ...

class IngestEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: IngestProgress
    result: IngestResult
    def __init__(self, progress: _Optional[_Union[IngestProgress, _Mapping]] = ..., result: _Optional[_Union[IngestResult, _Mapping]] = ...) -> None: ...
