"""Plain types of the ingest core: what a caller asks for, hears, and gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

from lakehouse.api.catalog import WriteMode
from lakehouse.servers.ingest.names import Rename

Format = Literal["auto", "csv", "tsv", "json", "ndjson", "parquet", "xlsx"]
FORMATS: tuple[str, ...] = ("auto", "csv", "tsv", "json", "ndjson", "parquet", "xlsx")
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
