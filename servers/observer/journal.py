"""The op journal on the lake: ``_journal/<date>/<name>.parquet``, one file per flush and
UTC date, and the system dataset ``_ops`` that SQL reads it through.

Files are written once and never changed (a flush writes a new file), so any number of
processes can write the same journal: each names its files by the flush time and its own
recorder id. ``_ops`` is discovered at query time (one listing of ``_journal/``): the
``date`` directory is a column of its own, so ``WHERE date >= '2025-01-31'`` skips
whole days without opening their files.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.api.observer import ObservedOp

JOURNAL_PREFIX = "_journal/"
# The SQL name of the journal (QueryService): a name no catalog dataset can take.
OPS_DATASET = "_ops"
DATE_FORMAT = "%Y-%m-%d"
NAME_TIME_FORMAT = "%Y%m%dT%H%M%S%f"
CONTENT_TYPE = "application/vnd.apache.parquet"
COMPRESSION = "zstd"
# The journal's partition column (the <date> directory).
DATE_COLUMN = "date"

ATTRIBUTES = pa.map_(pa.string(), pa.string())
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("service", pa.string()),
        ("method", pa.string()),
        ("source", pa.string()),
        ("profile", pa.string()),
        ("code", pa.string()),
        ("reason", pa.string()),
        ("latency_ms", pa.float64()),
        ("request_bytes", pa.int64()),
        ("response_bytes", pa.int64()),
        ("attributes", ATTRIBUTES),
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("workflow", pa.string()),
        ("run_id", pa.string()),
        ("node_id", pa.string()),
        ("input_summary", pa.string()),
        ("output_summary", pa.string()),
    ]
)
PARTITIONING = pads.partitioning(pa.schema([(DATE_COLUMN, pa.string())]))
DATASET_SCHEMA = SCHEMA.append(pa.field(DATE_COLUMN, pa.string()))
_STRING_COLUMNS = tuple(f.name for f in SCHEMA if pa.types.is_string(f.type))


def file_key(date: str, flushed: datetime, recorder_id: str, batch: int) -> str:
    """The key of one journal file: sortable by flush time, unique per recorder."""
    return f"{JOURNAL_PREFIX}{date}/{flushed.strftime(NAME_TIME_FORMAT)}-{recorder_id}-{batch:06d}.parquet"


def by_date(ops: Iterable[ObservedOp]) -> dict[str, list[ObservedOp]]:
    """Ops grouped by the UTC date they started on (one file each)."""
    out: dict[str, list[ObservedOp]] = {}
    for op in ops:
        out.setdefault(op.time.astimezone(UTC).strftime(DATE_FORMAT), []).append(op)
    return out


def to_table(ops: list[ObservedOp]) -> pa.Table:
    columns: dict[str, list[Any]] = {f.name: [] for f in SCHEMA}
    for op in ops:
        for name in _STRING_COLUMNS:
            columns[name].append(getattr(op, name))
        columns["time"].append(op.time)
        columns["latency_ms"].append(op.latency_ms)
        columns["request_bytes"].append(op.request_bytes)
        columns["response_bytes"].append(op.response_bytes)
        columns["attributes"].append(list(op.attributes.items()))
    return pa.table(columns, schema=SCHEMA)


def encode(ops: list[ObservedOp]) -> bytes:
    """One Parquet file holding ``ops``."""
    sink = io.BytesIO()
    pq.write_table(to_table(ops), sink, compression=COMPRESSION)
    return sink.getvalue()


def from_table(table: pa.Table) -> list[ObservedOp]:
    """Ops from rows of the journal (any subset of its columns; absent ones are empty)."""
    names = set(table.column_names)
    out = []
    for row in table.to_pylist():
        attributes = row.get("attributes") or []
        time = row.get("time") or datetime.fromtimestamp(0, UTC)
        out.append(
            ObservedOp(
                id=row.get("id") or "",
                time=time if time.tzinfo else time.replace(tzinfo=UTC),
                service=row.get("service") or "",
                method=row.get("method") or "",
                source=row.get("source") or "",
                code=row.get("code") or "",
                reason=row.get("reason") or "",
                latency_ms=float(row.get("latency_ms") or 0.0),
                request_bytes=int(row.get("request_bytes") or 0),
                response_bytes=int(row.get("response_bytes") or 0),
                attributes=dict(attributes) if "attributes" in names else {},
                profile=row.get("profile") or "",
                trace_id=row.get("trace_id") or "",
                span_id=row.get("span_id") or "",
                workflow=row.get("workflow") or "",
                run_id=row.get("run_id") or "",
                node_id=row.get("node_id") or "",
                input_summary=row.get("input_summary") or "",
                output_summary=row.get("output_summary") or "",
            )
        )
    return out


def to_json(ops: list[ObservedOp]) -> str:
    """The ops as one JSON array: what an error record keeps of a batch the journal refused."""
    return json.dumps(
        [
            {
                "id": op.id,
                "time": op.time.astimezone(UTC).isoformat(),
                "service": op.service,
                "method": op.method,
                "source": op.source,
                "code": op.code,
                "reason": op.reason,
                "latency_ms": op.latency_ms,
                "request_bytes": op.request_bytes,
                "response_bytes": op.response_bytes,
                "attributes": dict(op.attributes),
                **{k: getattr(op, k) for k in ("profile", "trace_id", "span_id", "workflow", "run_id", "node_id")},
            }
            for op in ops
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def ops_dataset(filesystem: pafs.FileSystem, base: str) -> pads.Dataset:
    """The journal as one pyarrow dataset (discovered now: the files written so far), with
    the ``date`` directory as a column. No journal yet: an empty dataset of the same schema."""
    root = f"{base.rstrip('/')}/{JOURNAL_PREFIX.rstrip('/')}"
    try:
        return pads.dataset(
            root, schema=DATASET_SCHEMA, format="parquet", filesystem=filesystem, partitioning=PARTITIONING
        )
    except FileNotFoundError:
        return pads.FileSystemDataset.from_paths(
            [], schema=DATASET_SCHEMA, format=pads.ParquetFileFormat(), filesystem=filesystem
        )


def system_datasets() -> dict[str, Any]:
    """What the query engine serves besides the catalog's datasets: name -> opener."""
    return {OPS_DATASET: ops_dataset}
