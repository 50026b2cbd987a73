"""One hardened in-memory DuckDB database with its dataset views: the unit QueryCore replaces.

DuckDB invalidates a database for good after a fatal error (an internal assertion
during execution): every later call on it fails. So the core keeps the database in
an ``Engine`` it can throw away: ``retire`` stops the queries still running on it,
and the database is closed (and its spill directory removed) once the last of them
has released its connection — a query stuck in a call DuckDB cannot interrupt
releases it when that call returns, on its own thread.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb
import pyarrow.fs as pafs

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi
from lakehouse.servers.query.engine_errors import Fatal, Stop, fatal, map_engine_error
from lakehouse.servers.query.results import Resources
from lakehouse.servers.query.sandbox import EngineLimits, harden
from lakehouse.servers.query.views import DatasetViews, SystemDataset
from lakehouse.servers.settings import QuerySettings

log = logging.getLogger("lakehouse.query")

TEMP_DIR_PREFIX = "lakehouse-query-"
# A statement that fails at once on an invalidated database.
_PROBE_SQL = "SELECT 1"


class AbandonedCalls:
    """How many engine calls still run after their query answered, across engines."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self, delta: int) -> None:
        with self._lock:
            self.count += delta


class Engine:
    """A database, its DDL connection and its views; hands out one connection per query."""

    def __init__(
        self,
        generation: int,
        catalog: CatalogApi,
        filesystem: pafs.FileSystem,
        base: str,
        *,
        native: bool,
        allowed_directories: list[str],
        settings: QuerySettings,
        memory_limit_bytes: int,
        temp_root: Path | None,
        abandoned: AbandonedCalls,
        scrub: Callable[[str], str],
        on_fatal: Callable[[Engine, Fatal], None],
        system_datasets: Mapping[str, SystemDataset] | None = None,
    ) -> None:
        self.generation = generation
        if temp_root is not None:
            temp_root.mkdir(parents=True, exist_ok=True)
        self.temp_dir = tempfile.mkdtemp(prefix=TEMP_DIR_PREFIX, dir=temp_root)
        self.db = duckdb.connect(":memory:")
        try:
            limits = EngineLimits(self.temp_dir, threads=settings.threads, memory_limit=f"{memory_limit_bytes}B")
            harden(self.db, allowed_directories, limits)
            self._ddl = self.db.cursor()
        except BaseException:
            self.db.close()
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            raise
        # The spill directory goes with the engine even if it is never disposed of explicitly.
        self._remove_temp = weakref.finalize(self, shutil.rmtree, self.temp_dir, True)
        self.views = DatasetViews(self._ddl, catalog, filesystem, base, native=native, system=system_datasets)
        self.abandoned = abandoned
        self._scrub = scrub
        self._on_fatal = on_fatal
        self._lock = threading.Lock()
        self._live: dict[int, Resources] = {}
        self._retired: Stop | None = None
        self._disposed = False

    # Queries ----------------------------------------------------------------

    def connect(self) -> Resources:
        """A new connection for one query, tracked until it is released."""
        with self._lock:
            if self._retired is not None:
                raise self.map_error(duckdb.InterruptException("INTERRUPT Error: Interrupted!"), self._retired)
            resources = Resources(self.db.cursor(), on_release=self._untrack)
            self._live[id(resources)] = resources
            return resources

    def map_error(self, exc: BaseException, stop: Stop | None) -> errors.LakehouseError:
        """The domain error for ``exc``; a fatal one also makes the core replace this engine."""
        failure = fatal(exc)
        mapped = map_engine_error(exc, stop, unavailable=self.views.unavailable, scrub=self._scrub)
        if failure is not None:
            self._on_fatal(self, failure)
        return mapped

    def invalidated(self) -> bool:
        """Whether the database refuses work after a fatal error (an internal error while
        binding or planning leaves it usable)."""
        try:
            probe = self.db.cursor()
        except duckdb.Error as exc:
            return fatal(exc) is not None
        try:
            probe.execute(_PROBE_SQL).fetchall()
            return False
        except duckdb.Error as exc:
            return fatal(exc) is not None
        finally:
            with contextlib.suppress(duckdb.Error):
                probe.close()

    # Retirement -------------------------------------------------------------

    def retire(self, reason: Stop) -> None:
        """Refuse new queries, stop the running ones, and dispose of the database once
        the last one has released its connection."""
        with self._lock:
            if self._retired is not None:
                return
            self._retired = reason
            live = list(self._live.values())
        for resources in live:
            resources.interrupt(reason)
        self._dispose_if_idle()

    def _untrack(self, resources: Resources) -> None:
        with self._lock:
            self._live.pop(id(resources), None)
        self._dispose_if_idle()

    def _dispose_if_idle(self) -> None:
        with self._lock:
            if self._retired is None or self._live or self._disposed:
                return
            self._disposed = True
        # A view sync still running on the DDL connection keeps the database busy; it is
        # then freed with its last reference instead.
        with contextlib.suppress(duckdb.Error):
            self.db.close()
        self._remove_temp()
        log.info("query engine %d disposed of", self.generation)
