"""CatalogService's API: its domain types, the interface (``CatalogApi``), the proto
conversions and the remote implementation (the local one is ``servers/catalog/core.py``).

A dataset is a sequence of immutable versions. Each version is a full manifest:
the base Parquet files plus the ordered delta files (upserts and deletes) that
are merged on read. Paths are keys relative to the lake bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

import pyarrow as pa

from lakehouse.api.errors import invalid_field
from lakehouse.api.protoconv import timestamp
from lakehouse.api.remote import Remote
from lakehouse.v1 import catalog_pb2, catalog_pb2_grpc

DATASET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Columns every delta file carries besides the dataset's own.
DELTA_OP_COLUMN = "_lh_op"  # DELTA_UPSERT or DELTA_DELETE
DELTA_UPSERT = "U"
DELTA_DELETE = "D"
# How content hashes are written: "sha256:<64 lowercase hex digits>".
HASH_PREFIX = "sha256:"
DELTA_SEQ_COLUMN = "_lh_seq"  # int64, increases with every delta; the highest wins

# Stable error reasons (ErrorInfo.reason) of CatalogService; ingest and query return the
# dataset ones too.
DATASET_NOT_FOUND = "DATASET_NOT_FOUND"
VERSION_NOT_FOUND = "VERSION_NOT_FOUND"
DATASET_EXISTS = "DATASET_EXISTS"
VERSION_CONFLICT = "VERSION_CONFLICT"  # expected_version is no longer the current one
CURRENT_VERSION = "CURRENT_VERSION"  # the current version cannot be expired
INVALID_DATASET_NAME = "INVALID_DATASET_NAME"
INVALID_RETENTION = "INVALID_RETENTION"
CATALOG_UNAVAILABLE = "CATALOG_UNAVAILABLE"
CATALOG_ERROR = "CATALOG_ERROR"
# Rejections of a commit; metadata names the dataset and path.
INVALID_FILE_PATH = "INVALID_FILE_PATH"
FOREIGN_FILE = "FOREIGN_FILE"
DUPLICATE_FILE = "DUPLICATE_FILE"
INVALID_CONTENT_HASH = "INVALID_CONTENT_HASH"
FILE_MISSING = "FILE_MISSING"
FILE_SIZE_MISMATCH = "FILE_SIZE_MISMATCH"
FILE_HASH_MISMATCH = "FILE_HASH_MISMATCH"


class WriteMode(str, Enum):
    CREATE = "create"
    APPEND = "append"
    REPLACE = "replace"
    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True)
class DataFile:
    path: str
    rows: int
    bytes: int
    content_hash: str  # "sha256:<hex>" of the object bytes


@dataclass(frozen=True)
class DatasetVersion:
    dataset: str
    version: int
    files: tuple[DataFile, ...]
    deltas: tuple[DataFile, ...]
    schema: pa.Schema
    created_at: datetime
    mode: WriteMode
    source_hash: str  # "sha256:<hex>" of the ingested source bytes ("" when not from a file)
    primary_key: tuple[str, ...] = ()

    @property
    def base_rows(self) -> int:
        return sum(f.rows for f in self.files)

    @property
    def bytes(self) -> int:
        return sum(f.bytes for f in self.files) + sum(f.bytes for f in self.deltas)


@dataclass(frozen=True)
class Dataset:
    name: str
    created_at: datetime
    updated_at: datetime
    current: DatasetVersion
    version_count: int = 1

    @property
    def current_version(self) -> int:
        return self.current.version


@dataclass(frozen=True)
class NewVersion:
    """What a writer asks the catalog to commit, after its files are durable."""

    dataset: str
    expected_version: int  # 0 when the dataset must not exist yet
    files: tuple[DataFile, ...]
    deltas: tuple[DataFile, ...]
    schema: pa.Schema
    mode: WriteMode
    source_hash: str = ""
    primary_key: tuple[str, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


class CatalogApi(Protocol):
    """What ingest and query need from the catalog; met in-process by CatalogCore
    and across processes by the gRPC-backed client."""

    def get_dataset(self, name: str) -> Dataset: ...

    def list_datasets(self, page_size: int = 0, page_token: str = "") -> tuple[list[Dataset], str]: ...

    def get_version(self, name: str, version: int) -> DatasetVersion: ...

    def find_by_source_hash(self, name: str, source_hash: str) -> DatasetVersion | None: ...

    def commit_version(self, new: NewVersion) -> DatasetVersion: ...

    def generation(self) -> int: ...


def validate_dataset_name(name: str, field_name: str = "dataset") -> str:
    if not DATASET_NAME_RE.match(name or ""):
        raise invalid_field(
            field_name,
            f"invalid dataset name {name!r}: use 1-63 lowercase letters, digits or '_', starting with a letter",
            reason=INVALID_DATASET_NAME,
        )
    return name


# Verification ---------------------------------------------------------------


class ProblemKind(str, Enum):
    MISSING = "missing"
    SIZE_MISMATCH = "size_mismatch"
    HASH_MISMATCH = "hash_mismatch"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class FileProblem:
    dataset: str
    version: int  # the newest checked version whose manifest names the file
    path: str
    kind: ProblemKind
    expected: str
    actual: str


@dataclass(frozen=True)
class VerifyReport:
    datasets_checked: int
    files_checked: int
    bytes_checked: int
    problems: tuple[FileProblem, ...]


# Conversions -----------------------------------------------------------------


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


# Remote ----------------------------------------------------------------------


class RemoteCatalog(Remote):
    """CatalogApi over a channel from ``lakehouse.api.channel.open_channel``."""

    stub_type = catalog_pb2_grpc.CatalogServiceStub

    def get_dataset(self, name: str) -> Dataset:
        return dataset_from_pb(self._call("GetDataset", catalog_pb2.GetDatasetRequest(dataset=name)))

    def list_datasets(self, page_size: int = 0, page_token: str = "") -> tuple[list[Dataset], str]:
        resp = self._call(
            "ListDatasets",
            catalog_pb2.ListDatasetsRequest(page_size=page_size, page_token=page_token),
        )
        return [dataset_from_pb(d) for d in resp.datasets], resp.next_page_token

    def get_version(self, name: str, version: int) -> DatasetVersion:
        return version_from_pb(self._call("GetVersion", catalog_pb2.GetVersionRequest(dataset=name, version=version)))

    def find_by_source_hash(self, name: str, source_hash: str) -> DatasetVersion | None:
        resp = self._call(
            "FindVersionBySource",
            catalog_pb2.FindVersionBySourceRequest(dataset=name, source_hash=source_hash),
        )
        return version_from_pb(resp.version) if resp.HasField("version") else None

    def commit_version(self, new: NewVersion) -> DatasetVersion:
        return version_from_pb(self._call("CommitVersion", new_version_to_pb(new)))

    def generation(self) -> int:
        return self._call("GetGeneration", catalog_pb2.GetGenerationRequest()).generation
