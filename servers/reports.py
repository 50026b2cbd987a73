"""Reports written to the lake as datasets, so SQL can chart them over time.

Every measurement (a drift report, a distillation run, a validation, a truth check)
appends its rows to a dataset through the ingest API — the same commit rule, journal
and catalog as any upload, so a report the catalog lists is whole. Rows are plain
values; nested values (lists, dicts) are stored as JSON text so a report's schema
does not change with its content.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.api.catalog import WriteMode
from lakehouse.api.ingest import IngestApi, IngestResult, IngestSpec


def report_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows → a table; lists and dicts become JSON text (keys sorted, so bytes are stable)."""
    flat = [{k: _flat(v) for k, v in row.items()} for row in rows]
    return pa.Table.from_pylist(flat)


def write_report(
    ingest: IngestApi,
    dataset: str,
    rows: Sequence[Mapping[str, Any]] | pa.Table,
    *,
    primary_key: Sequence[str] = (),
) -> IngestResult | None:
    """Append (or, with a primary key, upsert) ``rows`` into ``dataset``; None when there
    is nothing to write (an empty report is still a report, but not a dataset version)."""
    table = rows if isinstance(rows, pa.Table) else report_table(rows)
    if table.num_rows == 0:
        return None
    mode = WriteMode.UPSERT if primary_key else WriteMode.APPEND
    return ingest.ingest(
        IngestSpec(dataset, format="parquet", mode=mode, primary_key=tuple(primary_key)), [pq_bytes(table)]
    )


def pq_bytes(table: pa.Table) -> bytes:
    """A table as the bytes of one Parquet file (an upload through the ingest API)."""
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def _flat(value: Any) -> Any:
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return value
