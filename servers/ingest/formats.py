"""Which reader an upload needs, and the small type vocabulary ingest speaks.

Format sniffing looks only at the first (decompressed) bytes: Parquet starts
with ``PAR1``; a PDF holds ``%PDF-`` in its first KiB; an .xlsx workbook is a ZIP
archive (``PK\x03\x04``; an archive of PDFs needs format=zip); a JSON array
with ``[``; JSON objects (NDJSON, or concatenated pretty-printed objects) with
``{``; anything else is delimited text whose dialect ``dialect.sniff`` decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.errors import EMPTY_INPUT
from lakehouse.api.ingest import INVALID_SCHEMA, MALFORMED_ARCHIVE, MALFORMED_INPUT, NOT_A_PDF
from lakehouse.servers.ingest.documents.pdf import looks_like_pdf
from lakehouse.servers.ingest.model import FORMATS

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
UTF8_BOM = b"\xef\xbb\xbf"
JSON_ARRAY_START = b"["
JSON_OBJECT_START = b"{"
TAB = "\t"
NUL = b"\x00"
_EMPTY_ARRAY = re.compile(rb"\s*\[\s*\]\s*")

# DuckDB read_json formats.
JSON_ARRAY = "array"
JSON_LINES = "newline_delimited"
JSON_AUTO = "auto"  # NDJSON or concatenated (pretty-printed) objects

# The types an explicit ``IngestSpec.schema`` may name.
SCHEMA_TYPES: dict[str, pa.DataType] = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "string": pa.string(),
}

# Arrow -> DuckDB names for reader type hints. Types not listed (nested ones)
# get no hint; the final Arrow cast still enforces them.
_DUCKDB_SIMPLE: dict[pa.DataType, str] = {
    pa.int8(): "TINYINT",
    pa.int16(): "SMALLINT",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.uint8(): "UTINYINT",
    pa.uint16(): "USMALLINT",
    pa.uint32(): "UINTEGER",
    pa.uint64(): "UBIGINT",
    pa.float32(): "FLOAT",
    pa.float64(): "DOUBLE",
    pa.bool_(): "BOOLEAN",
    pa.string(): "VARCHAR",
    pa.large_string(): "VARCHAR",
    pa.binary(): "BLOB",
    pa.large_binary(): "BLOB",
    pa.date32(): "DATE",
    pa.time64("us"): "TIME",
}
_DUCKDB_TIMESTAMP = {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}


@dataclass(frozen=True)
class SourceFormat:
    kind: Literal["csv", "json", "parquet", "xlsx", "pdf", "zip"]
    tsv: bool = False  # csv only: format=tsv (tab-delimited, unquoted unless told otherwise)
    json_format: str = ""  # json only: JSON_ARRAY | JSON_LINES | JSON_AUTO

    @property
    def line_oriented(self) -> bool:
        """True when every record is at least one whole line (so line length bounds record length)."""
        return self.kind == "csv" or (self.kind == "json" and self.json_format != JSON_ARRAY)

    @property
    def text(self) -> bool:
        """Whether the upload is text (decoded, then sniffed) rather than a binary container."""
        return self.kind in ("csv", "json")

    @property
    def documents(self) -> bool:
        """Whether the upload is documents (one row each) rather than a table."""
        return self.kind in ("pdf", "zip")


def _first_byte(head: bytes) -> bytes:
    body = head.removeprefix(UTF8_BOM)
    return body.lstrip()[:1]


def resolve_format(requested: str, head: bytes) -> SourceFormat:
    if requested not in FORMATS:
        raise errors.invalid_field("format", f"unknown format {requested!r}; use one of {list(FORMATS)}")
    if requested == "pdf" or (requested == "auto" and looks_like_pdf(head)):
        if not looks_like_pdf(head):
            raise errors.InvalidArgument(
                "the upload is not a PDF (it does not start with %PDF-)",
                reason=NOT_A_PDF,
                metadata={"parameters": "format"},
            )
        return SourceFormat("pdf")
    if requested == "zip":
        if not head.startswith(ZIP_MAGIC):
            raise errors.InvalidArgument(
                "the upload is not a ZIP archive (it does not start with PK\\x03\\x04)",
                reason=MALFORMED_ARCHIVE,
                metadata={"parameters": "format"},
            )
        return SourceFormat("zip")
    if requested == "parquet" or (requested == "auto" and head.startswith(PARQUET_MAGIC)):
        return SourceFormat("parquet")
    if requested == "xlsx" or (requested == "auto" and head.startswith(ZIP_MAGIC)):
        return SourceFormat("xlsx")
    if requested == "tsv":
        return SourceFormat("csv", tsv=True)
    if requested == "csv":
        return SourceFormat("csv")
    if requested == "ndjson":
        return SourceFormat("json", json_format=JSON_LINES)
    first = _first_byte(head)
    if first == JSON_ARRAY_START:
        return SourceFormat("json", json_format=JSON_ARRAY)
    if first == JSON_OBJECT_START or requested == "json":
        return SourceFormat("json", json_format=JSON_AUTO)
    return SourceFormat("csv")


def check_content(fmt: SourceFormat, head: bytes, complete: bool) -> None:
    """Cheap checks on the first decoded bytes (``complete``: the whole upload) that the
    parser would answer confusingly."""
    if not fmt.text:
        return
    if NUL in head:
        raise errors.InvalidArgument(
            f"the upload contains NUL bytes, so it is not {fmt.kind.upper()} text: pass encoding=utf-16 if it is"
            " UTF-16 text, or the format= of the binary file it is",
            reason=MALFORMED_INPUT,
            metadata={"parameters": "encoding,format"},
        )
    if fmt.kind == "json" and complete and _EMPTY_ARRAY.fullmatch(head.removeprefix(UTF8_BOM)):
        raise errors.InvalidArgument("the upload is an empty JSON array", reason=EMPTY_INPUT)


def parse_schema(text: str) -> dict[str, pa.DataType]:
    """``"a:int64, b:string"`` -> {"a": int64, "b": string}, in the given order."""
    out: dict[str, pa.DataType] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        name, sep, type_name = item.rpartition(":")
        name, type_name = name.strip(), type_name.strip().lower()
        if not sep or not name:
            raise errors.invalid_field("schema", f"expected 'name:type', got {item.strip()!r}", INVALID_SCHEMA)
        if type_name not in SCHEMA_TYPES:
            raise errors.invalid_field(
                "schema",
                f"column {name!r}: unknown type {type_name!r}; use one of {list(SCHEMA_TYPES)}",
                INVALID_SCHEMA,
            )
        if name in out:
            raise errors.invalid_field("schema", f"column {name!r} is listed twice", INVALID_SCHEMA)
        out[name] = SCHEMA_TYPES[type_name]
    return out


def duckdb_type(arrow_type: pa.DataType) -> str | None:
    """DuckDB type name to hint a reader with, or None when there is no simple equivalent."""
    if pa.types.is_timestamp(arrow_type):
        return "TIMESTAMPTZ" if arrow_type.tz else _DUCKDB_TIMESTAMP.get(arrow_type.unit)
    if pa.types.is_decimal(arrow_type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    return _DUCKDB_SIMPLE.get(arrow_type)


def normalize_schema(schema: pa.Schema) -> pa.Schema:
    """Dataset schema from a reader schema: an all-null column (Arrow ``null``,
    from JSON) becomes string so later uploads with values still fit; metadata is dropped."""
    fields = [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema]
    return pa.schema(fields)
