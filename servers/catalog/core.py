"""CatalogCore: the metadata authority, an embedded SQLite database.

Why SQLite in WAL mode: readers (every query resolves a dataset) never block
the single writer, and another process opening the same file sees commits at
once. ``synchronous=FULL``: a commit is acknowledged to an ingest client only
after the WAL is fsynced, so an acknowledged version survives a power loss;
commits happen once per ingest (after seconds of Parquet writing), so the extra
fsync is noise. Writers use ``BEGIN IMMEDIATE`` so the version check and the
insert happen under the write lock (no read-then-upgrade deadlock).

Thread safety: one connection per thread (gRPC calls arrive on a pool), so
reads run in parallel; SQLite serializes writers.

``delete_dataset`` drops the dataset row *and its whole version history*: the
caller deletes the objects afterwards, and a kept history would point at
missing data.

Committed data cannot be changed through the catalog: ``commit_version`` accepts
only files under the dataset's own prefix that exist on the lake with the
manifest's size and content hash (``integrity``), checked before the write
transaction so hashing never holds the write lock.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import (
    CATALOG_ERROR,
    CATALOG_UNAVAILABLE,
    CURRENT_VERSION,
    DATASET_EXISTS,
    DATASET_NOT_FOUND,
    VERSION_CONFLICT,
    VERSION_NOT_FOUND,
    DataFile,
    Dataset,
    DatasetVersion,
    NewVersion,
    WriteMode,
    validate_dataset_name,
)
from lakehouse.api.paging import PagingSettings, bad_page_token
from lakehouse.servers.catalog import codec, integrity
from lakehouse.servers.ingest.layout import dataset_prefix
from lakehouse.servers.settings import CatalogSettings
from lakehouse.servers.storage.model import ObjectStore

# How long a writer waits for another process's write transaction.
BUSY_TIMEOUT_S = 10.0
# Bumped when the table layout changes; stored in PRAGMA user_version.
SCHEMA_VERSION = 1
GENERATION_KEY = "generation"

_DDL = (
    """CREATE TABLE IF NOT EXISTS meta (
        key TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS datasets (
        name TEXT PRIMARY KEY,
        current_version INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS versions (
        dataset TEXT NOT NULL REFERENCES datasets(name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        manifest TEXT NOT NULL,
        schema BLOB NOT NULL,
        mode TEXT NOT NULL,
        source_hash TEXT NOT NULL,
        primary_key TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (dataset, version)
    )""",
    "CREATE INDEX IF NOT EXISTS versions_by_source ON versions (dataset, source_hash)",
    f"INSERT OR IGNORE INTO meta (key, value) VALUES ('{GENERATION_KEY}', 0)",
)

_DATASET_SELECT = f"""
    SELECT {codec.VERSION_COLUMNS}, d.name, d.created_at, d.updated_at,
           (SELECT count(*) FROM versions c WHERE c.dataset = d.name)
    FROM datasets d JOIN versions v ON v.dataset = d.name AND v.version = d.current_version
"""


def _not_found(name: str, what: str = "dataset", reason: str = DATASET_NOT_FOUND, **extra: str) -> errors.NotFound:
    return errors.NotFound(f"{what} not found: {name}", reason=reason, metadata={"dataset": name, **extra})


def _dataset_from_row(row: tuple) -> Dataset:
    current = codec.version_from_row(row)
    name, created_at, updated_at, count = row[8:12]
    return Dataset(
        name=name,
        created_at=codec.decode_time(created_at),
        updated_at=codec.decode_time(updated_at),
        current=current,
        version_count=int(count),
    )


class CatalogCore:
    """Implements ``CatalogApi`` (plus delete and version listing) on SQLite."""

    def __init__(
        self,
        db_path: Path,
        lake: ObjectStore | None = None,
        settings: CatalogSettings | None = None,
        paging: PagingSettings | None = None,
    ) -> None:
        """``lake``: where committed files are verified; None (tests of other cores that
        commit hand-made manifests) checks only the paths and hash formats."""
        self._path = Path(db_path)
        self._lake = lake
        self._settings = settings or CatalogSettings()
        self._paging = paging or PagingSettings()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        with self._guard():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _DDL:
                    conn.execute(stmt)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # Connections ---------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves.
            conn = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def close(self) -> None:
        """Close every thread's connection (used at server shutdown and in tests)."""
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn sqlite failures into lakehouse errors (never a raw backend exception)."""
        try:
            yield
        except errors.LakehouseError:
            raise
        except sqlite3.OperationalError as exc:
            raise errors.Unavailable(f"catalog database unavailable: {exc}", reason=CATALOG_UNAVAILABLE) from exc
        except sqlite3.Error as exc:
            raise errors.Internal(f"catalog database error: {exc}", reason=CATALOG_ERROR) from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._guard():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _bump_generation(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE meta SET value = value + 1 WHERE key = ?", (GENERATION_KEY,))

    # Reads ---------------------------------------------------------------

    def get_dataset(self, name: str) -> Dataset:
        validate_dataset_name(name)
        with self._guard():
            row = self._conn().execute(_DATASET_SELECT + " WHERE d.name = ?", (name,)).fetchone()
        if row is None:
            raise _not_found(name)
        return _dataset_from_row(row)

    def list_datasets(self, page_size: int = 0, page_token: str = "") -> tuple[list[Dataset], str]:
        limit = self._paging.size(page_size)
        after = codec.decode_token(page_token)
        with self._guard():
            rows = (
                self._conn()
                .execute(_DATASET_SELECT + " WHERE d.name > ? ORDER BY d.name LIMIT ?", (after, limit + 1))
                .fetchall()
            )
        page = [_dataset_from_row(r) for r in rows[:limit]]
        next_token = codec.encode_token(page[-1].name) if len(rows) > limit else ""
        return page, next_token

    def get_version(self, name: str, version: int) -> DatasetVersion:
        validate_dataset_name(name)
        with self._guard():
            row = (
                self._conn()
                .execute(
                    f"SELECT {codec.VERSION_COLUMNS} FROM versions v WHERE v.dataset = ? AND v.version = ?",
                    (name, version),
                )
                .fetchone()
            )
        if row is None:
            self.get_dataset(name)  # raises DATASET_NOT_FOUND when the whole dataset is missing
            raise _not_found(name, f"version {version} of dataset", VERSION_NOT_FOUND, version=str(version))
        return codec.version_from_row(row)

    def list_versions(self, name: str, page_size: int = 0, page_token: str = "") -> tuple[list[DatasetVersion], str]:
        """Newest first; the token is the last version number returned."""
        validate_dataset_name(name)
        limit = self._paging.size(page_size)
        after = codec.decode_token(page_token)
        if after and not after.isdigit():
            raise bad_page_token()
        before = int(after) if after else None
        with self._guard():
            exists = self._conn().execute("SELECT 1 FROM datasets WHERE name = ?", (name,)).fetchone()
            if exists is None:
                raise _not_found(name)
            sql = f"SELECT {codec.VERSION_COLUMNS} FROM versions v WHERE v.dataset = ?"
            args: tuple = (name,)
            if before is not None:
                sql += " AND v.version < ?"
                args += (before,)
            rows = self._conn().execute(sql + " ORDER BY v.version DESC LIMIT ?", (*args, limit + 1)).fetchall()
        page = [codec.version_from_row(r) for r in rows[:limit]]
        next_token = codec.encode_token(str(page[-1].version)) if len(rows) > limit else ""
        return page, next_token

    def find_by_source_hash(self, name: str, source_hash: str) -> DatasetVersion | None:
        """Latest version of ``name`` ingested from exactly these bytes; None if none (or no dataset)."""
        validate_dataset_name(name)
        if not source_hash:
            return None
        with self._guard():
            row = (
                self._conn()
                .execute(
                    f"SELECT {codec.VERSION_COLUMNS} FROM versions v WHERE v.dataset = ? AND v.source_hash = ?"
                    " ORDER BY v.version DESC LIMIT 1",
                    (name, source_hash),
                )
                .fetchone()
            )
        return None if row is None else codec.version_from_row(row)

    def generation(self) -> int:
        """Counter bumped by every commit and delete, in any process sharing the file."""
        with self._guard():
            row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (GENERATION_KEY,)).fetchone()
        return int(row[0])

    # Writes --------------------------------------------------------------

    def _known_files(self, new: NewVersion) -> frozenset[DataFile]:
        """Entries of the version ``new`` builds on: checked when that one was committed,
        so a carried-over entry is not re-read. If that version is gone the commit
        aborts on the version check anyway; then nothing counts as known."""
        if new.expected_version <= 0:
            return frozenset()
        try:
            base = self.get_version(new.dataset, new.expected_version)
        except errors.NotFound:
            return frozenset()
        return frozenset((*base.files, *base.deltas))

    @staticmethod
    def _expect(conn: sqlite3.Connection, new: NewVersion) -> tuple[tuple | None, int]:
        """The dataset's row and current version, iff it is at ``new.expected_version``."""
        name = new.dataset
        row = conn.execute("SELECT current_version FROM datasets WHERE name = ?", (name,)).fetchone()
        current = 0 if row is None else int(row[0])
        if new.expected_version == 0 and row is not None:
            raise errors.AlreadyExists(
                f"dataset already exists: {name}",
                reason=DATASET_EXISTS,
                metadata={"dataset": name, "current_version": str(current)},
            )
        if current != new.expected_version:
            raise errors.Aborted(
                f"dataset {name} is at version {current}, not {new.expected_version}; retry",
                reason=VERSION_CONFLICT,
                metadata={
                    "dataset": name,
                    "expected_version": str(new.expected_version),
                    "current_version": str(current),
                },
            )
        return row, current

    def commit_version(self, new: NewVersion) -> DatasetVersion:
        """Record a new version in one transaction, iff the dataset is still at ``expected_version``
        and every file it adds matches the lake (InvalidArgument / FailedPrecondition otherwise)."""
        _validate_new(new)
        integrity.check_entries(new)
        if self._lake is not None:
            # A commit that already lost the race says so (ABORTED, retryable) before any hashing.
            with self._guard():
                self._expect(self._conn(), new)
            integrity.verify_new_files(
                self._lake, new, self._known_files(new), hash_content=self._settings.verify_content_hash
            )
        name = new.dataset
        now = codec.now_utc()
        stamp = codec.encode_time(now)
        with self._write() as conn:
            row, current = self._expect(conn, new)
            version = current + 1
            if row is None:
                conn.execute(
                    "INSERT INTO datasets (name, current_version, created_at, updated_at) VALUES (?, ?, ?, ?)",
                    (name, version, stamp, stamp),
                )
            else:
                conn.execute(
                    "UPDATE datasets SET current_version = ?, updated_at = ? WHERE name = ?",
                    (version, stamp, name),
                )
            conn.execute(
                "INSERT INTO versions (dataset, version, manifest, schema, mode, source_hash, primary_key, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    codec.encode_manifest(new.files, new.deltas, new.extra),
                    codec.encode_schema(new.schema),
                    new.mode.value,
                    new.source_hash,
                    codec.encode_key(new.primary_key),
                    stamp,
                ),
            )
            self._bump_generation(conn)
        return DatasetVersion(
            dataset=name,
            version=version,
            files=tuple(new.files),
            deltas=tuple(new.deltas),
            schema=new.schema,
            created_at=codec.decode_time(stamp),
            mode=new.mode,
            source_hash=new.source_hash,
            primary_key=tuple(new.primary_key),
        )

    def delete_dataset(self, name: str) -> tuple[DataFile, ...]:
        """Remove the dataset and its history; return the files it owns (each once) so
        the caller can delete the objects *after* this commit.

        Owned means under ``datasets/<name>/`` and named by no other dataset: a manifest
        committed before paths were checked may name foreign keys, and deleting it must
        not take another dataset's data (or anything else on the lake) with it."""
        validate_dataset_name(name)
        prefix = dataset_prefix(name)
        with self._write() as conn:
            rows = conn.execute("SELECT manifest FROM versions WHERE dataset = ? ORDER BY version", (name,)).fetchall()
            deleted = conn.execute("DELETE FROM datasets WHERE name = ?", (name,)).rowcount
            if not deleted:
                raise _not_found(name)
            conn.execute("DELETE FROM versions WHERE dataset = ?", (name,))
            others = conn.execute(
                "SELECT manifest FROM versions WHERE dataset != ? AND instr(manifest, ?) > 0", (name, prefix)
            ).fetchall()
            self._bump_generation(conn)
        shared: set[str] = set()
        for (manifest,) in others:
            files, deltas = codec.decode_manifest(manifest)
            shared.update(f.path for f in (*files, *deltas))
        seen: dict[str, DataFile] = {}
        for (manifest,) in rows:
            files, deltas = codec.decode_manifest(manifest)
            for f in (*files, *deltas):
                if integrity.owns(name, f.path) and f.path not in shared:
                    seen.setdefault(f.path, f)
        return tuple(seen.values())

    # Retention -----------------------------------------------------------

    def referenced_paths(self) -> set[str]:
        """Every file path that any kept version of any dataset names: what start-up
        collection must never delete (one statement, so one consistent snapshot)."""
        with self._guard():
            rows = self._conn().execute("SELECT manifest FROM versions").fetchall()
        paths: set[str] = set()
        for (manifest,) in rows:
            files, deltas = codec.decode_manifest(manifest)
            paths.update(f.path for f in (*files, *deltas))
        return paths

    def expire_versions(self, name: str, versions: Iterable[int]) -> tuple[tuple[int, ...], tuple[DataFile, ...]]:
        """Remove these versions of ``name`` (never the current one) in one transaction.

        Returns the versions removed and the files that only they named: no remaining
        version of this or any other dataset names them, so the caller may delete the
        objects *after* this commit (a crash in between leaves collectable orphans)."""
        validate_dataset_name(name)
        wanted = sorted({int(v) for v in versions})
        with self._write() as conn:
            row = conn.execute("SELECT current_version FROM datasets WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise _not_found(name)
            if int(row[0]) in wanted:
                raise errors.FailedPrecondition(
                    f"version {row[0]} is the current version of {name} and cannot be expired",
                    reason=CURRENT_VERSION,
                    metadata={"dataset": name, "version": str(row[0])},
                )
            manifests = conn.execute("SELECT version, manifest FROM versions WHERE dataset = ?", (name,)).fetchall()
            expired: dict[str, DataFile] = {}
            kept: set[str] = set()
            removed: list[int] = []
            for version, manifest in manifests:
                files, deltas = codec.decode_manifest(manifest)
                if int(version) in wanted:
                    removed.append(int(version))
                    for f in (*files, *deltas):
                        expired.setdefault(f.path, f)
                else:
                    kept.update(f.path for f in (*files, *deltas))
            if not removed:
                return (), ()
            # Other datasets' manifests that mention this dataset's prefix (normally none).
            for (manifest,) in conn.execute(
                "SELECT manifest FROM versions WHERE dataset != ? AND instr(manifest, ?) > 0",
                (name, f"datasets/{name}/"),
            ):
                files, deltas = codec.decode_manifest(manifest)
                kept.update(f.path for f in (*files, *deltas))
            conn.executemany("DELETE FROM versions WHERE dataset = ? AND version = ?", [(name, v) for v in removed])
            self._bump_generation(conn)
        return tuple(sorted(removed)), tuple(f for path, f in sorted(expired.items()) if path not in kept)


def _validate_new(new: NewVersion) -> None:
    validate_dataset_name(new.dataset)
    if new.expected_version < 0:
        raise errors.invalid_field("expected_version", "must not be negative")
    if not isinstance(new.mode, WriteMode):
        raise errors.invalid_field("mode", f"unknown write mode {new.mode!r}")
    if not isinstance(new.schema, pa.Schema):
        raise errors.invalid_field("schema", "an Arrow schema is required")
    names = set(new.schema.names)
    missing = [k for k in new.primary_key if k not in names]
    if missing:
        raise errors.invalid_field("primary_key", f"columns not in the schema: {', '.join(missing)}")
    for f in (*new.files, *new.deltas):
        if not f.path or f.rows < 0 or f.bytes < 0:
            raise errors.invalid_field("files", f"invalid data file entry {f.path!r}")
