"""Read one sheet of an .xlsx workbook as Arrow record batches (``format=xlsx``).

The reader is python-calamine (Rust, fast, maintained); it converts date-formatted
cells to dates with the workbook's own epoch (1900, with Excel's leap-year quirk, or
1904). On top of it this module gives the sheet a table's shape:

- the table is the sheet's used area less empty leading/trailing rows and columns
  (formatting alone makes Excel extend the area);
- a merged header cell names every column it spans; a second header row under
  horizontally merged cells is combined with it ("Hours Mon"); names are made unique;
- a column's type is decided from all its cells before the first batch: numbers that
  are all whole become int64, a mix of kinds becomes text (every value kept, written
  out), dates become date32, dates with times timestamp;
- bad workbooks (not a ZIP, corrupt, encrypted, legacy .xls, too large) are refused
  with a reason before the parser sees them.

Memory: calamine holds one sheet's cells; rows are turned into Arrow in batches.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

import pyarrow as pa
import pyarrow.compute as pc
import python_calamine as calamine

from lakehouse.api import errors
from lakehouse.api.ingest import EMPTY_SHEET, INVALID_WORKBOOK, SHEET_NOT_FOUND, WORKBOOK_ENCRYPTED, WORKBOOK_TOO_LARGE
from lakehouse.servers.ingest import names as naming
from lakehouse.servers.settings import IngestSettings

SHEET_ALL = "*"
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Compound File: legacy .xls, or an encrypted workbook
ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
WORKBOOK_PART = "xl/workbook.xml"
SCAN_BYTES = 1024 * 1024  # read size when scanning a Compound File for the encryption stream
ZIP_ENCRYPTED_FLAG = 0x1
# Whole numbers beyond this are not exact in a double, so they stay float64.
MAX_EXACT_INT = 2**53
HeaderChoice = Literal["auto", "true", "false"]
_SLUG_RE = re.compile(r"[^a-z0-9]+")
_DATASET_NAME_MAX = 63


@dataclass(frozen=True)
class XlsxLimits:
    """Tunables (``ingest.xlsx_max_uncompressed_bytes``, ``ingest.xlsx_max_cells``)."""

    max_uncompressed_bytes: int
    max_cells: int

    @classmethod
    def from_settings(cls, ingest: IngestSettings) -> XlsxLimits:
        return cls(ingest.xlsx_max_uncompressed_bytes, ingest.xlsx_max_cells)


# Checking the file ------------------------------------------------------------


def check_workbook(path: Path, limits: XlsxLimits) -> None:
    """Refuse what is not a readable .xlsx, with a reason the caller can act on."""
    with open(path, "rb") as handle:
        magic = handle.read(len(OLE2_MAGIC))
    if magic.startswith(OLE2_MAGIC):
        if _contains(path, ENCRYPTED_STREAM):
            raise errors.InvalidArgument(
                "the workbook is password-protected (encrypted); save it without a password and upload again",
                reason=WORKBOOK_ENCRYPTED,
            )
        raise errors.InvalidArgument(
            "the file is a legacy .xls workbook; save it as .xlsx and upload again", reason=INVALID_WORKBOOK
        )
    if not magic.startswith(ZIP_MAGIC):
        raise errors.InvalidArgument("the upload is not an .xlsx workbook (not a ZIP archive)", reason=INVALID_WORKBOOK)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise errors.InvalidArgument(f"the workbook is corrupt: {exc}", reason=INVALID_WORKBOOK) from None
    if not any(i.filename == WORKBOOK_PART for i in infos):
        raise errors.InvalidArgument(
            f"the ZIP archive is not an .xlsx workbook (it has no {WORKBOOK_PART})", reason=INVALID_WORKBOOK
        )
    if any(i.flag_bits & ZIP_ENCRYPTED_FLAG for i in infos):
        raise errors.InvalidArgument("the workbook's parts are encrypted", reason=WORKBOOK_ENCRYPTED)
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise errors.InvalidArgument(
            f"the workbook expands to {total} bytes, over the {limits.max_uncompressed_bytes}-byte limit",
            reason=WORKBOOK_TOO_LARGE,
            metadata={"limit_bytes": str(limits.max_uncompressed_bytes)},
        )


def _contains(path: Path, needle: bytes) -> bool:
    tail = b""
    with open(path, "rb") as handle:
        while block := handle.read(SCAN_BYTES):
            if needle in tail + block:
                return True
            tail = block[-len(needle) :]
    return False


# Tables -------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetTable:
    """One sheet as a table: its schema, size and how its header was read."""

    sheet: str
    schema: pa.Schema
    rows: int
    header_rows: int  # 0 (no header), 1, or 2 (merged group names over sub-headers)
    header_decision: Literal["detected", "absent", "given"]
    renames: tuple[naming.Rename, ...]
    _grid: _Grid
    _first_data_row: int

    def batches(self, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """The data rows, ``batch_rows`` at a time."""
        columns: list[list[Any]] = [[] for _ in self.schema]
        convert = [_converter(f.type) for f in self.schema]
        for row in self._grid.rows(self._first_data_row):
            for values, value, conv in zip(columns, row, convert, strict=True):
                values.append(conv(value))
            if len(columns[0]) >= batch_rows:
                yield self._batch(columns)
                columns = [[] for _ in self.schema]
        if columns and columns[0]:
            yield self._batch(columns)

    def _batch(self, columns: list[list[Any]]) -> pa.RecordBatch:
        arrays = [pa.array(values, type=f.type) for values, f in zip(columns, self.schema, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)


class _Grid:
    """The sheet's used area trimmed to its non-empty rows and columns, with merges
    in table coordinates. calamine's ``iter_rows`` is re-run for each pass."""

    def __init__(self, sheet: Any) -> None:
        self._sheet = sheet
        first_row = last_row = None
        first_col = last_col = None
        count = width = 0
        for index, row in enumerate(sheet.iter_rows()):
            count, width = index + 1, max(width, len(row))
            used = [i for i, v in enumerate(row) if not _empty(v)]
            if used:
                first_row = index if first_row is None else first_row
                last_row = index
                first_col = used[0] if first_col is None else min(first_col, used[0])
                last_col = used[-1] if last_col is None else max(last_col, used[-1])
        # calamine yields either the used range or the sheet from A1; find which for merges.
        self._row_base = sheet.start[0] if count == sheet.height and sheet.start else 0
        self._col_base = sheet.start[1] if width == sheet.width and sheet.start else 0
        self.empty = first_row is None
        self._rows = (first_row or 0, (last_row or 0) + 1)
        self._cols = (first_col or 0, (last_col or 0) + 1)

    @property
    def height(self) -> int:
        return 0 if self.empty else self._rows[1] - self._rows[0]

    @property
    def width(self) -> int:
        return 0 if self.empty else self._cols[1] - self._cols[0]

    def rows(self, start: int = 0) -> Iterator[list[Any]]:
        lo, hi = self._cols
        first, end = self._rows[0] + start, self._rows[1]
        for index, row in enumerate(self._sheet.iter_rows()):
            if index >= end:
                return
            if index >= first:
                cells = row[lo:hi]
                yield cells + [""] * (hi - lo - len(cells))

    def merges(self) -> list[tuple[int, int, int, int]]:
        """Merged ranges as (row0, col0, row1, col1) in table coordinates."""
        out = []
        for (r0, c0), (r1, c1) in self._sheet.merged_cell_ranges or []:
            dr = self._row_base + self._rows[0]
            dc = self._col_base + self._cols[0]
            out.append((r0 - dr, c0 - dc, r1 - dr, c1 - dc))
        return out


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# Workbook -------------------------------------------------------------------------


class Workbook:
    """An open workbook; use as a context manager."""

    def __init__(self, path: Path, limits: XlsxLimits) -> None:
        check_workbook(path, limits)
        self._limits = limits
        try:
            self._book = calamine.CalamineWorkbook.from_path(str(path))
        except Exception as exc:  # noqa: BLE001 - calamine raises several unrelated types
            raise errors.InvalidArgument(
                f"the workbook cannot be read: {_clean(exc)}", reason=INVALID_WORKBOOK
            ) from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self._book.close()

    @property
    def sheet_names(self) -> list[str]:
        """Every sheet, in workbook order."""
        return list(self._book.sheet_names)

    @property
    def visible_sheets(self) -> list[str]:
        """The visible worksheets (what ``sheet=*`` reads, and where the default comes from)."""
        return [
            m.name
            for m in self._book.sheets_metadata
            if m.typ == calamine.SheetTypeEnum.WorkSheet and m.visible == calamine.SheetVisibleEnum.Visible
        ]

    def resolve(self, sheet: str) -> list[str]:
        """``sheet=`` -> sheet names: "" the first visible sheet, "*" every visible one,
        digits a 0-based index into ``sheet_names``, anything else a name."""
        names = self.sheet_names
        if not sheet:
            visible = self.visible_sheets
            if not visible:
                raise errors.InvalidArgument("the workbook has no visible worksheet", reason=SHEET_NOT_FOUND)
            return visible[:1]
        if sheet == SHEET_ALL:
            return self.visible_sheets
        if sheet.isdigit():
            index = int(sheet)
            if index < len(names):
                return [names[index]]
        elif sheet in names:
            return [sheet]
        raise errors.InvalidArgument(
            f"sheet {sheet!r} not found; the workbook has {names} (pass a name or a 0-based index)",
            reason=SHEET_NOT_FOUND,
            violations=[errors.FieldViolation("sheet", f"no sheet {sheet!r}")],
        )

    def read(self, name: str, header: HeaderChoice = "auto") -> SheetTable:
        """The sheet ``name`` as a table (header: ``auto`` = row 1 when all of it is text)."""
        try:
            sheet = self._book.get_sheet_by_name(name)
            grid = _Grid(sheet)
        except errors.LakehouseError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise errors.InvalidArgument(
                f"sheet {name!r} cannot be read: {_clean(exc)}", reason=INVALID_WORKBOOK
            ) from None
        if grid.empty:
            raise errors.InvalidArgument(f"sheet {name!r} is empty", reason=EMPTY_SHEET, metadata={"sheet": name})
        if grid.height * grid.width > self._limits.max_cells:
            raise errors.InvalidArgument(
                f"sheet {name!r} has {grid.height} x {grid.width} cells, over the {self._limits.max_cells} limit",
                reason=WORKBOOK_TOO_LARGE,
                metadata={"sheet": name, "limit_cells": str(self._limits.max_cells)},
            )
        head = list(_take(grid.rows(), 2))
        merges = grid.merges()
        if header == "auto":
            has_header = all(isinstance(v, str) for v in head[0] if not _empty(v))
            decision: Literal["detected", "absent", "given"] = "detected" if has_header else "absent"
        else:
            has_header, decision = header == "true", "given"
        header_rows = 0
        if has_header:
            header_rows = 2 if len(head) > 1 and _subheader(head[0], head[1], merges) else 1
        if header_rows:
            raw = _header_names(head[:header_rows], merges)
            column_names, renames = naming.unique(raw)
        else:
            column_names, renames = naming.generated(grid.width), ()
        kinds = _kinds(grid.rows(header_rows), grid.width)
        schema = pa.schema([pa.field(n, _arrow_type(k)) for n, k in zip(column_names, kinds, strict=True)])
        return SheetTable(
            sheet=name,
            schema=schema,
            rows=grid.height - header_rows,
            header_rows=header_rows,
            header_decision=decision,
            renames=renames,
            _grid=grid,
            _first_data_row=header_rows,
        )


def _clean(exc: BaseException) -> str:
    """calamine's message without file paths."""
    return re.sub(r"(/[^\s:'\"]+)+", "<file>", str(exc))[:300]


def _take(it: Iterator[list[Any]], n: int) -> Iterator[list[Any]]:
    for i, row in enumerate(it):
        if i >= n:
            return
        yield row


# Header ----------------------------------------------------------------------------


def _spans(merges: list[tuple[int, int, int, int]], row: int) -> list[tuple[int, int]]:
    """Column spans of horizontal merges that include ``row``."""
    return [(c0, c1) for r0, c0, r1, c1 in merges if r0 <= row <= r1 and c1 > c0]


def _subheader(top: list[Any], second: list[Any], merges: list[tuple[int, int, int, int]]) -> bool:
    """Row 2 is a sub-header when row 1 has horizontal merges, row 2 is text under
    them, and row 2 is empty elsewhere (or vertically merged with row 1)."""
    spans = [s for s in _spans(merges, 0) if not any(r0 <= 1 <= r1 for r0, c0, r1, c1 in merges if (c0, c1) == s)]
    if not spans:
        return False
    under = {c for c0, c1 in spans for c in range(c0, c1 + 1)}
    vertical = {c for r0, c0, r1, c1 in merges if r0 == 0 and r1 >= 1 for c in range(c0, c1 + 1)}
    for col, value in enumerate(second):
        if col in under:
            if not isinstance(value, str) or _empty(value):
                return False
        elif not _empty(value) and col not in vertical:
            return False
    return True


def _header_names(rows: list[list[Any]], merges: list[tuple[int, int, int, int]]) -> list[str]:
    filled = []
    for r, row in enumerate(rows):
        values = [_text(v) for v in row]
        for r0, c0, r1, c1 in merges:
            if r0 <= r <= r1 and 0 <= c0 < len(values):
                origin = _text(rows[r0][c0]) if r0 < len(rows) else values[c0]
                for c in range(c0, min(c1, len(values) - 1) + 1):
                    values[c] = origin
        filled.append(values)
    if len(filled) == 1:
        return filled[0]
    out = []
    for top, sub in zip(filled[0], filled[1], strict=True):
        out.append(f"{top} {sub}" if top and sub and top != sub else (top or sub))
    return out


# Types -----------------------------------------------------------------------------

_Kind = Literal["int", "float", "bool", "date", "timestamp", "time", "text", "null"]


def _kind_of(value: Any) -> _Kind:
    if _empty(value):
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if abs(value) < MAX_EXACT_INT else "float"
    if isinstance(value, float):
        return "int" if value.is_integer() and abs(value) < MAX_EXACT_INT else "float"
    if isinstance(value, dt.datetime):
        return "timestamp"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    return "text"


def _kinds(rows: Iterator[list[Any]], width: int) -> list[_Kind]:
    seen: list[set[_Kind]] = [set() for _ in range(width)]
    for row in rows:
        for kinds, value in zip(seen, row, strict=True):
            kinds.add(_kind_of(value))
    return [_merge(k - {"null"}) for k in seen]


def _merge(kinds: set[_Kind]) -> _Kind:
    if not kinds:
        return "null"
    if len(kinds) == 1:
        return next(iter(kinds))
    if kinds <= {"int", "float"}:
        return "float"
    if kinds <= {"date", "timestamp"}:
        return "timestamp"
    return "text"


_ARROW: dict[str, pa.DataType] = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "time": pa.time64("us"),
    "text": pa.string(),
    "null": pa.string(),
}


def _arrow_type(kind: _Kind) -> pa.DataType:
    return _ARROW[kind]


def _text(value: Any) -> str:
    """A cell written out as text (for text columns and header names)."""
    if _empty(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < MAX_EXACT_INT:
        return str(int(value))
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def _converter(arrow_type: pa.DataType):  # type: ignore[no-untyped-def]
    if pa.types.is_string(arrow_type):
        return lambda v: None if _empty(v) else _text(v)
    if pa.types.is_int64(arrow_type):
        return lambda v: None if _empty(v) else int(v)
    if pa.types.is_timestamp(arrow_type):
        return lambda v: (
            None if _empty(v) else (v if isinstance(v, dt.datetime) else dt.datetime(v.year, v.month, v.day))
        )
    return lambda v: None if _empty(v) else v


# Datasets for sheet=* -----------------------------------------------------------------


def sheet_dataset_names(base: str, sheets: list[str], pattern: str = "{dataset}_{sheet}") -> dict[str, str]:
    """Proposed dataset per sheet for ``sheet=*``: ``pattern`` with ``{dataset}`` = ``base``
    and ``{sheet}`` = the sheet as a slug (lowercase, runs of other characters as ``_``;
    ``sheet<i>`` when nothing is left), cut to the 63-character name limit and made unique
    with ``_2``, ``_3``..."""
    if "{sheet}" not in pattern:
        raise errors.invalid_field("sheet_dataset_pattern", f"must contain {{sheet}}, got {pattern!r}")
    out: dict[str, str] = {}
    used: set[str] = set()
    for index, sheet in enumerate(sheets):
        slug = _SLUG_RE.sub("_", sheet.lower()).strip("_") or f"sheet{index}"
        try:
            name = pattern.format(dataset=base, sheet=slug)
        except (KeyError, IndexError, ValueError) as exc:
            raise errors.invalid_field(
                "sheet_dataset_pattern", f"use the placeholders {{dataset}} and {{sheet}} only ({exc})"
            ) from None
        name = name[:_DATASET_NAME_MAX].rstrip("_")
        candidate, n = name, 1
        while candidate in used:
            n += 1
            suffix = f"_{n}"
            candidate = name[: _DATASET_NAME_MAX - len(suffix)] + suffix
        used.add(candidate)
        out[sheet] = candidate
    return out


class SheetSource:
    """A sheet table seen the way the ingest core sees a parsed upload (see reader.SourceReader)."""

    def __init__(self, table: SheetTable) -> None:
        self.table = table

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def columns(self) -> list[tuple[str, str]]:
        return [(f.name, str(f.type)) for f in self.table.schema]

    def set_hints(self, hints: object) -> None:
        """Types are enforced by the core's final cast (a sheet's cells are already typed)."""

    def stream(self, batch_rows: int, columns: list[str] | None = None) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]:
        if not columns:
            return self.table.schema, self.table.batches(batch_rows)
        schema = pa.schema([self.table.schema.field(c) for c in columns])
        return schema, (b.select(columns) for b in self.table.batches(batch_rows))

    def key_problem(self, key: tuple[str, ...], unique: bool) -> str | None:
        """Describe one null (or, if ``unique``, duplicated) key in the sheet; None when clean."""
        _, batches = self.stream(max(1, self.table.rows), list(key))
        keys = pa.Table.from_batches(list(batches), schema=pa.schema([self.table.schema.field(k) for k in key]))
        for row in keys.to_pylist():
            if any(v is None for v in row.values()):
                return f"a row has a null primary key value: {row}"
        if unique and keys.num_rows:
            counts = keys.group_by(list(key)).aggregate([([], "count_all")])
            repeated = counts.filter(pc.greater(counts["count_all"], 1))
            if repeated.num_rows:
                first = repeated.slice(0, 1).to_pylist()[0]
                times = first.pop("count_all")
                return f"primary key {first} occurs {times} times in the upload"
        return None
