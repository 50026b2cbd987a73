"""Plain types of the catalog, shared by every core that reads or writes datasets.

A dataset is a sequence of immutable versions. Each version is a full manifest:
the base Parquet files plus the ordered delta files (upserts and deletes) that
are merged on read. Paths are keys relative to the lake bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

import pyarrow as pa

from lakehouse.api.errors import invalid_field

DATASET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# Columns every delta file carries besides the dataset's own.
DELTA_OP_COLUMN = "_lh_op"  # DELTA_UPSERT or DELTA_DELETE
DELTA_UPSERT = "U"
DELTA_DELETE = "D"
# How content hashes are written: "sha256:<64 lowercase hex digits>".
HASH_PREFIX = "sha256:"
DELTA_SEQ_COLUMN = "_lh_seq"  # int64, increases with every delta; the highest wins


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
            reason="INVALID_DATASET_NAME",
        )
    return name
