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
    __slots__ = ("dataset", "format", "mode", "primary_key", "schema", "body", "embed_corpus", "embed_id_column", "embed_text_columns", "embed_metadata_columns", "delimiter", "quote", "escape", "header", "skip", "comment", "null", "encoding", "compression", "columns", "sheet", "sheet_dataset_pattern", "file_name", "checks", "source_bucket", "source_key")
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
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    ESCAPE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    NULL_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SHEET_FIELD_NUMBER: _ClassVar[int]
    SHEET_DATASET_PATTERN_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_BUCKET_FIELD_NUMBER: _ClassVar[int]
    SOURCE_KEY_FIELD_NUMBER: _ClassVar[int]
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
    delimiter: str
    quote: str
    escape: str
    header: str
    skip: int
    comment: str
    null: _containers.RepeatedScalarFieldContainer[str]
    encoding: str
    compression: str
    columns: _containers.RepeatedScalarFieldContainer[str]
    sheet: str
    sheet_dataset_pattern: str
    file_name: str
    checks: str
    source_bucket: str
    source_key: str
    def __init__(self, dataset: _Optional[str] = ..., format: _Optional[str] = ..., mode: _Optional[str] = ..., primary_key: _Optional[_Iterable[str]] = ..., schema: _Optional[str] = ..., body: _Optional[_Union[_httpbody_pb2.HttpBody, _Mapping]] = ..., embed_corpus: _Optional[str] = ..., embed_id_column: _Optional[str] = ..., embed_text_columns: _Optional[_Iterable[str]] = ..., embed_metadata_columns: _Optional[_Iterable[str]] = ..., delimiter: _Optional[str] = ..., quote: _Optional[str] = ..., escape: _Optional[str] = ..., header: _Optional[str] = ..., skip: _Optional[int] = ..., comment: _Optional[str] = ..., null: _Optional[_Iterable[str]] = ..., encoding: _Optional[str] = ..., compression: _Optional[str] = ..., columns: _Optional[_Iterable[str]] = ..., sheet: _Optional[str] = ..., sheet_dataset_pattern: _Optional[str] = ..., file_name: _Optional[str] = ..., checks: _Optional[str] = ..., source_bucket: _Optional[str] = ..., source_key: _Optional[str] = ...) -> None: ...

class ReadOptions(_message.Message):
    __slots__ = ("format", "delimiter", "quote", "escape", "header", "skip", "comment", "null", "encoding", "compression", "sheet", "header_rows", "json_format")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    ESCAPE_FIELD_NUMBER: _ClassVar[int]
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    NULL_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_FIELD_NUMBER: _ClassVar[int]
    SHEET_FIELD_NUMBER: _ClassVar[int]
    HEADER_ROWS_FIELD_NUMBER: _ClassVar[int]
    JSON_FORMAT_FIELD_NUMBER: _ClassVar[int]
    format: str
    delimiter: str
    quote: str
    escape: str
    header: bool
    skip: int
    comment: str
    null: _containers.RepeatedScalarFieldContainer[str]
    encoding: str
    compression: str
    sheet: str
    header_rows: int
    json_format: str
    def __init__(self, format: _Optional[str] = ..., delimiter: _Optional[str] = ..., quote: _Optional[str] = ..., escape: _Optional[str] = ..., header: _Optional[bool] = ..., skip: _Optional[int] = ..., comment: _Optional[str] = ..., null: _Optional[_Iterable[str]] = ..., encoding: _Optional[str] = ..., compression: _Optional[str] = ..., sheet: _Optional[str] = ..., header_rows: _Optional[int] = ..., json_format: _Optional[str] = ...) -> None: ...

class ColumnRename(_message.Message):
    __slots__ = ("index", "original", "name")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    index: int
    original: str
    name: str
    def __init__(self, index: _Optional[int] = ..., original: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("dataset", "version", "mode", "rows", "bytes_in", "bytes_written", "files", "source_hash", "deduplicated", "schema", "embedded", "header", "skipped_lines", "read_options", "reasoning", "renames", "sheets", "rejected_files", "warnings")
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
    HEADER_FIELD_NUMBER: _ClassVar[int]
    SKIPPED_LINES_FIELD_NUMBER: _ClassVar[int]
    READ_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    RENAMES_FIELD_NUMBER: _ClassVar[int]
    SHEETS_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FILES_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
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
    header: str
    skipped_lines: int
    read_options: ReadOptions
    reasoning: str
    renames: _containers.RepeatedCompositeFieldContainer[ColumnRename]
    sheets: _containers.RepeatedCompositeFieldContainer[IngestResult]
    rejected_files: _containers.RepeatedCompositeFieldContainer[RejectedFile]
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, dataset: _Optional[str] = ..., version: _Optional[int] = ..., mode: _Optional[str] = ..., rows: _Optional[int] = ..., bytes_in: _Optional[int] = ..., bytes_written: _Optional[int] = ..., files: _Optional[int] = ..., source_hash: _Optional[str] = ..., deduplicated: _Optional[bool] = ..., schema: _Optional[_Union[_catalog_pb2.Schema, _Mapping]] = ..., embedded: _Optional[int] = ..., header: _Optional[str] = ..., skipped_lines: _Optional[int] = ..., read_options: _Optional[_Union[ReadOptions, _Mapping]] = ..., reasoning: _Optional[str] = ..., renames: _Optional[_Iterable[_Union[ColumnRename, _Mapping]]] = ..., sheets: _Optional[_Iterable[_Union[IngestResult, _Mapping]]] = ..., rejected_files: _Optional[_Iterable[_Union[RejectedFile, _Mapping]]] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class RejectedFile(_message.Message):
    __slots__ = ("file_name", "reason", "message")
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    file_name: str
    reason: str
    message: str
    def __init__(self, file_name: _Optional[str] = ..., reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class IngestEvent(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: IngestProgress
    result: IngestResult
    def __init__(self, progress: _Optional[_Union[IngestProgress, _Mapping]] = ..., result: _Optional[_Union[IngestResult, _Mapping]] = ...) -> None: ...
