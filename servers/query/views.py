"""One SQL view per catalog dataset, kept in step with the catalog's generation.

A view reads its dataset's current version and merges the version's deltas on read
(gate G3.1.C): base rows whose key appears in no delta, plus the latest delta row
per key (highest ``_lh_seq``) unless that row deletes it. Only the dataset's own
columns are exposed.

Two ways to reach the files, picked per storage backend:

* native (local directory): persistent views over DuckDB's own ``read_parquet`` on
  absolute paths; the engine is allowed to read below the lake's ``datasets/``
  prefix and nothing else.
* arrow (S3 or any other pyarrow filesystem): ``pyarrow.dataset`` objects over the
  same keys, which DuckDB scans with projection and filter pushdown. Such objects can
  only be registered per connection, so each query connection gets temporary views
  for the datasets its statement names, built from one immutable snapshot (no race
  with a concurrent rebuild).

Versions are immutable, so a view is rebuilt only when its dataset's version number
changes; the catalog's generation tells cheaply whether anything changed at all.
A version whose view cannot be built (e.g. a file is missing) has no view rather
than a stale one: queries naming it get ``Unavailable`` with the reason, and the
build is retried every ``BROKEN_RETRY_S``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakehouse.api.catalog import (
    DELTA_DELETE,
    DELTA_OP_COLUMN,
    DELTA_SEQ_COLUMN,
    CatalogApi,
    DatasetVersion,
)
from lakehouse.servers.query.engine_errors import fatal
from lakehouse.servers.sql import quote_ident, string_literal

# Every dataset file lives below this lake prefix (see DESIGN.md §4).
DATASETS_PREFIX = "datasets/"
# How long a dataset whose view failed to build waits before the next attempt
# (storage may come back without the catalog changing).
BROKEN_RETRY_S = 5.0
# Names of registered Arrow sources; a prefix no dataset name can take (those start with a letter).
_SOURCE_PREFIX = "__lh_src_"
_LATEST = "__lh_latest"
_BASE = "__lh_base"
_RANK = "__lh_rank"


class ViewBuildError(Exception):
    """A version whose view cannot be defined (bad manifest, unreadable files)."""


def merge_on_read_sql(columns: list[str], key: tuple[str, ...], base: str | None, delta: str | None) -> str:
    """The SELECT of a dataset view over relation expressions for its base files and its deltas.

    ``base`` or ``delta`` is None when the version has no such files (not both).
    """
    cols = ", ".join(quote_ident(c) for c in columns)
    if delta is None:
        if base is None:
            raise ViewBuildError("a version without files has no relation")
        return f"SELECT {cols} FROM {base}"
    if not key:
        raise ViewBuildError("the version has deltas but no primary key to merge them on")
    missing = [k for k in key if k not in columns]
    if missing:
        raise ViewBuildError(f"primary key column(s) {missing} are not columns of the dataset")
    op, seq = quote_ident(DELTA_OP_COLUMN), quote_ident(DELTA_SEQ_COLUMN)
    partition = ", ".join(quote_ident(k) for k in key)
    latest = (
        f"SELECT {cols}, {op} FROM (SELECT {cols}, {op}, row_number() OVER "
        f"(PARTITION BY {partition} ORDER BY {seq} DESC) AS {_RANK} FROM {delta}) WHERE {_RANK} = 1"
    )
    upserts = f"SELECT {cols} FROM {_LATEST} WHERE {op} IS DISTINCT FROM {string_literal(DELTA_DELETE)}"
    if base is None:
        return f"WITH {_LATEST} AS ({latest}) {upserts}"
    kept_cols = ", ".join(f"{_BASE}.{quote_ident(c)}" for c in columns)
    match = " AND ".join(f"{_BASE}.{quote_ident(k)} IS NOT DISTINCT FROM {_LATEST}.{quote_ident(k)}" for k in key)
    kept = f"SELECT {kept_cols} FROM {base} AS {_BASE} ANTI JOIN {_LATEST} ON {match}"
    return f"WITH {_LATEST} AS ({latest}) {kept} UNION ALL {upserts}"


def delta_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a delta file: the dataset's columns plus the op and sequence columns."""
    fields = [f for f in schema if f.name not in (DELTA_OP_COLUMN, DELTA_SEQ_COLUMN)]
    return pa.schema([*fields, pa.field(DELTA_OP_COLUMN, pa.string()), pa.field(DELTA_SEQ_COLUMN, pa.int64())])


@dataclass(frozen=True)
class ArrowView:
    """A dataset view for the arrow path: its SELECT and the sources it reads by name."""

    sql: str
    sources: Mapping[str, pads.Dataset] = field(default_factory=dict)


# A dataset the lake holds outside the catalog (the op journal ``_ops``): a function of the
# lake's filesystem and base path that returns a pyarrow dataset over its files as they are
# now. Its name starts with "_", which no catalog dataset's can.
SystemDataset = Callable[[pafs.FileSystem, str], pads.Dataset]
_SYSTEM_SOURCE_PREFIX = f"{_SOURCE_PREFIX}system"


@dataclass
class _Broken:
    version: int
    message: str
    retry_at: float


class DatasetViews:
    """Keeps one view per catalog dataset; ``sync`` before a query, ``attach`` on its connection.

    Thread-safe: ``sync`` rebuilds under a lock; readers of the arrow snapshot take the
    current immutable mapping without locking.
    """

    def __init__(
        self,
        ddl: duckdb.DuckDBPyConnection,
        catalog: CatalogApi,
        filesystem: pafs.FileSystem,
        base: str,
        native: bool,
        clock: Callable[[], float] = time.monotonic,
        system: Mapping[str, SystemDataset] | None = None,
    ) -> None:
        self._ddl = ddl
        self._system = dict(system or {})
        self._catalog = catalog
        self._fs = filesystem
        self._base = base.rstrip("/")
        self._native = native
        self._clock = clock
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._built: dict[str, int] = {}
        self._broken: dict[str, _Broken] = {}
        self._arrow: Mapping[str, ArrowView] = MappingProxyType({})

    @property
    def native(self) -> bool:
        return self._native

    def path(self, key: str) -> str:
        return f"{self._base}/{key}"

    def sync(self) -> None:
        """Bring the views up to the catalog's current generation; cheap when nothing changed."""
        if self._catalog.generation() == self._generation and not self._retry_due():
            return
        with self._lock:
            generation = self._catalog.generation()
            if generation == self._generation and not self._retry_due():
                return
            current = {d.name: d.current for d in self._list_datasets()}
            arrow = dict(self._arrow)
            try:
                for name in [n for n in self._built if n not in current]:
                    self._drop(name, arrow)
                for name in [n for n in self._broken if n not in current]:
                    del self._broken[name]
                for name, version in current.items():
                    if self._built.get(name) == version.version:
                        continue
                    broken = self._broken.get(name)
                    if broken and broken.version == version.version and broken.retry_at > self._clock():
                        continue
                    self._build(name, version, arrow)
            finally:
                # Publish what was done even if a step failed, so the snapshot matches ``_built``.
                self._arrow = MappingProxyType(arrow)
            self._generation = generation

    def attach(self, con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
        """Arrow path: register the sources and a temporary view for each named dataset on
        ``con``. Either path: the same for each named system dataset, opened now (a journal
        is read as it is at the query's start, with the files written so far)."""
        names = set(tables)
        for index, name in enumerate(sorted(names & self._system.keys())):
            source = f"{_SYSTEM_SOURCE_PREFIX}{index}"
            con.register(source, self._system[name](self._fs, self._base))
            con.execute(f"CREATE TEMPORARY VIEW {quote_ident(name)} AS SELECT * FROM {quote_ident(source)}")
        if self._native:
            return
        snapshot = self._arrow
        for name in sorted(names):
            view = snapshot.get(name)
            if view is None:
                continue
            for source, dataset in view.sources.items():
                con.register(source, dataset)
            con.execute(f"CREATE TEMPORARY VIEW {quote_ident(name)} AS {view.sql}")

    def unavailable(self, name: str) -> str | None:
        """Why a dataset has no view although the catalog lists it, or None."""
        broken = self._broken.get(name)
        return broken.message if broken else None

    # Building -----------------------------------------------------------

    def _retry_due(self) -> bool:
        now = self._clock()
        return any(b.retry_at <= now for b in list(self._broken.values()))

    def _list_datasets(self) -> list:
        datasets, token = self._catalog.list_datasets()
        while token:
            page, token = self._catalog.list_datasets(page_token=token)
            datasets.extend(page)
        return datasets

    def _drop(self, name: str, arrow: dict[str, ArrowView]) -> None:
        if self._native:
            self._ddl.execute(f"DROP VIEW IF EXISTS {quote_ident(name)}")
        arrow.pop(name, None)
        self._built.pop(name, None)

    def _build(self, name: str, version: DatasetVersion, arrow: dict[str, ArrowView]) -> None:
        try:
            if self._native:
                self._ddl.execute(f"CREATE OR REPLACE VIEW {quote_ident(name)} AS {self._native_sql(version)}")
            else:
                arrow[name] = self._arrow_view(name, version)
        except (ViewBuildError, duckdb.Error, pa.ArrowException, OSError) as exc:
            if fatal(exc) is not None:
                raise  # the database is gone, not the dataset: the core rebuilds the engine
            self._drop(name, arrow)
            self._broken[name] = _Broken(version.version, str(exc).strip(), self._clock() + BROKEN_RETRY_S)
            return
        self._built[name] = version.version
        self._broken.pop(name, None)

    def _native_sql(self, version: DatasetVersion) -> str:
        columns = _columns(version.schema)
        base_keys = [f.path for f in version.files]
        # Deltas accumulate across versions and are few: always read by name.
        base = self._read_parquet(base_keys, by_name=not self._uniform(base_keys))
        delta = self._read_parquet([f.path for f in version.deltas], by_name=True)
        if base is None and delta is None:
            return self._empty_sql(version.schema)
        return merge_on_read_sql(columns, version.primary_key, base, delta)

    def _read_parquet(self, keys: list[str], by_name: bool) -> str | None:
        """``read_parquet`` over lake keys; ``by_name`` matches columns by name across files
        (a column added by a later append reads NULL in older files) at a bind-time cost
        of reading every footer on every query."""
        if not keys:
            return None
        paths = ", ".join(string_literal(self.path(k)) for k in keys)
        return f"read_parquet([{paths}]{', union_by_name = true' if by_name else ''})"

    def _uniform(self, keys: list[str]) -> bool:
        """Whether all files share one Arrow schema (read once per version: files are immutable)."""
        try:
            schemas = {pq.read_schema(self.path(k), filesystem=self._fs).remove_metadata() for k in keys}
        except (OSError, pa.ArrowException):
            return False  # the view build reports the unreadable file
        return len(schemas) <= 1

    def _empty_sql(self, schema: pa.Schema) -> str:
        """A typed, empty relation for a version without files."""
        types = self._ddl.from_arrow(schema.empty_table()).types
        cols = ", ".join(f"CAST(NULL AS {t}) AS {quote_ident(f.name)}" for f, t in zip(schema, types, strict=True))
        return f"SELECT {cols} LIMIT 0"

    def _arrow_view(self, name: str, version: DatasetVersion) -> ArrowView:
        columns = _columns(version.schema)
        prefix = f"{_SOURCE_PREFIX}{name}_v{version.version}"
        sources: dict[str, pads.Dataset] = {
            f"{prefix}_base": self._dataset([f.path for f in version.files], version.schema)
        }
        delta = None
        if version.deltas:
            sources[f"{prefix}_delta"] = self._dataset([f.path for f in version.deltas], delta_schema(version.schema))
            delta = quote_ident(f"{prefix}_delta")
        sql = merge_on_read_sql(columns, version.primary_key, quote_ident(f"{prefix}_base"), delta)
        return ArrowView(sql=sql, sources=MappingProxyType(sources))

    def _dataset(self, keys: list[str], schema: pa.Schema) -> pads.Dataset:
        """A pyarrow dataset over lake keys with a known schema. No I/O here (not even a stat
        per file, which costs a request each on S3): committed files exist by the commit rule,
        and a missing one fails the scan with a storage error."""
        return pads.FileSystemDataset.from_paths(
            [self.path(k) for k in keys], schema=schema, format=pads.ParquetFileFormat(), filesystem=self._fs
        )


def _columns(schema: pa.Schema) -> list[str]:
    names = [n for n in schema.names if n not in (DELTA_OP_COLUMN, DELTA_SEQ_COLUMN)]
    if not names:
        raise ViewBuildError("the version's schema has no columns")
    return names


def lake_directory(filesystem: pafs.FileSystem, base: str) -> str | None:
    """The absolute directory DuckDB may read natively, or None when the store is not a local directory."""
    if not isinstance(filesystem, pafs.LocalFileSystem):
        return None
    return f"{base.rstrip('/')}/{DATASETS_PREFIX}"
