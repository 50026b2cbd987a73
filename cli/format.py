"""How the CLI shows results to a person: Arrow values by their type, short summaries of
responses. Pure functions of the messages, so they are tested without a server; `--json`
prints the responses themselves instead."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

import pyarrow as pa

NULL = "NULL"
# Characters that would break a table row, shown escaped.
_CELL_ESCAPES = str.maketrans({"\n": "\\n", "\r": "\\r", "\t": "\\t"})
_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_BYTE_STEP = 1024
# SQL types of the Sql RPC's columns whose JSON numbers are integers (DuckDB's names).
SQL_INTEGER_TYPES = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
# Search hits show this much of their text (or metadata) on their line.
PREVIEW_CHARS = 80
# `embed` shows this many leading components of each vector.
EMBED_PREVIEW_VALUES = 5


# Sizes and counts --------------------------------------------------------------


def human_bytes(n: int) -> str:
    """1536 -> "1.5 KiB"; plain bytes below one KiB."""
    value = float(n)
    for unit in _BYTE_UNITS:
        if abs(value) < _BYTE_STEP or unit == _BYTE_UNITS[-1]:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= _BYTE_STEP
    raise AssertionError("unreachable")


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# Arrow values --------------------------------------------------------------------


def _float_text(dtype: pa.DataType) -> Callable[[float], str]:
    """Shortest text that reads back as the same value of the column's width (so a
    float32 0.1 shows as 0.1, not 0.10000000149011612)."""
    if pa.types.is_float64(dtype):
        return repr
    import numpy as np

    width = np.float16 if pa.types.is_float16(dtype) else np.float32
    return lambda v: str(width(v))


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _cell(value: Any) -> str:
    """A JSON-friendly value (servers.query.jsonvalues) as a table cell."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value.translate(_CELL_ESCAPES)
    if isinstance(value, (list, dict)):
        return _json_text(value)
    return str(value)


def column_cells(column: pa.ChunkedArray | pa.Array) -> list[str]:
    """Every value of one column as text, by its Arrow type: integers as integers, floats
    as the shortest text of their width, decimals exact, temporals ISO 8601, binary as
    base64, nested values as JSON, NULL for nulls. Beyond floats this is the REST JSON
    conversion, so both show a value the same way."""
    from lakehouse.servers.query import jsonvalues

    dtype = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_floating(dtype):
        text = _float_text(dtype)
        return [NULL if v is None else text(v) for v in column.to_pylist()]
    return [_cell(v) for v in jsonvalues.column_values(column)]


def _right_aligned(dtype: pa.DataType) -> bool:
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    return pa.types.is_integer(dtype) or pa.types.is_floating(dtype) or pa.types.is_decimal(dtype)


def table_lines(table: pa.Table) -> list[str]:
    """A header, a rule and one line per row; numbers right-aligned."""
    names = table.column_names
    columns = [column_cells(table.column(i)) for i in range(table.num_columns)]
    widths = [max([len(name), *(len(c) for c in cells)]) for name, cells in zip(names, columns, strict=True)]
    right = [_right_aligned(f.type) for f in table.schema]

    def line(cells: Iterable[str]) -> str:
        return " | ".join(
            (c.rjust(w) if r else c.ljust(w)) for c, w, r in zip(cells, widths, right, strict=True)
        ).rstrip()

    lines = [line(names), "-+-".join("-" * w for w in widths)]
    lines.extend(line(row) for row in zip(*columns, strict=True))
    return lines


def take_rows(reader: pa.RecordBatchReader, limit: int) -> tuple[pa.Table, bool]:
    """The first ``limit`` rows of a stream and whether it had more; stops reading there."""
    batches, rows = [], 0
    for batch in reader:
        if rows + batch.num_rows > limit:
            batches.append(batch.slice(0, limit - rows))
            return pa.Table.from_batches(batches, schema=reader.schema), True
        batches.append(batch)
        rows += batch.num_rows
    return pa.Table.from_batches(batches, schema=reader.schema), False


def sql_json(columns: list[tuple[str, str]], rows: list[list[Any]], truncated: bool) -> dict[str, Any]:
    """The Sql RPC's answer for `--output json`, integer columns as JSON integers (the
    RPC carries every number as a double, and integers beyond 2^53 as strings)."""
    integer = [t.upper() in SQL_INTEGER_TYPES for _, t in columns]

    def value(v: Any, is_int: bool) -> Any:
        if is_int and isinstance(v, float) and v.is_integer():
            return int(v)
        if is_int and isinstance(v, str) and v.lstrip("-").isdigit():
            return int(v)
        return v

    return {
        "columns": [list(c) for c in columns],
        "rows": [[value(v, i) for v, i in zip(row, integer, strict=True)] for row in rows],
        "truncated": truncated,
    }


# Responses -------------------------------------------------------------------------


def _written(r: Any) -> str:
    return f"{plural(r.rows, 'row')}, {human_bytes(r.bytes_in)} in -> {human_bytes(r.bytes_written)} written"


def ingest_lines(r: Any, seconds: float) -> list[str]:
    """An IngestResult in a few lines: what was committed, then how the source was read."""
    target = f"{r.dataset} v{r.version}" if r.version else r.dataset
    if r.deduplicated:  # the counts are the existing version's
        done = f"deduplicated: these {human_bytes(r.bytes_in)} were already ingested, nothing written"
    else:
        done = f"{_written(r)}, {plural(r.files, 'file')}"
    lines = [f"{target} ({r.mode}): {done}, {seconds:.2f}s"]
    how = []
    if r.header:
        how.append(f"header: {r.header}")
    if r.skipped_lines:
        how.append(f"{plural(r.skipped_lines, 'line')} skipped")
    if how:
        lines.append("  " + ", ".join(how))
    if r.renames:
        renamed = ", ".join(f"{x.original!r} -> {x.name!r} (column {x.index})" for x in r.renames)
        lines.append(f"  renamed {renamed}")
    for sheet in r.sheets:
        name = sheet.read_options.sheet
        if sheet.version:
            done = "deduplicated" if sheet.deduplicated else f"{_written(sheet)}, {plural(sheet.files, 'file')}"
            lines.append(f"  sheet {name!r} -> {sheet.dataset} v{sheet.version}: {done}")
        else:
            lines.append(f"  sheet {name!r}: {sheet.reasoning or 'nothing written'}")
    return lines


def dataset_lines(d: Any) -> list[str]:
    """A Dataset: its current version, size and schema."""
    v = d.current
    files = plural(len(v.files), "file") + (f" + {plural(len(v.deltas), 'delta')}" if v.deltas else "")
    lines = [
        f"{d.name} v{v.version}: {plural(v.base_rows, 'row')}, {human_bytes(v.size_bytes)} in {files},"
        f" {plural(d.version_count, 'version')}"
    ]
    if v.schema.fields:
        lines.append("  " + ", ".join(f"{f.name} {f.type}" for f in v.schema.fields))
    if v.primary_key:
        lines.append("  primary key: " + ", ".join(v.primary_key))
    if d.HasField("update_time"):
        lines.append("  updated " + d.update_time.ToDatetime().isoformat() + "Z")
    return lines


def corpus_line(c: Any) -> str:
    """One corpus: name, items, model, dimension (and metric)."""
    return f"{c.name}\t{plural(c.count, 'item')}\t{c.embedding_model or '-'}\t{c.dimension}-d {c.metric}"


def corpus_lines(c: Any) -> list[str]:
    """One corpus in full."""
    lines = [
        corpus_line(c),
        f"  generation {c.generation} (on storage: {', '.join(map(str, c.generations)) or '-'}),"
        f" {human_bytes(c.size_bytes)}, HNSW M={c.hnsw_m} efConstruction={c.ef_construction}",
    ]
    if c.tombstones:
        lines.append(f"  {plural(c.tombstones, 'deleted item')} not yet compacted away")
    if c.building:
        lines.append("  a new generation is building")
    if c.HasField("create_time"):
        lines.append("  created " + c.create_time.ToDatetime().isoformat() + "Z")
    return lines


def _struct_dict(struct: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(struct)


def hit_line(hit: Any) -> str:
    """One search result: score, id, and its text (or metadata) previewed."""
    metadata = _struct_dict(hit.metadata) if hit.HasField("metadata") else {}
    text = metadata.get("text")
    shown = text if isinstance(text, str) else (_json_text(metadata) if metadata else "")
    return f"{hit.score:.4f}\t{hit.id}\t{preview(shown)}".rstrip()


def embed_lines(resp: Any, texts: list[str]) -> list[str]:
    """The model and dimension, then per text its first few components."""
    lines = [f"{resp.provider}/{resp.model}, {resp.dimension} dimensions"]
    for text, e in zip(texts, resp.embeddings, strict=True):
        shown = ", ".join(f"{v:.4f}" for v in e.values[:EMBED_PREVIEW_VALUES])
        more = ", ..." if len(e.values) > EMBED_PREVIEW_VALUES else ""
        lines.append(f"[{shown}{more}]\t{preview(text)}")
    return lines
