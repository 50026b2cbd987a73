"""Catalog model <-> protobuf, used by the servicer and by the remote client."""

from __future__ import annotations

from datetime import UTC

import pyarrow as pa

from lakehouse.api.errors import invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.servers.catalog.integrity import ProblemKind, VerifyReport
from lakehouse.servers.catalog.model import DataFile, Dataset, DatasetVersion, NewVersion, WriteMode
from lakehouse.v1 import catalog_pb2

_MODE_TO_PB = {
    WriteMode.CREATE: catalog_pb2.WRITE_MODE_CREATE,
    WriteMode.APPEND: catalog_pb2.WRITE_MODE_APPEND,
    WriteMode.REPLACE: catalog_pb2.WRITE_MODE_REPLACE,
    WriteMode.UPSERT: catalog_pb2.WRITE_MODE_UPSERT,
    WriteMode.DELETE: catalog_pb2.WRITE_MODE_DELETE,
}
_MODE_FROM_PB = {v: k for k, v in _MODE_TO_PB.items()}
_PROBLEM_TO_PB = {
    ProblemKind.MISSING: catalog_pb2.FILE_PROBLEM_KIND_MISSING,
    ProblemKind.SIZE_MISMATCH: catalog_pb2.FILE_PROBLEM_KIND_SIZE_MISMATCH,
    ProblemKind.HASH_MISMATCH: catalog_pb2.FILE_PROBLEM_KIND_HASH_MISMATCH,
    ProblemKind.UNREADABLE: catalog_pb2.FILE_PROBLEM_KIND_UNREADABLE,
}


def schema_to_pb(schema: pa.Schema) -> catalog_pb2.Schema:
    return catalog_pb2.Schema(
        fields=[catalog_pb2.Field(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema],
        arrow_schema=schema.serialize().to_pybytes(),
    )


def schema_from_pb(msg: catalog_pb2.Schema) -> pa.Schema:
    if not msg.arrow_schema:
        raise invalid_field("schema.arrow_schema", "required")
    try:
        return pa.ipc.read_schema(pa.py_buffer(msg.arrow_schema))
    except (pa.ArrowInvalid, OSError) as exc:
        raise invalid_field("schema.arrow_schema", f"not an Arrow IPC schema: {exc}") from exc


def mode_to_pb(mode: WriteMode) -> int:
    return _MODE_TO_PB[mode]


def mode_from_pb(value: int) -> WriteMode:
    if value not in _MODE_FROM_PB:
        raise invalid_field("mode", "must be set")
    return _MODE_FROM_PB[value]


def file_to_pb(f: DataFile) -> catalog_pb2.DataFile:
    return catalog_pb2.DataFile(path=f.path, rows=f.rows, size_bytes=f.bytes, content_hash=f.content_hash)


def file_from_pb(m: catalog_pb2.DataFile) -> DataFile:
    return DataFile(path=m.path, rows=m.rows, bytes=m.size_bytes, content_hash=m.content_hash)


def version_to_pb(v: DatasetVersion) -> catalog_pb2.DatasetVersion:
    return catalog_pb2.DatasetVersion(
        dataset=v.dataset,
        version=v.version,
        files=[file_to_pb(f) for f in v.files],
        deltas=[file_to_pb(f) for f in v.deltas],
        schema=schema_to_pb(v.schema),
        create_time=timestamp(v.created_at),
        mode=mode_to_pb(v.mode),
        source_hash=v.source_hash,
        primary_key=list(v.primary_key),
        base_rows=v.base_rows,
        size_bytes=v.bytes,
    )


def version_from_pb(m: catalog_pb2.DatasetVersion) -> DatasetVersion:
    return DatasetVersion(
        dataset=m.dataset,
        version=m.version,
        files=tuple(file_from_pb(f) for f in m.files),
        deltas=tuple(file_from_pb(f) for f in m.deltas),
        schema=schema_from_pb(m.schema),
        created_at=m.create_time.ToDatetime(tzinfo=UTC),
        mode=mode_from_pb(m.mode),
        source_hash=m.source_hash,
        primary_key=tuple(m.primary_key),
    )


def dataset_to_pb(d: Dataset) -> catalog_pb2.Dataset:
    return catalog_pb2.Dataset(
        name=d.name,
        create_time=timestamp(d.created_at),
        update_time=timestamp(d.updated_at),
        current=version_to_pb(d.current),
        version_count=d.version_count,
    )


def dataset_from_pb(m: catalog_pb2.Dataset) -> Dataset:
    return Dataset(
        name=m.name,
        created_at=m.create_time.ToDatetime(tzinfo=UTC),
        updated_at=m.update_time.ToDatetime(tzinfo=UTC),
        current=version_from_pb(m.current),
        version_count=m.version_count,
    )


def new_version_to_pb(n: NewVersion) -> catalog_pb2.CommitVersionRequest:
    return catalog_pb2.CommitVersionRequest(
        dataset=n.dataset,
        expected_version=n.expected_version,
        files=[file_to_pb(f) for f in n.files],
        deltas=[file_to_pb(f) for f in n.deltas],
        schema=schema_to_pb(n.schema),
        mode=mode_to_pb(n.mode),
        source_hash=n.source_hash,
        primary_key=list(n.primary_key),
    )


def new_version_from_pb(m: catalog_pb2.CommitVersionRequest) -> NewVersion:
    return NewVersion(
        dataset=m.dataset,
        expected_version=m.expected_version,
        files=tuple(file_from_pb(f) for f in m.files),
        deltas=tuple(file_from_pb(f) for f in m.deltas),
        schema=schema_from_pb(m.schema),
        mode=mode_from_pb(m.mode),
        source_hash=m.source_hash,
        primary_key=tuple(m.primary_key),
    )


def verify_report_to_pb(r: VerifyReport) -> catalog_pb2.VerifyDatasetsResponse:
    return catalog_pb2.VerifyDatasetsResponse(
        datasets_checked=r.datasets_checked,
        files_checked=r.files_checked,
        bytes_checked=r.bytes_checked,
        problems=[
            catalog_pb2.FileProblem(
                dataset=p.dataset,
                version=p.version,
                path=p.path,
                kind=_PROBLEM_TO_PB[p.kind],
                expected=p.expected,
                actual=p.actual,
            )
            for p in r.problems
        ],
    )
