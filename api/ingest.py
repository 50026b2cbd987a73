"""IngestService's API: its domain types, the interface (``IngestApi``), the proto
conversions and the remote implementation (the local one is ``servers/ingest/core.py``).

An ingest is a stream of bytes plus instructions (``IngestSpec``); it commits one
dataset version (or finds the version these bytes already made) and says how the
bytes were read (``IngestResult.read``), so a caller can check what was detected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode, schema_from_pb, schema_to_pb
from lakehouse.api.channel import NO_DEADLINE
from lakehouse.api.errors import invalid_field
from lakehouse.api.remote import Remote
from lakehouse.api.vector import ColumnMapping
from lakehouse.v1 import ingest_pb2, ingest_pb2_grpc

DEFAULT_MODE = WriteMode.APPEND
DEFAULT_FORMAT = "auto"

# Stable error reasons (ErrorInfo.reason) of IngestService. It also returns EMPTY_INPUT,
# INVALID_KEY and UNKNOWN_COLUMN (lakehouse.api.errors), DATASET_EXISTS and
# DATASET_NOT_FOUND (lakehouse.api.catalog) and STORAGE_UNAVAILABLE (lakehouse.api.storage).
# The upload's bytes: compression and text encoding.
UNSUPPORTED_COMPRESSION = "UNSUPPORTED_COMPRESSION"
COMPRESSED_INPUT = "COMPRESSED_INPUT"  # compressed bytes under compression=none
DECOMPRESSED_TOO_LARGE = "DECOMPRESSED_TOO_LARGE"
COMPRESSION_RATIO_TOO_HIGH = "COMPRESSION_RATIO_TOO_HIGH"
CORRUPT_COMPRESSED_INPUT = "CORRUPT_COMPRESSED_INPUT"
TRUNCATED_COMPRESSED_INPUT = "TRUNCATED_COMPRESSED_INPUT"
INVALID_ENCODING = "INVALID_ENCODING"
REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
RECORD_TOO_LARGE = "RECORD_TOO_LARGE"
# Parsing the upload.
MALFORMED_INPUT = "MALFORMED_INPUT"
CSV_DIALECT_NOT_FOUND = "CSV_DIALECT_NOT_FOUND"
MALFORMED_QUOTED_FIELD = "MALFORMED_QUOTED_FIELD"
TRAILING_FIELD_NOT_EMPTY = "TRAILING_FIELD_NOT_EMPTY"
JSON_KEY_CASE_COLLISION = "JSON_KEY_CASE_COLLISION"
JSON_DUPLICATE_KEY = "JSON_DUPLICATE_KEY"
JSON_EMPTY_KEY = "JSON_EMPTY_KEY"
INVALID_WORKBOOK = "INVALID_WORKBOOK"
WORKBOOK_ENCRYPTED = "WORKBOOK_ENCRYPTED"
WORKBOOK_TOO_LARGE = "WORKBOOK_TOO_LARGE"
SHEET_NOT_FOUND = "SHEET_NOT_FOUND"
EMPTY_SHEET = "EMPTY_SHEET"
PARSER_INTERNAL = "PARSER_INTERNAL"
# The upload against the request and the dataset.
INVALID_SCHEMA = "INVALID_SCHEMA"  # the schema= option cannot be parsed
SCHEMA_CONFLICT = "SCHEMA_CONFLICT"  # the upload contradicts the given schema
SCHEMA_MISMATCH = "SCHEMA_MISMATCH"  # the upload contradicts the existing dataset's schema
PRIMARY_KEY_REQUIRED = "PRIMARY_KEY_REQUIRED"
PRIMARY_KEY_MISMATCH = "PRIMARY_KEY_MISMATCH"
RESERVED_COLUMN = "RESERVED_COLUMN"
EMBEDDING_NOT_AVAILABLE = "EMBEDDING_NOT_AVAILABLE"
# Documents (format=pdf / zip).
NOT_A_PDF = "NOT_A_PDF"
PDF_ENCRYPTED = "PDF_ENCRYPTED"
MALFORMED_PDF = "MALFORMED_PDF"
DOCUMENT_TOO_LARGE = "DOCUMENT_TOO_LARGE"
DUPLICATE_DOCUMENT = "DUPLICATE_DOCUMENT"
NO_DOCUMENTS = "NO_DOCUMENTS"  # an archive none of whose members could be ingested
MALFORMED_ARCHIVE = "MALFORMED_ARCHIVE"
# source_bucket/source_key: one without the other, or bytes sent beside them.
INVALID_SOURCE_OBJECT = "INVALID_SOURCE_OBJECT"
# This ingest service has no way to read bucket objects.
SOURCE_OBJECTS_UNAVAILABLE = "SOURCE_OBJECTS_UNAVAILABLE"
UNSAFE_ARCHIVE_PATH = "UNSAFE_ARCHIVE_PATH"
ARCHIVE_TOO_LARGE = "ARCHIVE_TOO_LARGE"  # a zip bomb: too many members, bytes or too high a ratio
NO_TEXT = "no_text"  # text_status of a document with no text layer
# The ingest (or compaction) itself.
CANCELLED = "CANCELLED"
SPOOL_UNAVAILABLE = "SPOOL_UNAVAILABLE"
INGEST_OUT_OF_MEMORY = "INGEST_OUT_OF_MEMORY"
INGEST_FAILED = "INGEST_FAILED"
COMPACTION_FAILED = "COMPACTION_FAILED"
INGEST_NO_RESULT = "INGEST_NO_RESULT"  # the stream ended without a result (set client-side)

Format = Literal["auto", "csv", "tsv", "json", "ndjson", "parquet", "xlsx", "pdf", "zip"]
FORMATS: tuple[str, ...] = ("auto", "csv", "tsv", "json", "ndjson", "parquet", "xlsx", "pdf", "zip")
# Formats whose upload is documents (one row each), not a table.
DOCUMENT_FORMATS: tuple[str, ...] = ("pdf", "zip")
# Default dataset name of each sheet with ``sheet=*``.
DEFAULT_SHEET_DATASET_PATTERN = "{dataset}_{sheet}"

Phase = Literal["upload", "convert", "commit"]
PHASE_UPLOAD: Phase = "upload"
PHASE_CONVERT: Phase = "convert"
PHASE_COMMIT: Phase = "commit"


@dataclass(frozen=True)
class ReadSpec:
    """How to read the upload, as the caller gave it: empty (or None) means "detect".

    Validated by the core (``dialect.parse_options``, ``decode.normalize_encoding``...),
    so every transport reports a bad value the same way, naming the parameter.
    """

    delimiter: str = ""
    quote: str = ""
    escape: str = ""
    header: str = ""
    skip: int | None = None
    comment: str = ""
    null: tuple[str, ...] = ()
    encoding: str = ""
    compression: str = ""
    columns: tuple[str, ...] = ()
    sheet: str = ""
    sheet_dataset_pattern: str = ""

    def given(self) -> dict[str, object]:
        """The options that were set (the part of an ingest's identity beyond its bytes)."""
        out: dict[str, object] = {}
        for name, value in self.__dict__.items():
            if value is None or value == "" or value == ():
                continue
            out[name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class ReadOptions:
    """How an upload was read: every option in effect, given or detected."""

    format: str  # csv, json, parquet, xlsx
    compression: str = "none"
    encoding: str = ""
    delimiter: str = ""
    quote: str = ""
    escape: str = ""
    header: bool = False
    skip: int = 0
    comment: str = ""
    null: tuple[str, ...] = ()
    sheet: str = ""
    header_rows: int = 0
    json_format: str = ""


@dataclass(frozen=True)
class IngestSpec:
    """One upload's instructions.

    ``schema`` is optional, ``"name:type, name:type"`` with types int64, float64,
    bool, date, timestamp, string. It may name only some columns: those get the
    given type (a value that contradicts it is an error), the rest are inferred.
    """

    dataset: str
    format: Format = "auto"
    mode: WriteMode = WriteMode.APPEND
    primary_key: tuple[str, ...] = ()
    schema: str = ""
    # Columns the upload must contain (e.g. those embed-on-ingest reads); checked
    # before anything is written.
    required_columns: tuple[str, ...] = ()
    read: ReadSpec = field(default_factory=ReadSpec)
    file_name: str = ""  # pdf: the document's name (its row's file_name)
    # A stored check suite the staged version must pass before its commit ("": none).
    checks: str = ""
    # Read the source from this object of a registered bucket, not from the stream.
    source: ObjectRef | None = None


@dataclass(frozen=True)
class ObjectRef:
    """An object in a registered bucket (StorageService), e.g. a raw file a team landed."""

    bucket: str
    key: str


@dataclass(frozen=True)
class IngestProgress:
    """``bytes_done`` counts received bytes while uploading and written Parquet
    bytes afterwards; ``rows_done`` counts converted rows."""

    phase: Phase
    bytes_done: int
    rows_done: int


@dataclass(frozen=True)
class IngestResult:
    dataset: str
    version: int
    mode: WriteMode
    rows: int  # rows taken from the upload (for a deduplicated result: rows that version wrote)
    bytes_in: int
    bytes_written: int
    files: int  # data or delta files written by the version
    source_hash: str
    deduplicated: bool
    schema: pa.Schema  # the dataset's schema after the ingest
    read: ReadOptions | None = None  # None: a compaction (nothing was read)
    header: str = ""  # "detected", "absent", "given"; "" when the format has no header
    skipped_lines: int = 0  # preamble and comment lines removed
    reasoning: str = ""
    renames: tuple[Rename, ...] = ()
    sheets: tuple[IngestResult, ...] = ()  # sheet=*: one result per sheet dataset
    embedded: int = 0  # items written to the embed-on-ingest corpus
    rejected_files: tuple[RejectedFile, ...] = ()  # archive members not ingested (the rest landed)
    warnings: tuple[str, ...] = ()  # e.g. a document with no text layer


@dataclass(frozen=True)
class RejectedFile:
    """An archive member that was not ingested, and why."""

    file_name: str
    reason: str
    message: str


@dataclass(frozen=True)
class Rename:
    """One column whose name was changed: where it is, what the file said, what it became."""

    index: int
    original: str
    name: str

    def describe(self) -> str:
        if not self.original:
            return f"column {self.index + 1} has no name; it is stored as {self.name!r}"
        return f"column {self.index + 1} {self.original!r} clashes with an earlier name; it is stored as {self.name!r}"


@dataclass(frozen=True)
class EmbedTarget:
    """Which corpus receives the rows, and which columns feed it."""

    corpus: str
    mapping: ColumnMapping

    def required_columns(self, mode: WriteMode) -> tuple[str, ...]:
        """What the upload must carry: a delete only the ids, anything else every mapped column."""
        return (self.mapping.id_column,) if mode == WriteMode.DELETE else tuple(self.mapping.columns)

    @property
    def for_documents(self) -> bool:
        """No columns named: documents bring their own (doc_id and chunks)."""
        m = self.mapping
        return not (m.id_column or m.text_columns or m.metadata_columns)

    def check_table(self) -> None:
        """A table upload must name the columns that make an item."""
        if not self.mapping.id_column:
            raise invalid_field("embed_id_column", "required with embed_corpus (except for pdf and zip documents)")
        if not self.mapping.text_columns:
            raise invalid_field("embed_text_columns", "required with embed_corpus (except for pdf and zip documents)")


def embed_target(
    corpus: str, id_column: str, text_columns: tuple[str, ...], metadata_columns: tuple[str, ...]
) -> EmbedTarget | None:
    """The request's embed options as a target (None: no embedding), naming a missing field.
    Which columns are required depends on the format, so the core checks them
    (``EmbedTarget.check_table``) once it is known."""
    if not corpus:
        if id_column or text_columns or metadata_columns:
            raise invalid_field("embed_corpus", "required when embed columns are given")
        return None
    mapping = ColumnMapping(id_column=id_column, text_columns=text_columns, metadata_columns=metadata_columns)
    return EmbedTarget(corpus, mapping)


class IngestApi(Protocol):
    """Met in-process by IngestCore and across processes by RemoteIngest."""

    def ingest(
        self,
        spec: IngestSpec,
        chunks: Iterable[bytes],
        *,
        on_progress: Callable[[IngestProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        embed: EmbedTarget | None = None,
    ) -> IngestResult: ...

    def compact(self, dataset: str, cancelled: Callable[[], bool] | None = None) -> IngestResult: ...


# Conversions -----------------------------------------------------------------


def read_spec_to_pb(r: ReadSpec) -> dict[str, object]:
    """The IngestRequest fields of a read spec (set only when given)."""
    return r.given()


def read_spec_from_pb(m: ingest_pb2.IngestRequest) -> ReadSpec:
    """The request's read options, as given (the core validates them)."""
    return ReadSpec(
        delimiter=m.delimiter,
        quote=m.quote,
        escape=m.escape,
        header=m.header,
        skip=m.skip if m.HasField("skip") else None,
        comment=m.comment,
        null=tuple(m.null),
        encoding=m.encoding,
        compression=m.compression,
        columns=tuple(m.columns),
        sheet=m.sheet,
        sheet_dataset_pattern=m.sheet_dataset_pattern,
    )


def first_request(spec: IngestSpec, embed: EmbedTarget | None) -> ingest_pb2.IngestRequest:
    """The message that opens an upload: every instruction, no bytes yet."""
    request = ingest_pb2.IngestRequest(
        dataset=spec.dataset,
        format=spec.format,
        mode=spec.mode.value if isinstance(spec.mode, WriteMode) else str(spec.mode),
        primary_key=list(spec.primary_key),
        schema=spec.schema,
        file_name=spec.file_name,
        checks=spec.checks,
        **read_spec_to_pb(spec.read),
    )
    if spec.source is not None:
        request.source_bucket = spec.source.bucket
        request.source_key = spec.source.key
    if embed is not None:
        request.embed_corpus = embed.corpus
        request.embed_id_column = embed.mapping.id_column
        request.embed_text_columns.extend(embed.mapping.text_columns)
        request.embed_metadata_columns.extend(embed.mapping.metadata_columns)
    return request


def spec_from_pb(first: ingest_pb2.IngestRequest) -> tuple[IngestSpec, EmbedTarget | None]:
    target = embed_target(
        first.embed_corpus,
        first.embed_id_column,
        tuple(first.embed_text_columns),
        tuple(first.embed_metadata_columns),
    )
    spec = IngestSpec(
        dataset=first.dataset,
        format=(first.format or DEFAULT_FORMAT).lower(),  # type: ignore[arg-type]  # the core validates it
        mode=(first.mode or DEFAULT_MODE.value).lower(),  # type: ignore[arg-type]
        primary_key=tuple(first.primary_key),
        schema=first.schema,
        read=read_spec_from_pb(first),
        file_name=first.file_name,
        checks=first.checks,
        source=ObjectRef(first.source_bucket, first.source_key) if first.source_bucket or first.source_key else None,
    )
    return spec, target


def upload_requests(
    spec: IngestSpec, chunks: Iterable[bytes], embed: EmbedTarget | None, cancelled: Callable[[], bool] | None
) -> Iterator[ingest_pb2.IngestRequest]:
    """The client stream of an upload. It stops at a cancellation; the caller must then
    cancel the call (``Channel.wait`` does), so a partial upload never ends cleanly."""
    yield first_request(spec, embed)
    for chunk in chunks:
        if cancelled is not None and cancelled():
            return
        if chunk:
            yield ingest_pb2.IngestRequest(body={"data": chunk})


def read_options_to_pb(o: ReadOptions) -> ingest_pb2.ReadOptions:
    return ingest_pb2.ReadOptions(
        format=o.format,
        delimiter=o.delimiter,
        quote=o.quote,
        escape=o.escape,
        header=o.header,
        skip=o.skip,
        comment=o.comment,
        null=list(o.null),
        encoding=o.encoding,
        compression=o.compression,
        sheet=o.sheet,
        header_rows=o.header_rows,
        json_format=o.json_format,
    )


def read_options_from_pb(m: ingest_pb2.ReadOptions) -> ReadOptions:
    return ReadOptions(
        format=m.format,
        compression=m.compression,
        encoding=m.encoding,
        delimiter=m.delimiter,
        quote=m.quote,
        escape=m.escape,
        header=m.header,
        skip=m.skip,
        comment=m.comment,
        null=tuple(m.null),
        sheet=m.sheet,
        header_rows=m.header_rows,
        json_format=m.json_format,
    )


def result_to_pb(r: IngestResult) -> ingest_pb2.IngestResult:
    return ingest_pb2.IngestResult(
        dataset=r.dataset,
        version=r.version,
        mode=r.mode.value if isinstance(r.mode, WriteMode) else str(r.mode),
        rows=r.rows,
        bytes_in=r.bytes_in,
        bytes_written=r.bytes_written,
        files=r.files,
        source_hash=r.source_hash,
        deduplicated=r.deduplicated,
        schema=schema_to_pb(r.schema),
        embedded=r.embedded,
        header=r.header,
        skipped_lines=r.skipped_lines,
        read_options=read_options_to_pb(r.read) if r.read is not None else None,
        reasoning=r.reasoning,
        renames=[ingest_pb2.ColumnRename(index=n.index, original=n.original, name=n.name) for n in r.renames],
        sheets=[result_to_pb(sheet) for sheet in r.sheets],
        rejected_files=[
            ingest_pb2.RejectedFile(file_name=f.file_name, reason=f.reason, message=f.message) for f in r.rejected_files
        ],
        warnings=list(r.warnings),
    )


def result_from_pb(m: ingest_pb2.IngestResult) -> IngestResult:
    return IngestResult(
        dataset=m.dataset,
        version=m.version,
        mode=WriteMode(m.mode),
        rows=m.rows,
        bytes_in=m.bytes_in,
        bytes_written=m.bytes_written,
        files=m.files,
        source_hash=m.source_hash,
        deduplicated=m.deduplicated,
        schema=schema_from_pb(m.schema),
        read=read_options_from_pb(m.read_options) if m.HasField("read_options") else None,
        header=m.header,
        skipped_lines=m.skipped_lines,
        reasoning=m.reasoning,
        renames=tuple(Rename(index=n.index, original=n.original, name=n.name) for n in m.renames),
        sheets=tuple(result_from_pb(sheet) for sheet in m.sheets),
        embedded=m.embedded,
        rejected_files=tuple(RejectedFile(f.file_name, f.reason, f.message) for f in m.rejected_files),
        warnings=tuple(m.warnings),
    )


def progress_to_pb(p: IngestProgress) -> ingest_pb2.IngestProgress:
    return ingest_pb2.IngestProgress(phase=p.phase, bytes_done=p.bytes_done, rows_done=p.rows_done)


def progress_from_pb(m: ingest_pb2.IngestProgress) -> IngestProgress:
    return IngestProgress(phase=m.phase, bytes_done=m.bytes_done, rows_done=m.rows_done)  # type: ignore[arg-type]


# Remote ----------------------------------------------------------------------


def _never() -> bool:
    return False


class RemoteIngest(Remote):
    """IngestApi over a channel from ``lakehouse.api.channel.open_channel``. An upload has no
    deadline of its own (its size is the caller's); keepalive notices a dead peer."""

    stub_type = ingest_pb2_grpc.IngestServiceStub

    def ingest(
        self,
        spec: IngestSpec,
        chunks: Iterable[bytes],
        *,
        on_progress: Callable[[IngestProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        embed: EmbedTarget | None = None,
    ) -> IngestResult:
        never = cancelled or _never
        call = None

        def requests() -> Iterator[ingest_pb2.IngestRequest]:
            yield from upload_requests(spec, chunks, embed, never)
            if never():
                call.cancel()  # before the stream half-closes: the server sees a cancel, not an end

        if on_progress is None:
            call = self._channel.start(self._stub.Ingest, requests(), timeout_s=NO_DEADLINE)
            return result_from_pb(self._channel.wait(call, never))
        result = None
        call = self._stub.IngestWithProgress(requests())
        for event in self._channel.read(call):
            if event.HasField("progress"):
                on_progress(progress_from_pb(event.progress))
            elif event.HasField("result"):
                result = result_from_pb(event.result)
        if result is None:
            raise errors.Unavailable("the ingest stream ended without a result", reason=INGEST_NO_RESULT)
        return result

    def compact(self, dataset: str, cancelled: Callable[[], bool] | None = None) -> IngestResult:
        request = ingest_pb2.CompactDatasetRequest(dataset=dataset)
        reply = self._channel.call(self._stub.CompactDataset, request, timeout_s=NO_DEADLINE, cancelled=cancelled)
        return result_from_pb(reply)
