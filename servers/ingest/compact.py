"""Compaction: fold a version's deltas into new base files (the later step D6 left open).

The rows written are exactly the rows a query sees, because they are produced by
the query views' own merge-on-read SELECT (``views.merge_on_read_sql``) run in a
private DuckDB over the version's files. They stream into ``PartWriter`` and are
committed as a new version with no deltas (replace semantics: same schema, same
primary key) only if the dataset is still at the version that was read
(optimistic concurrency, like an ingest). Older versions keep their files until
VacuumDatasets expires them; that is what makes a deleted row disappear from the lake.

Failure policy as for an ingest: the attempt's files are deleted and the failure
journaled, except when the commit's outcome is unknown (then they are kept as
collectable orphans).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from lakehouse.api import errors
from lakehouse.api.catalog import Dataset, DatasetVersion, NewVersion, WriteMode
from lakehouse.api.ingest import CANCELLED, COMPACTION_FAILED
from lakehouse.servers.ingest import layout
from lakehouse.servers.ingest.model import IngestResult
from lakehouse.servers.ingest.plan import Plan, make_plan, manifest
from lakehouse.servers.ingest.writer import PartWriter, storage_errors
from lakehouse.servers.query.views import ViewBuildError, delta_schema, merge_on_read_sql
from lakehouse.servers.settings import IngestSettings
from lakehouse.servers.sql import quote_ident
from lakehouse.servers.storage.cleanup import delete_keys
from lakehouse.servers.storage.model import ObjectStore

log = logging.getLogger(__name__)

JOURNAL_OPERATION = "ingest.compact"
COMPACTED_FROM = "compacted_from"
_BASE_SOURCE = "__lh_compact_base"
_DELTA_SOURCE = "__lh_compact_delta"


class Journal(Protocol):
    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str: ...


@dataclass(frozen=True)
class EngineLimits:
    """The private DuckDB's bounds: the same ones the ingest engine runs with."""

    memory_limit: str
    temp_dir: Path


class Compactor:
    def __init__(
        self, store: ObjectStore, journal: Journal | None, settings: IngestSettings, limits: EngineLimits
    ) -> None:
        self._store = store
        self._journal = journal
        self._settings = settings
        self._limits = limits

    def run(
        self,
        existing: Dataset,
        commit: Callable[[NewVersion, Plan], DatasetVersion],
        unknown_cause: Callable[[BaseException], BaseException | None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        """Compact ``existing.current``. ``commit`` is the ingest core's (it settles an
        unknown outcome where it can); ``unknown_cause`` returns the underlying error of
        its "maybe committed" failure, None for any other."""
        current = existing.current
        if not current.deltas:
            return _unchanged(current)
        plan = make_plan(current.dataset, WriteMode.REPLACE, current.primary_key, existing)
        attempt = layout.new_attempt()
        writer = PartWriter(
            self._store,
            lambda n: layout.part_key(plan.dataset, plan.version, n, attempt),
            current.schema,
            row_group_rows=self._settings.row_group_rows,
            rows_per_file=self._settings.rows_per_file,
            compression=self._settings.compression,
        )
        try:
            rows = self._rewrite(current, writer, cancelled)
            written = writer.close()
            if cancelled():
                raise errors.Cancelled("compaction cancelled", reason=CANCELLED)
            files, deltas = manifest(plan, written)
            new = NewVersion(
                dataset=plan.dataset,
                expected_version=plan.expected_version,
                files=files,
                deltas=deltas,
                schema=current.schema,
                mode=WriteMode.REPLACE,
                primary_key=current.primary_key,
                extra={"attempt": attempt, COMPACTED_FROM: str(current.version), "rows_in": str(rows)},
            )
            committed = commit(new, plan)
        except BaseException as exc:
            writer.abort()
            cause = unknown_cause(exc)
            error = _client_error(cause or exc)
            self._fail(error, plan, attempt, writer.keys, unknown=cause is not None)
            if error is exc:
                raise
            raise error from exc
        log.info("compacted %s v%d into v%d (%d rows)", plan.dataset, current.version, committed.version, rows)
        return IngestResult(
            dataset=plan.dataset,
            version=committed.version,
            mode=WriteMode.REPLACE,
            rows=rows,
            bytes_in=current.bytes,
            bytes_written=sum(f.bytes for f in written),
            files=len(written),
            source_hash="",
            deduplicated=False,
            schema=committed.schema,
        )

    def _rewrite(self, version: DatasetVersion, writer: PartWriter, cancelled: Callable[[], bool]) -> int:
        """Stream the version's merged rows into ``writer``; returns the row count."""
        filesystem, base = self._store.filesystem()
        root = base.rstrip("/")

        def source(files, schema: pa.Schema) -> pads.Dataset:
            paths = [f"{root}/{f.path}" for f in files]
            return pads.FileSystemDataset.from_paths(
                paths, schema=schema, format=pads.ParquetFileFormat(), filesystem=filesystem
            )

        con = duckdb.connect(":memory:")
        try:
            self._limits.temp_dir.mkdir(parents=True, exist_ok=True)
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET memory_limit = $m", {"m": self._limits.memory_limit})
            con.execute("SET temp_directory = $d", {"d": str(self._limits.temp_dir)})
            base_rel = None
            if version.files:
                con.register(_BASE_SOURCE, source(version.files, version.schema))
                base_rel = quote_ident(_BASE_SOURCE)
            con.register(_DELTA_SOURCE, source(version.deltas, delta_schema(version.schema)))
            con.execute("SET enable_external_access = false")
            sql = merge_on_read_sql(
                list(version.schema.names), version.primary_key, base_rel, quote_ident(_DELTA_SOURCE)
            )
            rows = 0
            with (
                storage_errors(version.dataset),
                contextlib.closing(con.sql(sql).to_arrow_reader(self._settings.batch_rows)) as batches,
            ):
                for batch in batches:
                    if cancelled():
                        raise errors.Cancelled("compaction cancelled", reason=CANCELLED)
                    writer.write(batch.cast(version.schema))
                    rows += batch.num_rows
            return rows
        except ViewBuildError as exc:
            raise errors.FailedPrecondition(
                f"version {version.version} of {version.dataset} cannot be merged: {exc}",
                reason=COMPACTION_FAILED,
                metadata={"dataset": version.dataset, "version": str(version.version)},
            ) from exc
        except duckdb.Error as exc:
            detail = str(exc).replace(f"{root}/", "")  # files are named by key, never by server path
            raise errors.Unavailable(
                f"compacting {version.dataset} failed reading version {version.version}: {detail}",
                reason=COMPACTION_FAILED,
                metadata={"dataset": version.dataset, "version": str(version.version)},
            ) from exc
        finally:
            con.close()

    def _fail(self, exc: BaseException, plan: Plan, attempt: str, keys: list[str], *, unknown: bool) -> None:
        left = keys if unknown else delete_keys(self._store, keys)
        if self._journal is None or not keys or isinstance(exc, errors.Cancelled):
            return
        reason = exc.reason if isinstance(exc, errors.LakehouseError) else type(exc).__name__
        try:
            self._journal.record(
                JOURNAL_OPERATION,
                exc,
                {
                    "dataset": plan.dataset,
                    "version": str(plan.version),
                    "attempt": attempt,
                    "reason": reason,
                    "files_written": ",".join(keys),
                    "files_left": ",".join(left),
                    "note": "commit outcome unknown; files kept" if unknown else "attempt files deleted",
                },
            )
        except Exception:
            log.exception("could not journal a failed compaction of %s", plan.dataset)


def _client_error(exc: BaseException) -> BaseException:
    if isinstance(exc, errors.LakehouseError) or not isinstance(exc, Exception):
        return exc  # KeyboardInterrupt, SystemExit: propagate untouched
    return errors.Internal(f"compaction failed unexpectedly: {type(exc).__name__}: {exc}", reason=COMPACTION_FAILED)


def _unchanged(current: DatasetVersion) -> IngestResult:
    """No deltas: the current version already is compact; nothing is written."""
    return IngestResult(
        dataset=current.dataset,
        version=current.version,
        mode=current.mode,
        rows=current.base_rows,
        bytes_in=0,
        bytes_written=0,
        files=0,
        source_hash=current.source_hash,
        deduplicated=True,
        schema=current.schema,
    )
