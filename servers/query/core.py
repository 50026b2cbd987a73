"""QueryService core: sandboxed DuckDB SQL over the catalog's datasets (no gRPC here).

One in-memory DuckDB database per core, hardened once (see ``sandbox``); one view per
dataset (see ``views``); one connection per query, so queries run concurrently and a
failed or hostile statement never touches another query's state.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from typing import Literal

import duckdb

from .. import errors
from ..catalog.model import CatalogApi
from ..settings import QuerySettings
from ..storage.model import ObjectStore
from . import jsonvalues
from .engine_errors import Stop, map_engine_error
from .results import QueryStream, RowsResult
from .sandbox import EngineLimits, check_query, harden
from .views import DatasetViews, lake_directory

__all__ = ["QueryCore", "QueryStream", "RowsResult"]

CATALOG_FAILED = "CATALOG_FAILED"
INVALID_TIMEOUT = "INVALID_TIMEOUT"
INVALID_MAX_ROWS = "INVALID_MAX_ROWS"
TEMP_DIR_PREFIX = "lakehouse-query-"
# Scan modes: "auto" picks native read_parquet for a local directory, pyarrow datasets otherwise.
ScanMode = Literal["auto", "native", "arrow"]


class QueryCore:
    """SQL over the lake.

    ``execute`` streams Arrow batches (gRPC); ``execute_rows`` returns capped,
    JSON-friendly rows (REST). Both refuse anything but read-only SQL.
    """

    def __init__(
        self, catalog: CatalogApi, store: ObjectStore, settings: QuerySettings, *, scan: ScanMode = "auto"
    ) -> None:
        self._settings = settings
        filesystem, base = store.filesystem()
        lake_dir = lake_directory(filesystem, base)
        native = lake_dir is not None if scan == "auto" else scan == "native"
        if native and lake_dir is None:
            raise errors.FailedPrecondition("native scans need a local-directory store", reason="SCAN_UNSUPPORTED")
        # Local lake paths are scrubbed from error messages (files are named by key).
        self._lake_prefix = f"{base.rstrip('/')}/" if lake_dir else ""
        self._temp_dir = tempfile.mkdtemp(prefix=TEMP_DIR_PREFIX)
        self._db = duckdb.connect(":memory:")
        try:
            allowed = [lake_dir] if native and lake_dir else []
            harden(
                self._db,
                allowed,
                EngineLimits(self._temp_dir, threads=settings.threads, memory_limit=settings.memory_limit),
            )
            self._ddl = self._db.cursor()
        except BaseException:
            self._db.close()
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            raise
        # The spill directory goes with the core even if close() is never called.
        self._remove_temp = weakref.finalize(self, shutil.rmtree, self._temp_dir, True)
        self._views = DatasetViews(self._ddl, catalog, filesystem, base, native=native)
        # DuckDB connection objects are not meant for concurrent calls; cursor() is serialized.
        self._cursor_lock = threading.Lock()
        self._closed = False

    @property
    def native_scans(self) -> bool:
        """True when datasets are read with DuckDB's own Parquet reader (local directory store)."""
        return self._views.native

    def execute(self, sql: str, timeout_s: float | None = None) -> QueryStream:
        """Check, bind and prepare ``sql``; the returned stream runs it on first read.

        The timeout covers the whole stream, including a slow consumer. Syntax, sandbox,
        bind and unknown-dataset errors are raised here; run-time errors by the stream.
        """
        deadline = self._timeout(timeout_s)
        self._sync()
        con = self._cursor()
        stream = QueryStream(con, self._settings.batch_rows, self._map_error)
        try:
            checked = check_query(con, sql)
            self._views.attach(con, checked.tables)
            con.begin()
        except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
            stream.close()
            raise self._map_error(exc, None) from None
        stream.start_deadline(deadline)
        stream.bind(checked.statement)
        return stream

    def execute_rows(
        self,
        sql: str,
        max_rows: int,
        timeout_s: float | None = None,
        on_start: Callable[[QueryStream], None] | None = None,
    ) -> RowsResult:
        """At most ``max_rows`` rows (capped by ``settings.max_json_rows``; 0 means that cap) as
        JSON-friendly values; reading stops after ``max_rows + 1`` rows, which sets ``truncated``.
        ``on_start`` receives the running stream, so a caller can cancel it from elsewhere."""
        if max_rows < 0:
            raise errors.invalid_field("max_rows", "must not be negative", reason=INVALID_MAX_ROWS)
        cap = min(max_rows, self._settings.max_json_rows) if max_rows else self._settings.max_json_rows
        rows: list[list] = []
        truncated = False
        with self.execute(sql, timeout_s) as stream:
            if on_start is not None:
                on_start(stream)
            for batch in stream:
                room = cap - len(rows)
                if batch.num_rows > room:
                    rows.extend(jsonvalues.rows(batch.slice(0, room)))
                    truncated = True
                    break
                rows.extend(jsonvalues.rows(batch))
            columns = stream.columns
        return RowsResult(columns=columns, rows=rows, truncated=truncated)

    def refresh(self) -> None:
        """Bring the dataset views up to the catalog now (queries do this themselves)."""
        self._sync()

    def close(self) -> None:
        """Close the database and remove its spill directory; running streams fail."""
        if self._closed:
            return
        self._closed = True
        with self._cursor_lock:
            self._db.close()
        self._remove_temp()

    # Internals ----------------------------------------------------------------

    def _timeout(self, timeout_s: float | None) -> float:
        """The query's deadline in seconds: the default when unset, clamped to the maximum."""
        if timeout_s is None or timeout_s == 0:
            return self._settings.timeout_s
        if timeout_s < 0:
            raise errors.invalid_field("timeout_s", "must not be negative", reason=INVALID_TIMEOUT)
        return min(float(timeout_s), self._settings.max_timeout_s)

    def _sync(self) -> None:
        try:
            self._views.sync()
        except errors.LakehouseError:
            raise
        except duckdb.Error as exc:
            raise self._map_error(exc, None) from None
        except Exception as exc:
            raise errors.Internal(f"reading the catalog failed: {exc}", reason=CATALOG_FAILED) from exc

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._cursor_lock:
            if self._closed:
                raise errors.Unavailable("the query engine is shut down", reason="QUERY_ENGINE_CLOSED")
            return self._db.cursor()

    def _map_error(self, exc: BaseException, stop: Stop | None) -> errors.LakehouseError:
        return map_engine_error(exc, stop, unavailable=self._views.unavailable, scrub=self._scrub)

    def _scrub(self, message: str) -> str:
        """Messages name lake files by key, not by local path."""
        return message.replace(self._lake_prefix, "") if self._lake_prefix else message
