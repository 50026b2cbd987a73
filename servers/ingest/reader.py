"""Parse a spooled upload with DuckDB and stream it as Arrow record batches.

Each reader owns a private in-memory DuckDB connection, locked down to the one
spool file (``allowed_paths`` + ``enable_external_access=false``). No user SQL
is ever run: the file path and every option travel as bound parameters, and
column names are quoted identifiers.

CSV: every dialect option is pinned from ``dialect.sniff`` (``read_csv_options``):
DuckDB only infers the column types. Strict mode, no null padding and no ignored
errors make ragged rows and broken quoting raise instead of being skipped or
padded; the error's line is mapped back to the upload's own line (through quoted
multi-line fields and removed preamble/comment lines), and the message names the
API parameter that would help, never an engine option.

Type sniffing: DuckDB infers types from a sample (its default size). A later
value that does not fit a sampled type raises a conversion error naming the
column; the reader reports that as ``SampleTooSmall`` and the caller re-runs
the conversion once with the whole file as the sample. Clean files (the common
case) pay nothing; a mis-sniffed file pays one extra pass, and nothing is ever
silently coerced.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import duckdb
import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.ingest import (
    CANCELLED,
    INGEST_OUT_OF_MEMORY,
    INVALID_ENCODING,
    MALFORMED_INPUT,
    MALFORMED_QUOTED_FIELD,
    PARSER_INTERNAL,
    RECORD_TOO_LARGE,
)
from lakehouse.servers.ingest import lines
from lakehouse.servers.ingest.dialect import CsvDialect, drop_trailing, read_csv_options
from lakehouse.servers.ingest.formats import SourceFormat
from lakehouse.servers.ingest.json_keys import renamed_columns
from lakehouse.servers.memory import keep_duckdb_releasing_memory
from lakehouse.servers.sql import quote_ident

FULL_SAMPLE = -1
# Longest DuckDB detail quoted back to the client (its messages can embed whole records).
MAX_DETAIL_CHARS = 300
# DuckDB's JSON reader accepts objects up to about twice maximum_object_size
# (its buffer); halving it makes the effective limit match ingest.max_line_bytes.
JSON_OBJECT_SIZE_DIVISOR = 2
# DuckDB counts the line terminator(s) in a line's size; allow for them.
LINE_SIZE_SLACK = 16
# What DuckDB says when its own sample (beyond ours) breaks the pinned dialect.
DIALECT_FAILED = "not possible to automatically detect"
# How error messages name the spooled file instead of its server path.
UPLOAD_NAME = "<upload>"
# Message fragments by which DuckDB reports bytes that are not UTF-8 (CSV and JSON readers).
ENCODING_MARKERS = ("invalid unicode", "invalid utf-8", "not utf-8 encoded")
# DuckDB follows an error with suggestion lines; they name options, not what happened.
_SUGGESTION_PREFIXES = ("*", "possible", "try ")
_TOO_LONG_RE = re.compile(r'(maximum line size of \d+ bytes exceeded|"maximum_object_size" of \d+ bytes exceeded)')

_LINE_RE = re.compile(r"(?:on line:?|in line)\s*(\d+)", re.IGNORECASE)
_WIDTH_RE = re.compile(r"expected number of columns:\s*(\d+)\s*found:\s*(\d+)", re.IGNORECASE)
_ERROR_CLASS_RE = re.compile(r"(?:^|(?<=; ))[A-Z][A-Za-z]*(?: [A-Z][A-Za-z]*)* Error: ")
_REWORDED = {
    "json_read expected records, but got non-record JSON instead": (
        "every top-level JSON value must be an object (one record each), not a bare value or a list of values"
    ),
}
# Engine wording that must not reach the caller (it names the engine's options, not ours).
_ENGINE_HINT_RE = re.compile(r"(?:^|(?<=[.;(]))\s*(?:try|consider|set|enable|disable)\b[^.;)]*[.;)]?", re.I)
_COLUMN_RE = re.compile(r'converting column "([^"]*)"')
_DETAIL_RE = re.compile(
    r"(error when converting column|expected number of columns|unterminated quote|invalid unicode|"
    r"maximum line size|could not convert|failed to cast|malformed json|maximum_object_size|"
    r"not possible to automatically detect|no magic bytes|invalid utf-8|transform error)",
    re.IGNORECASE,
)


class RetryWider(Exception):
    """The read must be repeated with wider settings (raised only when they can widen)."""


class SampleTooSmall(RetryWider):
    """The sniffer's sample gave a column a type that later rows contradict."""


class LineBufferTooSmall(RetryWider):
    """A record (e.g. a quoted multi-line field) is longer than the line size used."""


@dataclass(frozen=True)
class Hint:
    """A column type the reader must enforce, and the error reason when a value contradicts it."""

    duckdb_type: str
    reason: str  # SCHEMA_CONFLICT (user schema) or SCHEMA_MISMATCH (existing dataset)


def _facts(message: str) -> str:
    """The lowercased message without DuckDB's suggestions (which mention every option)."""
    return "\n".join(
        line for line in message.lower().splitlines() if not line.lstrip().startswith(_SUGGESTION_PREFIXES)
    )


def _plain(detail: str) -> str:
    """A detail in the file's terms: without the engine's error class and advice (which
    names its options, not the API's)."""
    for engine, ours in _REWORDED.items():
        detail = detail.replace(engine, ours)
    detail = _ERROR_CLASS_RE.sub("", detail)
    return _ENGINE_HINT_RE.sub("", detail).strip() or detail


def _detail(message: str) -> str:
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    picked = [lines[0]] if lines else []
    picked += [line for line in lines[1:] if _DETAIL_RE.search(line) and not line.startswith("Original Line")]
    text = "; ".join(dict.fromkeys(picked))
    return text if len(text) <= MAX_DETAIL_CHARS else text[:MAX_DETAIL_CHARS] + "..."


class SourceReader:
    """One parse of one spooled file. Use as a context manager."""

    def __init__(
        self,
        path: Path,
        fmt: SourceFormat,
        *,
        max_record_bytes: int,
        csv: CsvDialect | None = None,
        original_line: Callable[[int], int | None] | None = None,
        locate_max_bytes: int = 0,
        json_renamed: bool = False,
        json_keys: tuple[str, ...] = (),
        full_sample: bool = False,
        line_size: int = 0,
        hints: Mapping[str, Hint] | None = None,
        temp_dir: Path | None = None,
        memory_limit: str = "",
    ) -> None:
        """``csv``: the dialect (required for CSV); ``original_line`` maps a line of the
        spooled file to the upload's (lines were removed before spooling);
        ``json_renamed``: the JSON reader renamed keys, so types are not pinned through
        its ``columns`` (which would not carry the renames); ``json_keys``: the keys the
        sample showed (a rename of a later key is found from the reader's columns)."""
        if fmt.kind == "csv" and csv is None:
            raise ValueError("a CSV reader needs its dialect")
        self.path = path
        self.fmt = fmt
        self.full_sample = full_sample
        self._csv = csv
        self._original_line = original_line or (lambda n: n)
        self._locate_max = locate_max_bytes or max_record_bytes
        self._json_renamed = json_renamed
        self._json_keys = json_keys
        self._max_record = max_record_bytes
        # DuckDB sizes its CSV buffers from max_line_size, so use the smallest that fits.
        self.line_size = min(line_size or max_record_bytes, max_record_bytes)
        self._hints = dict(hints or {})
        self._described: list[tuple[str, str]] | None = None
        self._streams: list[pa.RecordBatchReader] = []
        self._con = duckdb.connect(":memory:")
        try:
            self._con.execute("SET TimeZone = 'UTC'")
            # The spool file is read once: caching its blocks would only hold memory.
            self._con.execute("SET enable_external_file_cache = false")
            if memory_limit:
                # Caps DuckDB's read buffers (they otherwise grow with threads and line size).
                self._con.execute("SET memory_limit = $m", {"m": memory_limit})
            # Freed conversion memory goes back to the system instead of staying resident.
            keep_duckdb_releasing_memory()
            if temp_dir is not None:
                temp_dir.mkdir(parents=True, exist_ok=True)
                self._con.execute("SET temp_directory = $d", {"d": str(temp_dir)})
            self._con.execute("SET allowed_paths = $p", {"p": [str(path)]})
            self._con.execute("SET enable_external_access = false")
        except BaseException:
            self._con.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        """Release open result streams before the connection, deterministically: an
        abandoned DuckDB stream left to the garbage collector is released at an
        arbitrary later point (and, on CPython 3.11, can upset a concurrent compile())."""
        for stream in self._streams:
            with contextlib.suppress(Exception):
                stream.close()
        self._streams.clear()
        self._con.close()

    # SQL -------------------------------------------------------------------

    def _source(self, typed: bool) -> tuple[str, dict[str, object]]:
        params: dict[str, object] = {"path": str(self.path)}
        if self.fmt.kind == "parquet":
            return "read_parquet($path)", params
        opts: list[str] = []
        if self.full_sample:
            opts.append("sample_size = $sample")
            params["sample"] = FULL_SAMPLE
        if self.fmt.kind == "json":
            params["jf"] = self.fmt.json_format
            params["mos"] = max(1, self._max_record // JSON_OBJECT_SIZE_DIVISOR)
            if typed and self._hints and self._described is not None and not self._json_renamed:
                # read_json takes types only as the full column list (which cannot carry
                # renamed keys; then the final Arrow cast enforces the types).
                params["cols"] = {n: self._hints[n].duckdb_type if n in self._hints else t for n, t in self._described}
                opts.append("columns = $cols")
            # records = true: every value must be an object (a column per key), never a bare scalar.
            return "read_json($path, format = $jf, records = true, maximum_object_size = $mos" + "".join(
                ", " + o for o in opts
            ) + ")", params
        assert self._csv is not None
        params["mls"] = self.line_size + LINE_SIZE_SLACK
        csv_options = read_csv_options(self._csv)
        params.update({f"o_{k}": v for k, v in csv_options.items()})
        opts = [f"{k} = $o_{k}" for k in csv_options] + opts + ["max_line_size = $mls"]
        if typed and self._hints:
            params["types"] = {n: h.duckdb_type for n, h in self._hints.items()}
            opts.append("types = $types")
        return "read_csv($path, " + ", ".join(opts) + ")", params

    def _run(self, sql: str, params: dict[str, object]) -> list[tuple]:
        try:
            return self._con.execute(sql, params).fetchall()
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise self.translate(exc) from exc

    # Reading ---------------------------------------------------------------

    def columns(self) -> list[tuple[str, str]]:
        """(name, DuckDB type) of the upload's data columns as sniffed, before any hint."""
        if self._described is None:
            sql, params = self._source(typed=False)
            rows = self._run(f"DESCRIBE SELECT * FROM {sql}", params)
            described = [(str(r[0]), str(r[1])) for r in rows]
            if self._csv is not None and self._csv.trailing_delimiter:
                described = described[:-1]
            if self.fmt.kind == "json" and renamed_columns([n for n, _ in described], self._json_keys):
                self._json_renamed = True  # a key renamed past the scanned sample
            self._described = described
        return list(self._described)

    def set_hints(self, hints: Mapping[str, Hint]) -> None:
        self._hints = dict(hints)

    def stream(self, batch_rows: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        """Start streaming the upload (optionally only ``columns``): its Arrow schema and its batches."""
        described = self.columns()
        sql, params = self._source(typed=True)
        trailing = self._csv is not None and self._csv.trailing_delimiter
        wanted = list(columns) if columns else [n for n, _ in described]
        if trailing:
            wanted.append(self._csv.names[-1])  # checked empty, then dropped, batch by batch
        select = ", ".join(quote_ident(c) for c in wanted) if columns or trailing else "*"
        try:
            reader = self._con.sql(f"SELECT {select} FROM {sql}", params=params).to_arrow_reader(batch_rows)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            raise self.translate(exc) from exc
        self._streams.append(reader)
        schema = reader.schema.remove(reader.schema.get_field_index(self._csv.names[-1])) if trailing else reader.schema
        return schema, self._batches(reader)

    def _batches(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except (duckdb.Error, pa.ArrowException, OSError) as exc:
                raise self.translate(exc) from exc
            if self._csv is not None:
                batch = drop_trailing(batch, self._csv, rows)
            rows += batch.num_rows
            yield batch

    def key_problem(self, key: tuple[str, ...], unique: bool) -> str | None:
        """Describe one null (or, if ``unique``, duplicated) key in the upload; None when clean."""
        self.columns()
        sql, params = self._source(typed=True)
        cols = ", ".join(quote_ident(k) for k in key)
        null_cond = " OR ".join(f"{quote_ident(k)} IS NULL" for k in key)
        if unique:
            query = f"SELECT {cols}, count(*) FROM {sql} GROUP BY ALL HAVING count(*) > 1 OR {null_cond} LIMIT 1"
        else:
            query = f"SELECT {cols}, 1 FROM {sql} WHERE {null_cond} LIMIT 1"
        rows = self._run(query, params)
        if not rows:
            return None
        values = dict(zip(key, rows[0][: len(key)], strict=True))
        if any(v is None for v in values.values()):
            return f"a row has a null primary key value: {values}"
        return f"primary key {values} occurs {rows[0][-1]} times in the upload"

    # Errors ----------------------------------------------------------------

    def translate(self, exc: BaseException) -> errors.LakehouseError | RetryWider:
        """Map a DuckDB failure to the client-facing error (or to a re-sniff request).
        Messages never name server paths: the spool file is called UPLOAD_NAME."""
        message = self._scrub(str(exc))
        low = _facts(message)
        detail = _detail(message)
        meta: dict[str, str] = {"format": self.fmt.kind}
        if line := _LINE_RE.search(message):
            meta["line"] = line.group(1)
        column_match = _COLUMN_RE.search(message)
        column = column_match.group(1) if column_match else None
        if column is not None:
            meta["column"] = column
        if isinstance(exc, duckdb.InterruptException):
            return errors.Cancelled("ingest cancelled", reason=CANCELLED)
        if isinstance(exc, duckdb.OutOfMemoryException):
            # Each ingest has its own engine with a fixed limit: retrying the same upload cannot
            # succeed, so this is not RESOURCE_EXHAUSTED (429, "retry later") but a 400 naming the setting.
            return errors.FailedPrecondition(
                f"converting the upload needs more memory than the ingest engine may use: {detail}; "
                "raise LAKEHOUSE_INGEST__DUCKDB_MEMORY_LIMIT",
                reason=INGEST_OUT_OF_MEMORY,
                metadata={**meta, "setting": "ingest.duckdb_memory_limit"},
            )
        if any(s in low for s in ENCODING_MARKERS):
            return errors.InvalidArgument(
                f"the upload is not valid UTF-8: {detail}", reason=INVALID_ENCODING, metadata=meta
            )
        too_long = _TOO_LONG_RE.search(low) is not None
        if too_long and self.line_size < self._max_record:
            return LineBufferTooSmall(detail)
        if too_long:
            return errors.InvalidArgument(
                f"a record is longer than the {self._max_record}-byte limit: {detail}",
                reason=RECORD_TOO_LARGE,
                metadata=meta,
            )
        conversion = isinstance(exc, duckdb.ConversionException) or any(
            s in low for s in ("conversion error", "could not convert", "failed to cast", "transform error")
        )
        if conversion:
            hint = self._hints.get(column) if column is not None else None
            if hint is not None:
                return self._schema_error(hint.reason, column, meta, detail)
            if not self.full_sample:
                return SampleTooSmall(detail)
            if column is None and self._hints:
                reason = next(iter(self._hints.values())).reason
                return self._schema_error(reason, None, meta, detail)
        if isinstance(exc, duckdb.InternalException):
            return errors.Internal(f"the parser failed internally: {detail}", reason=PARSER_INTERNAL)
        if self._csv is not None:
            return self._csv_error(message, low, meta)
        return errors.InvalidArgument(
            f"malformed {self.fmt.kind.upper()} input: {_plain(detail)}", reason=MALFORMED_INPUT, metadata=meta
        )

    def _upload_line(self, duckdb_line: int) -> int | None:
        """The upload's line where DuckDB's "line" (a record number) starts."""
        assert self._csv is not None
        physical = lines.physical_line(self.path, self._csv, duckdb_line, self._locate_max)
        return None if physical is None else self._original_line(physical)

    def _csv_error(self, message: str, low: str, meta: dict[str, str]) -> errors.InvalidArgument:
        """A structural CSV error past the sniffed sample, located in the upload's own lines."""
        d = self._csv
        assert d is not None
        width = len(d.names)
        found = None
        line: int | None = None
        if DIALECT_FAILED in low:
            # DuckDB's type sample reaches further than ours; find the row it choked on.
            hit = lines.first_inconsistent_line(self.path, d, self._locate_max)
            if hit is not None:
                line, count = self._original_line(hit[0]), hit[1]
                found = count or None
        elif "line" in meta:
            line = self._upload_line(int(meta["line"]))
            if (m := _WIDTH_RE.search(message)) is not None:
                width, found = int(m.group(1)), int(m.group(2))
        meta = {k: v for k, v in meta.items() if k != "line"}
        where = f"line {line}" if line is not None else "a line past the first ones"
        if line is not None:
            meta["line"] = str(line)
        delim = "tab" if d.delimiter == "\t" else repr(d.delimiter)
        if "unterminated quote" in low or (DIALECT_FAILED in low and found is None and d.quote):
            meta["parameter"] = "quote"
            return errors.InvalidArgument(
                f"{where}: a quoted field ({d.quote}) is not closed where it should be; fix the quoting, or pass "
                f"quote=none if {d.quote} is a literal character in this file",
                reason=MALFORMED_QUOTED_FIELD,
                metadata=meta,
            )
        meta["parameters"] = "delimiter,quote"
        fields = f"has {found} field(s)" if found is not None else "does not split into the table's fields"
        return errors.InvalidArgument(
            f"{where} {fields} where the table has {width} (delimiter {delim}, read from the first lines: "
            f"{d.reasoning}); fix that line, or pass delimiter= / quote= if the file uses others",
            reason=MALFORMED_INPUT,
            metadata=meta,
        )

    def _scrub(self, message: str) -> str:
        message = message.replace(str(self.path), UPLOAD_NAME)
        return message.replace(f"{self.path.parent}/", "")

    @staticmethod
    def _schema_error(reason: str, column: str | None, meta: dict[str, str], detail: str) -> errors.InvalidArgument:
        where = f"column {column!r}" if column else "a column"
        if "line" in meta:
            where += f" (line {meta['line']})"
        violations = [errors.FieldViolation(column, detail)] if column else []
        return errors.InvalidArgument(
            f"a value in {where} contradicts its declared type: {detail}",
            reason=reason,
            metadata=meta,
            violations=violations,
        )
