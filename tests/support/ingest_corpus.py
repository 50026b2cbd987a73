"""The ingest-fidelity corpus (tests/data/ingest_fidelity) and the read pipeline its unit tests share.

``read_text`` chains the building blocks the way the ingest core is meant to:
decompress -> transcode -> peek a sample -> sniff -> line filter -> spool ->
DuckDB ``read_csv`` with ``read_csv_options`` - so a case's expected rows and
columns are checked against what DuckDB actually reads.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from lakehouse.api import errors
from lakehouse.servers.ingest import decode, dialect
from lakehouse.servers.ingest.lines import LineFilter
from lakehouse.servers.settings import IngestSettings

CORPUS = Path(__file__).resolve().parents[1] / "data" / "ingest_fidelity"
MANIFEST = CORPUS / "expected.toml"
# Small upload chunks, so every case also crosses chunk boundaries.
CHUNK_BYTES = 7


def manifest() -> dict[str, list[dict[str, Any]]]:
    return tomllib.loads(MANIFEST.read_text(encoding="utf-8"))


def case_id(case: dict[str, Any]) -> str:
    extra = [f"{k}={v}" for k, v in sorted(case.get("options", {}).items())]
    extra += [f"{k}={case[k]}" for k in ("format", "compression", "encoding", "sheet") if k in case]
    return case["file"] + (f"[{','.join(extra)}]" if extra else "")


def raw(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def is_plain_text(data: bytes) -> bool:
    """UTF-8 without a BOM: what needs no decoding step."""
    if data.startswith(decode.UTF8_BOM):
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def chunks(data: bytes, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@dataclass
class TextRead:
    dialect: dialect.CsvDialect
    table: pa.Table
    removed_lines: int


def read_text(case: dict[str, Any], spool: Path, settings: IngestSettings | None = None) -> TextRead:
    ingest = settings or IngestSettings()
    stream = decode.decompress(
        chunks(raw(case["file"])), case.get("compression", "auto"), decode.DecodeLimits.from_settings(ingest)
    )
    stream = decode.transcode(stream, case.get("encoding", ""))
    peeked = decode.peek(stream, ingest.sniff_bytes)
    options = dialect.parse_options(**case.get("options", {}), tsv=case.get("format") == "tsv")
    sample = dialect.sample_text(peeked.head, peeked.complete)
    found = dialect.sniff(sample, options, dialect.SniffLimits.from_settings(ingest), complete=peeked.complete)
    line_filter = LineFilter.for_dialect(found, ingest)
    spool.write_bytes(b"".join(line_filter.filter(peeked.chunks)))
    return TextRead(found, read_csv(spool, found), line_filter.removed)


def read_csv(path: Path, found: dialect.CsvDialect) -> pa.Table:
    """DuckDB's read_csv with exactly the dialect's options (bound parameters)."""
    options = dialect.read_csv_options(found)
    params: dict[str, object] = {"path": str(path), **options}
    args = ", ".join(f"{k} = ${k}" for k in options)
    select = ", ".join('"' + c.replace('"', '""') + '"' for c in found.columns)
    with duckdb.connect(":memory:") as con:
        return con.sql(f"SELECT {select} FROM read_csv($path, {args})", params=params).to_arrow_table()


def expected_value(value: Any) -> Any:
    """TOML has no null: the manifest writes a missing number as nan."""
    return None if isinstance(value, float) and math.isnan(value) else value


def check_text_case(case: dict[str, Any], tmp_path: Path) -> None:
    """The manifest's expectation for one [[text]] case, through the whole read pipeline."""
    if "error" in case:
        with pytest.raises(errors.LakehouseError) as info:
            read_text(case, tmp_path / "spool.csv")
        err = info.value
        assert err.reason == case["error"], err.message
        if "line" in case:
            assert err.metadata["line"] == str(case["line"]), err.message
            assert f"line {case['line']}" in err.message
        for parameter in case.get("parameters", []):
            assert parameter in err.metadata.get("parameters", err.metadata.get("parameter", "")), err.metadata
            assert parameter in err.message
        assert "strict_mode" not in err.message and "ignore_errors" not in err.message
        return
    read = read_text(case, tmp_path / "spool.csv")
    table, found = read.table, read.dialect
    assert table.num_rows == case["rows"], found.reasoning
    assert table.column_names == case["columns"], found.reasoning
    assert found.header_decision == case["header"], found.reasoning
    assert found.skipped_lines == case["skipped_lines"], found.reasoning
    assert read.removed_lines == case["skipped_lines"]  # the whole file: every removed line counted
    assert len(found.renames) == case.get("renamed", 0)
    for column, row, value in case.get("cells", []):
        assert table.column(column)[row].as_py() == value
    for column, count in case.get("nulls", {}).items():
        assert table.column(column).null_count == count
