"""A private, hardened DuckDB over the lake, and a dataset version as a temporary view.

Validations share one in-memory database, each on a connection of its own (closed
afterwards, with its temporary views). Their SQL is generated, but patterns and values
come from the caller, so the query sandbox's engine layer applies too
(``sandbox.harden``: no file access outside the lake's ``datasets/`` prefix, no
extensions, locked configuration). A version is read like the query engine reads it
(``views.merge_on_read_sql``: deltas merged on read), from any file list: a committed
version's, or an ingest's staged files before their commit.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from lakehouse.api.catalog import DataFile
from lakehouse.servers.memory import memory_bytes
from lakehouse.servers.query.sandbox import EngineLimits, harden
from lakehouse.servers.query.views import delta_schema, lake_directory, merge_on_read_sql
from lakehouse.servers.settings import ValidatorSettings
from lakehouse.servers.sql import quote_ident, string_literal
from lakehouse.servers.storage.model import ObjectStore

TEMP_DIR_PREFIX = "lakehouse-validation-"


class VersionFiles(Protocol):
    """What a view is built from: a committed DatasetVersion or a staged NewVersion."""

    @property
    def files(self) -> Sequence[DataFile]: ...
    @property
    def deltas(self) -> Sequence[DataFile]: ...
    @property
    def schema(self) -> pa.Schema: ...
    @property
    def primary_key(self) -> Sequence[str]: ...


class LakeScanner:
    """Opens validation databases over one object store."""

    def __init__(self, store: ObjectStore, settings: ValidatorSettings, temp_root: Path) -> None:
        self._fs, base = store.filesystem()
        self._base = base.rstrip("/")
        self._lake_dir = lake_directory(self._fs, base)
        self._settings = settings
        self._temp_root = temp_root
        self._memory = memory_bytes(settings.memory_limit)
        self._lock = threading.Lock()
        self._db: duckdb.DuckDBPyConnection | None = None
        self._temp = ""

    @property
    def native(self) -> bool:
        """DuckDB's own Parquet reader (a local-directory lake); pyarrow datasets otherwise (S3)."""
        return self._lake_dir is not None

    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection of its own (its temporary views and registrations die with it) to the
        scanner's one hardened database, opened on first use (opening one costs ~15 ms)."""
        database = self._database()
        con = database.cursor()
        try:
            yield con
        except duckdb.FatalException:
            self._discard(database)  # invalidated: the next validation opens a new one
            raise
        finally:
            con.close()

    def close(self) -> None:
        with self._lock:
            database, self._db = self._db, None
        if database is not None:
            self._discard(database)

    def _database(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            if self._db is None:
                self._temp_root.mkdir(parents=True, exist_ok=True)
                temp = tempfile.mkdtemp(prefix=TEMP_DIR_PREFIX, dir=self._temp_root)
                database = duckdb.connect(":memory:")
                limits = EngineLimits(
                    temp_directory=temp,
                    threads=self._settings.threads,
                    memory_limit=f"{self._memory}B" if self._memory else "",
                )
                harden(database, [self._lake_dir] if self._lake_dir else [], limits)
                self._db, self._temp = database, temp
            return self._db

    def _discard(self, database: duckdb.DuckDBPyConnection) -> None:
        with self._lock:
            if self._db is database:
                self._db = None
            temp = self._temp
        with contextlib.suppress(duckdb.Error):
            database.close()
        if temp:
            shutil.rmtree(temp, ignore_errors=True)

    def attach(self, con: duckdb.DuckDBPyConnection, view: str, version: VersionFiles) -> None:
        """``view``: a temporary view of the version's rows (deltas merged), its columns only."""
        columns = list(version.schema.names)
        key = tuple(version.primary_key)
        base_keys = [f.path for f in version.files]
        delta_keys = [f.path for f in version.deltas]
        if not base_keys and not delta_keys:
            source = f"{view}_empty"
            con.register(source, version.schema.empty_table())
            con.execute(f"CREATE TEMPORARY VIEW {quote_ident(view)} AS SELECT * FROM {quote_ident(source)}")
            return
        if self.native:
            base = self._read_parquet(base_keys)
            delta = self._read_parquet(delta_keys, by_name=True)
        else:
            base = self._register(con, f"{view}_base", base_keys, version.schema)
            delta = self._register(con, f"{view}_delta", delta_keys, delta_schema(version.schema))
        con.execute(f"CREATE TEMPORARY VIEW {quote_ident(view)} AS {merge_on_read_sql(columns, key, base, delta)}")

    def _read_parquet(self, keys: list[str], by_name: bool | None = None) -> str | None:
        if not keys:
            return None
        if by_name is None:
            by_name = len(keys) > 1 and not self._uniform(keys)
        paths = ", ".join(string_literal(f"{self._base}/{k}") for k in keys)
        return f"read_parquet([{paths}]{', union_by_name = true' if by_name else ''})"

    def _uniform(self, keys: list[str]) -> bool:
        """Whether every file has one schema (else columns are matched by name, as the views do)."""
        try:
            schemas = {pq.read_schema(f"{self._base}/{k}", filesystem=self._fs).remove_metadata() for k in keys}
        except (OSError, pa.ArrowException):
            return False  # the scan reports the unreadable file
        return len(schemas) <= 1

    def _register(self, con: duckdb.DuckDBPyConnection, name: str, keys: list[str], schema: pa.Schema) -> str | None:
        if not keys:
            return None
        dataset = pads.FileSystemDataset.from_paths(
            [f"{self._base}/{k}" for k in keys], schema=schema, format=pads.ParquetFileFormat(), filesystem=self._fs
        )
        con.register(name, dataset)
        return quote_ident(name)
