"""Plain types of the ingest core: what a caller asks for, hears, and gets back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from lakehouse.servers.catalog.model import WriteMode

Format = Literal["auto", "csv", "tsv", "json", "ndjson", "parquet"]
FORMATS: tuple[str, ...] = ("auto", "csv", "tsv", "json", "ndjson", "parquet")

Phase = Literal["upload", "convert", "commit"]
PHASE_UPLOAD: Phase = "upload"
PHASE_CONVERT: Phase = "convert"
PHASE_COMMIT: Phase = "commit"


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
