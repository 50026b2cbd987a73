"""QueryService core: sandboxed DuckDB SQL over the catalog's datasets (no gRPC here).

One in-memory DuckDB database per core, hardened once (see ``sandbox``); one view per
dataset (see ``views``); one connection per query, so queries run concurrently and a
failed or hostile statement never touches another query's state.

The database lives in an ``Engine`` (see ``engine``). A fatal engine error
invalidates it for every query, so the core then replaces it: the query that caused
it gets INTERNAL (``QUERY_ENGINE_FAILED``); while a new engine is built (hardened,
views re-attached) the health callback reports not serving and queries get
UNAVAILABLE (``QUERY_ENGINE_RESTARTING``) at once; then the next query runs.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi
from lakehouse.api.query import (
    CATALOG_FAILED,
    INVALID_MAX_ROWS,
    INVALID_TIMEOUT,
    QUERY_ENGINE_BUSY,
    QUERY_ENGINE_CLOSED,
    QUERY_ENGINE_RESTARTING,
    Rows,
)
from lakehouse.servers.auth.context import dataset_scope
from lakehouse.servers.auth.sql_scope import check_scope
from lakehouse.servers.memory import keep_duckdb_releasing_memory, memory_bytes
from lakehouse.servers.query import jsonvalues
from lakehouse.servers.query.engine import TEMP_DIR_PREFIX, AbandonedCalls, Engine
from lakehouse.servers.query.engine_errors import Fatal, Stop
from lakehouse.servers.query.results import ENGINE_CALL_THREADS, QueryStream
from lakehouse.servers.query.running import RunningQueries
from lakehouse.servers.query.sandbox import check_query
from lakehouse.servers.query.views import SystemDataset, lake_directory
from lakehouse.servers.settings import QuerySettings
from lakehouse.servers.storage.model import ObjectStore

__all__ = ["TEMP_DIR_PREFIX", "QueryCore", "QueryStream", "Rows"]

log = logging.getLogger("lakehouse.query")

# QueryCore cannot be built (a configuration error, never the answer to a call).
SCAN_UNSUPPORTED = "SCAN_UNSUPPORTED"
# Scan modes: "auto" picks native read_parquet for a local directory, pyarrow datasets otherwise.
ScanMode = Literal["auto", "native", "arrow"]
# One JSON row's separator in the response array.
_ROW_SEPARATOR_BYTES = 1


class QueryCore:
    """SQL over the lake.

    ``execute`` streams Arrow batches (gRPC); ``execute_rows`` returns capped,
    JSON-friendly rows (REST). Both refuse anything but read-only SQL.
    ``temp_dir`` is where engines spill (the system temp directory when None);
    ``on_health(serving)`` hears when the engine stops and starts serving.
    """

    def __init__(
        self,
        catalog: CatalogApi,
        store: ObjectStore,
        settings: QuerySettings,
        *,
        scan: ScanMode = "auto",
        temp_dir: Path | None = None,
        on_health: Callable[[bool], None] | None = None,
        system_datasets: Mapping[str, SystemDataset] | None = None,
    ) -> None:
        self._settings = settings
        # Datasets outside the catalog (the op journal ``_ops``), by name: see views.SystemDataset.
        self._system = dict(system_datasets or {})
        self._catalog = catalog
        filesystem, base = store.filesystem()
        lake_dir = lake_directory(filesystem, base)
        native = lake_dir is not None if scan == "auto" else scan == "native"
        if native and lake_dir is None:
            raise errors.FailedPrecondition("native scans need a local-directory store", reason=SCAN_UNSUPPORTED)
        self._filesystem, self._base, self._native = filesystem, base, native
        self._allowed = [lake_dir] if native and lake_dir else []
        # Server paths are scrubbed from messages and file-naming results (files are named by key).
        self._lake_prefix = f"{base.rstrip('/')}/" if lake_dir else ""
        self._temp_root = Path(temp_dir) if temp_dir is not None else None
        self._path_prefixes = [p for p in (self._lake_prefix, self._temp_prefix()) if p]
        self._memory_limit = memory_bytes(settings.memory_limit)
        self._on_health = on_health or (lambda serving: None)
        self._abandoned = AbandonedCalls()
        # Threads that run engine calls, reused across queries (see results._Worker).
        self._calls = ThreadPoolExecutor(
            max_workers=settings.engine_call_threads, thread_name_prefix=ENGINE_CALL_THREADS
        )
        self._running = RunningQueries()
        self._lock = threading.Lock()
        self._generation = 0
        self._closed = False
        # Set while an engine serves; cleared from a fatal error until the rebuild is done.
        self._rebuilt = threading.Event()
        self._rebuilt.set()
        self._engine: Engine | None = self._new_engine()
        keep_duckdb_releasing_memory()

    @property
    def native_scans(self) -> bool:
        """True when datasets are read with DuckDB's own Parquet reader (local directory store)."""
        return self._native

    @property
    def memory_limit_bytes(self) -> int:
        """The engine's memory limit as resolved at start."""
        return self._memory_limit

    @property
    def generation(self) -> int:
        """Engines built so far (1 until a fatal error made the core rebuild)."""
        return self._generation

    # QueryApi (lakehouse.api.query) --------------------------------------------

    def stream(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> pa.RecordBatchReader:
        stream = self.open(sql, timeout_s=timeout_s, query_id=query_id)
        try:
            schema = stream.schema
        except BaseException:
            stream.close()
            raise

        def batches():
            with stream:
                yield from stream

        return pa.RecordBatchReader.from_batches(schema, batches())

    def rows(
        self,
        sql: str,
        *,
        max_rows: int = 0,
        timeout_s: float | None = None,
        query_id: str = "",
        on_start: Callable[[QueryStream], None] | None = None,
    ) -> Rows:
        """``execute_rows``, cancellable by ``query_id`` while it runs."""
        _require_sql(sql)
        registered: list[QueryStream] = []

        def started(stream: QueryStream) -> None:
            self._running.add(query_id, stream)
            registered.append(stream)
            if on_start is not None:
                on_start(stream)

        try:
            return self.execute_rows(sql, max_rows, timeout_s, on_start=started)
        finally:
            for stream in registered:
                self._running.remove(query_id, stream)

    def cancel(self, query_id: str) -> None:
        if not query_id:
            raise errors.invalid_field("query_id", "required")
        self._running.cancel(query_id)

    def open(self, sql: str, *, timeout_s: float | None = None, query_id: str = "") -> QueryStream:
        """``execute``, registered under ``query_id`` (``cancel`` reaches it) until closed."""
        _require_sql(sql)
        stream = self.execute(sql, timeout_s)
        try:
            self._running.add(query_id, stream)
        except BaseException:
            stream.close()
            raise
        stream.add_close_callback(lambda: self._running.remove(query_id, stream))
        return stream

    # Engine ---------------------------------------------------------------------

    def execute(self, sql: str, timeout_s: float | None = None) -> QueryStream:
        """Check, bind and prepare ``sql``; the returned stream runs it on first read.

        The timeout covers the whole stream, including a slow consumer. Syntax, sandbox,
        bind and unknown-dataset errors are raised here; run-time errors by the stream.
        """
        deadline = self._timeout(timeout_s)
        engine = self._current()
        self._sync(engine)
        resources = engine.connect()
        con = resources.con
        assert con is not None
        try:
            checked = check_query(con, sql)
            scope = dataset_scope()  # a caller bound to some datasets sees only those
            if scope is not None:
                check_scope(con, checked.statement.query, checked.explain, scope)
            engine.views.attach(con, checked.tables)
            con.begin()
        except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
            resources.release()
            raise engine.map_error(exc, None) from None
        stream = QueryStream(
            resources,
            self._settings.batch_rows,
            engine.map_error,
            stop_grace_s=self._settings.stop_grace_s,
            abandoned=self._abandoned,
            calls=self._calls,
            scrub_prefixes=self._path_prefixes if checked.names_files else (),
        )
        stream.start_deadline(deadline)
        stream.bind(checked.statement)
        return stream

    def execute_rows(
        self,
        sql: str,
        max_rows: int,
        timeout_s: float | None = None,
        on_start: Callable[[QueryStream], None] | None = None,
    ) -> Rows:
        """At most ``max_rows`` rows (capped by ``settings.max_json_rows``; 0 means that cap) and
        ``settings.max_json_bytes`` bytes of JSON, as JSON-friendly values; reading stops at the
        first row past either cap, which sets ``truncated``. A row counts its JSON size, and a
        row whose Arrow size alone is past the byte cap is not converted at all.
        ``on_start`` receives the running stream, so a caller can cancel it from elsewhere."""
        if max_rows < 0:
            raise errors.invalid_field("max_rows", "must not be negative", reason=INVALID_MAX_ROWS)
        cap = min(max_rows, self._settings.max_json_rows) if max_rows else self._settings.max_json_rows
        budget = self._settings.max_json_bytes
        rows: list[list] = []
        truncated = False
        with self.execute(sql, timeout_s) as stream:
            if on_start is not None:
                on_start(stream)
            for batch in stream:
                room = cap - len(rows)
                piece = batch.slice(0, room) if batch.num_rows > room else batch
                fitting = _rows_within(piece, budget)
                for row in jsonvalues.rows(piece.slice(0, fitting)):
                    size = _json_bytes(row) + _ROW_SEPARATOR_BYTES
                    if size > budget:
                        fitting = -1
                        break
                    budget -= size
                    rows.append(row)
                if fitting != batch.num_rows:
                    truncated = True
                    break
            columns = stream.columns
        return Rows(columns=columns, rows=rows, truncated=truncated)

    def close(self) -> None:
        """Stop running queries, then close the database and remove its spill directory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.retire(Stop.CANCEL)
        self._calls.shutdown(wait=False)

    # Engines ------------------------------------------------------------------

    def _new_engine(self) -> Engine:
        self._generation += 1
        return Engine(
            self._generation,
            self._catalog,
            self._filesystem,
            self._base,
            native=self._native,
            allowed_directories=self._allowed,
            settings=self._settings,
            memory_limit_bytes=self._memory_limit,
            temp_root=self._temp_root,
            abandoned=self._abandoned,
            scrub=self._scrub,
            on_fatal=self._engine_failed,
            system_datasets=self._system,
        )

    def _current(self) -> Engine:
        with self._lock:
            if self._closed:
                raise errors.Unavailable("the query engine is shut down", reason=QUERY_ENGINE_CLOSED)
            if self._engine is None:
                raise errors.Unavailable(
                    "the query engine is restarting after an internal failure; retry shortly",
                    reason=QUERY_ENGINE_RESTARTING,
                )
            if self._abandoned.count >= self._settings.max_abandoned:
                raise errors.ResourceExhausted(
                    f"{self._abandoned.count} earlier queries are still stopping (query.max_abandoned); retry shortly",
                    reason=QUERY_ENGINE_BUSY,
                )
            return self._engine

    def _engine_failed(self, engine: Engine, failure: Fatal) -> None:
        """A query on ``engine`` hit a fatal error: replace the engine if it is unusable."""
        with self._lock:
            if self._closed or engine is not self._engine:
                return
        if failure is Fatal.CULPRIT and not engine.invalidated():
            return  # an internal error while binding or planning leaves the database usable
        with self._lock:
            if self._closed or engine is not self._engine:
                return
            self._engine = None
            self._rebuilt.clear()
        log.error("query engine %d was invalidated by a fatal error; rebuilding it", engine.generation)
        self._on_health(False)
        engine.retire(Stop.ENGINE)
        threading.Thread(target=self._rebuild, name="lakehouse-query-rebuild", daemon=True).start()
        if failure is Fatal.CULPRIT:
            # The query that broke the engine answers once a new one serves (if that is quick),
            # so the caller's next query runs; others get UNAVAILABLE meanwhile, never a wait.
            self._rebuilt.wait(self._settings.stop_grace_s)

    def _rebuild(self) -> None:
        """Build a new engine (retrying), re-attach the views, then serve again."""
        while True:
            with self._lock:
                if self._closed:
                    return
            try:
                engine = self._new_engine()
                break
            except Exception:  # noqa: BLE001 - logged; retried until it works or the core closes
                log.exception("rebuilding the query engine failed; retrying in %.1fs", self._settings.rebuild_retry_s)
                time.sleep(self._settings.rebuild_retry_s)
        try:
            engine.views.sync()
        except Exception:  # noqa: BLE001 - the next query syncs again and reports it
            log.exception("re-attaching dataset views after the rebuild failed")
        with self._lock:
            if self._closed:
                engine.retire(Stop.CANCEL)
                return
            self._engine = engine
        log.warning("query engine %d serves", engine.generation)
        self._on_health(True)
        self._rebuilt.set()

    # Internals ----------------------------------------------------------------

    def _timeout(self, timeout_s: float | None) -> float:
        """The query's deadline in seconds: the default when unset, clamped to the maximum."""
        if timeout_s is None or timeout_s == 0:
            return self._settings.timeout_s
        if timeout_s < 0:
            raise errors.invalid_field("timeout_s", "must not be negative", reason=INVALID_TIMEOUT)
        return min(float(timeout_s), self._settings.max_timeout_s)

    def _sync(self, engine: Engine) -> None:
        try:
            engine.views.sync()
        except errors.LakehouseError:
            raise
        except duckdb.Error as exc:
            raise engine.map_error(exc, None) from None
        except Exception as exc:
            raise errors.Internal(f"reading the catalog failed: {exc}", reason=CATALOG_FAILED) from exc

    def _temp_prefix(self) -> str:
        if self._temp_root is None:
            return ""
        return f"{str(self._temp_root).rstrip('/')}/"

    def _scrub(self, message: str) -> str:
        """Messages name lake files by key, and no other server path."""
        for prefix in self._path_prefixes:
            message = message.replace(prefix, "")
        return message


def _json_bytes(row: list) -> int:
    """The size of ``row`` as the JSON a REST caller receives (UTF-8, compact)."""
    return len(json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode())


def _rows_within(batch: pa.RecordBatch, budget: int) -> int:
    """The most leading rows of ``batch`` whose Arrow size is within ``budget`` bytes
    (their JSON is measured after conversion; this keeps a huge value from being converted)."""
    if batch.nbytes <= budget:
        return batch.num_rows
    low, high = 0, batch.num_rows
    while low < high:
        middle = (low + high + 1) // 2
        if batch.slice(0, middle).nbytes <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _require_sql(sql: str) -> None:
    if not sql.strip():
        raise errors.invalid_field("sql", "required")
