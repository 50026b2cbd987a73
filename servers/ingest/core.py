"""IngestCore: an upload (a stream of byte chunks) becomes a committed dataset version.

Steps: decode, sniff and spool the upload while hashing it (``source.prepare``)
-> (under the dataset's lock) skip it if these exact bytes, read the same way, are
already in the dataset -> plan the write -> parse (DuckDB for text and Parquet,
calamine for workbooks) and stream batches into Parquet files -> commit the
version in the catalog. ``sheet=*`` runs the last three steps once per sheet,
each into its own dataset.

Failure policy (DESIGN §4): data files are written before the catalog commit.
If anything fails after the first file was opened, the attempt's files are
deleted (best effort) and the failure is journaled; the caller gets a
lakehouse error. Validation errors raised before any file exists are not
journaled: nothing was written, and the client already has the full answer.
Cancellation is not journaled either (it is the client's choice, not a fault),
but its files are removed. When the commit itself fails in a way that leaves
its outcome unknown (e.g. a remote catalog timed out), the files are kept: an
orphan can be collected, a catalog entry pointing at deleted data cannot be
repaired.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Protocol

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import (
    CatalogApi,
    Dataset,
    DatasetVersion,
    NewVersion,
    WriteMode,
    validate_dataset_name,
)
from lakehouse.api.errors import EMPTY_INPUT, INVALID_KEY, UNKNOWN_COLUMN
from lakehouse.api.ingest import (
    CANCELLED,
    DOCUMENT_FORMATS,
    EMBEDDING_NOT_AVAILABLE,
    EMPTY_SHEET,
    INGEST_FAILED,
    SPOOL_UNAVAILABLE,
    EmbedTarget,
    RejectedFile,
)
from lakehouse.api.vector import ColumnMapping
from lakehouse.servers.ingest import layout, xlsx
from lakehouse.servers.ingest.compact import Compactor, EngineLimits
from lakehouse.servers.ingest.documents import rows as documents
from lakehouse.servers.ingest.documents.pool import DocumentParser
from lakehouse.servers.ingest.embed import EmbedOnIngest
from lakehouse.servers.ingest.formats import parse_schema
from lakehouse.servers.ingest.json_keys import KeyReport, renamed_columns
from lakehouse.servers.ingest.model import (
    DEFAULT_SHEET_DATASET_PATTERN,
    FORMATS,
    PHASE_COMMIT,
    PHASE_CONVERT,
    IngestProgress,
    IngestResult,
    IngestSpec,
)
from lakehouse.servers.ingest.names import given as names_given
from lakehouse.servers.ingest.objects import ReadObject, from_source_object
from lakehouse.servers.ingest.plan import (
    Conformer,
    Plan,
    check_columns,
    dataset_schema,
    make_plan,
    manifest,
    reader_hints,
    reusable,
)
from lakehouse.servers.ingest.reader import Hint, LineBufferTooSmall, RetryWider, SampleTooSmall, SourceReader
from lakehouse.servers.ingest.source import Prepared, prepare
from lakehouse.servers.ingest.writer import PartWriter
from lakehouse.servers.memory import memory_bytes
from lakehouse.servers.settings import Settings
from lakehouse.servers.storage.cleanup import delete_keys
from lakehouse.servers.storage.model import ObjectStore

__all__ = ["IngestCore", "IngestProgress", "IngestResult", "IngestSpec"]

log = logging.getLogger(__name__)

JOURNAL_OPERATION = "ingest"
# An ingest named a check suite, but this core has no gate to run it.
CHECKS_NOT_AVAILABLE = "CHECKS_NOT_AVAILABLE"
# One journal entry per archive member that was not ingested (the rest landed).
DOCUMENT_JOURNAL_OPERATION = "ingest.document"
# First read, then at most one widening of the type sample and one of the line buffer.
MAX_READ_ATTEMPTS = 3
DUCKDB_TEMP_SUBDIR = "duckdb-tmp"


def duckdb_memory_limit(settings: Settings) -> str:
    """Memory cap of each ingest's private DuckDB (``ingest.duckdb_memory_limit``): keeps
    conversion memory bounded whatever the upload size and core count (key checks spill
    to DUCKDB_TEMP_SUBDIR)."""
    return f"{memory_bytes(settings.ingest.duckdb_memory_limit)}B"


# Catalog rejections after which the commit certainly did not happen.
_DEFINITE_REJECTIONS = (
    errors.Aborted,
    errors.AlreadyExists,
    errors.InvalidArgument,
    errors.NotFound,
    errors.FailedPrecondition,
    errors.PermissionDenied,
    errors.Unauthenticated,
)


class Journal(Protocol):
    def record(self, operation: str, error: BaseException, context: dict[str, str] | None = None) -> str: ...


class Gate(Protocol):
    """Data-quality checks on a staged version, before its commit (ValidationCore)."""

    def suite(self, name: str) -> object: ...
    def check(self, staged: NewVersion, suite: object) -> None: ...


class TableSource(Protocol):
    """A parsed upload: what the core reads rows from (reader.SourceReader, xlsx.SheetSource)."""

    def __enter__(self) -> TableSource: ...
    def __exit__(self, *exc: object) -> None: ...
    def columns(self) -> list[tuple[str, str]]: ...
    def set_hints(self, hints: dict[str, Hint]) -> None: ...
    def stream(
        self, batch_rows: int, columns: list[str] | None = None
    ) -> tuple[pa.Schema, Iterator[pa.RecordBatch]]: ...
    def key_problem(self, key: tuple[str, ...], unique: bool) -> str | None: ...


class Origin(Protocol):
    """Where a version's rows came from, as the commit and the journal name it: an
    upload (``source.Prepared``) or a table read from elsewhere (``TableOrigin``)."""

    @property
    def source_key(self) -> str: ...
    @property
    def bytes_in(self) -> int: ...
    @property
    def json_keys(self) -> KeyReport | None: ...


@dataclass(frozen=True)
class TableOrigin:
    """A table that did not arrive as an upload (a database pull): its identity, and the
    bytes read to get it (0 when unknown)."""

    source_key: str
    bytes_in: int = 0
    json_keys: None = None


class _CommitUnknown(Exception):
    """The catalog commit failed without saying whether it happened."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


@dataclass(frozen=True)
class _ReadOptions:
    full_sample: bool
    line_size: int  # 0: the limit (ingest.max_line_bytes)


@dataclass
class _Attempt:
    id: str
    writers: list[PartWriter] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [k for w in self.writers for k in w.keys]


def _never() -> bool:
    return False


def _ignore(_: IngestProgress) -> None:
    return None


class IngestCore:
    def __init__(
        self,
        catalog: CatalogApi,
        store: ObjectStore,
        journal: Journal | None,
        settings: Settings,
        embedder: EmbedOnIngest | None = None,
        gate: Gate | None = None,
        read_object: ReadObject | None = None,
    ) -> None:
        """``embedder``: embed-on-ingest (None: an ingest with an embed target is refused).
        ``gate``: runs the suite an ingest names (``IngestSpec.checks``) on the staged
        version; a blocking failure raises, so the attempt is cleaned up and journaled.
        ``read_object``: reads the bucket object an ingest names (``IngestSpec.source``)."""
        self._catalog = catalog
        self._read_object = read_object
        self._gate = gate
        self._store = store
        self._journal = journal
        self._settings = settings
        self._embedder = embedder
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # Public --------------------------------------------------------------

    def ingest(
        self,
        spec: IngestSpec,
        chunks: Iterable[bytes],
        on_progress: Callable[[IngestProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        embed: EmbedTarget | None = None,
    ) -> IngestResult:
        """Commit the upload as a new version; with ``embed``, then embed the rows it added."""
        spec, chunks = from_source_object(spec, chunks, self._read_object)
        if embed is not None:
            if self._embedder is None:
                raise errors.Unimplemented("this ingest service cannot embed", reason=EMBEDDING_NOT_AVAILABLE)
            if spec.read.sheet == xlsx.SHEET_ALL:
                raise errors.invalid_field("sheet", "embed-on-ingest reads one sheet; name it instead of '*'")
            if spec.format not in ("auto", *DOCUMENT_FORMATS):
                embed.check_table()
            self._embedder.check_reachable()
            if not embed.for_documents:
                spec = replace(spec, required_columns=embed.required_columns(_write_mode(spec.mode)))
        result = self._ingest(spec, chunks, on_progress, cancelled, embed)
        if embed is None:
            return result
        if result.read is not None and result.read.format in DOCUMENT_FORMATS:
            embed = replace(embed, mapping=document_mapping())
        return replace(result, embedded=self._embedder.embed(result, embed))

    def _ingest(
        self,
        spec: IngestSpec,
        chunks: Iterable[bytes],
        on_progress: Callable[[IngestProgress], None] | None,
        cancelled: Callable[[], bool] | None,
        embed: EmbedTarget | None = None,
    ) -> IngestResult:
        spec, explicit = _validated(spec)
        report = on_progress or _ignore
        is_cancelled = cancelled or _never
        try:
            with prepare(spec, chunks, self._settings, report, is_cancelled, self._known_names(spec)) as prepared:
                if not prepared.upload.has_content:
                    raise errors.InvalidArgument("the upload is empty", reason=EMPTY_INPUT)
                if prepared.fmt.documents:
                    if embed is not None and not embed.for_documents:
                        raise errors.invalid_field(
                            "embed_id_column",
                            "documents (pdf, zip) bring their own item columns (doc_id, chunks): leave the"
                            " embed columns empty",
                        )
                    with self._dataset_lock(spec.dataset):
                        return self._ingest_documents(spec, explicit, prepared, report, is_cancelled)
                if embed is not None and embed.for_documents:
                    embed.check_table()
                if prepared.fmt.kind == "xlsx":
                    return self._ingest_workbook(spec, explicit, prepared, report, is_cancelled)
                with self._dataset_lock(spec.dataset):
                    return self._ingest_spooled(spec, explicit, prepared, report, is_cancelled)
        except errors.LakehouseError:
            raise
        except OSError as exc:
            raise errors.Unavailable(
                f"cannot spool the upload: {exc.strerror or type(exc).__name__}", reason=SPOOL_UNAVAILABLE
            ) from exc

    def ingest_table(
        self,
        spec: IngestSpec,
        open_source: Callable[[], TableSource],
        origin: TableOrigin,
        on_progress: Callable[[IngestProgress], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> IngestResult:
        """Commit rows that arrive as a table rather than an upload (a database pull) as a
        new version, with every guarantee of an upload: the dataset's lock, its write plan
        and schema rules, no catalog version unless every file was written."""
        spec, explicit = _validated(spec)
        with self._dataset_lock(spec.dataset):
            plan = self._plan(spec, self._existing(spec.dataset))
            return self._attempt(plan, explicit, open_source, origin, on_progress or _ignore, cancelled or _never)

    def compact(self, dataset: str, cancelled: Callable[[], bool] | None = None) -> IngestResult:
        """Fold the current version's deltas into new base files, committed as a new
        version (see compact.py); serialized with this process's ingests into the dataset."""
        validate_dataset_name(dataset)
        limits = EngineLimits(
            memory_limit=duckdb_memory_limit(self._settings), temp_dir=self._settings.spool_dir / DUCKDB_TEMP_SUBDIR
        )
        compactor = Compactor(self._store, self._journal, self._settings.ingest, limits)
        with self._dataset_lock(dataset):
            existing = self._catalog.get_dataset(dataset)
            return compactor.run(
                existing,
                self._commit,
                lambda exc: exc.cause if isinstance(exc, _CommitUnknown) else None,
                cancelled or _never,
            )

    # Steps ---------------------------------------------------------------

    @contextlib.contextmanager
    def _dataset_lock(self, name: str) -> Iterator[None]:
        """Serialize ingests into one dataset within this process (other processes meet VERSION_CONFLICT)."""
        with self._locks_guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            yield

    def _known_names(self, spec: IngestSpec) -> tuple[str, ...]:
        """Columns of the dataset an append/upsert/delete goes into (header evidence for the sniffer)."""
        if spec.mode in (WriteMode.CREATE, WriteMode.REPLACE):
            return ()
        existing = self._existing(spec.dataset)
        return tuple(existing.current.schema.names) if existing is not None else ()

    def _existing(self, name: str) -> Dataset | None:
        try:
            return self._catalog.get_dataset(name)
        except errors.NotFound:
            return None

    def _ingest_spooled(
        self,
        spec: IngestSpec,
        explicit: dict[str, pa.DataType],
        prepared: Prepared,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        reading = _reading(prepared)
        existing = self._existing(spec.dataset)  # read once under the lock: dedup and plan agree
        if (found := self._already_ingested(spec, prepared, existing)) is not None:
            return replace(found, **reading)
        plan = self._plan(spec, existing)
        read = _ReadOptions(full_sample=False, line_size=prepared.upload.line_bound or 0)
        for _ in range(MAX_READ_ATTEMPTS - 1):
            try:
                result = self._attempt(plan, explicit, self._reader(prepared, read), prepared, report, cancelled)
                return replace(result, **reading)
            except SampleTooSmall:
                log.info("type sample too small for %s; converting again sampling the whole file", spec.dataset)
                read = replace(read, full_sample=True)
            except LineBufferTooSmall:
                log.info("a record of %s spans long lines; converting again with the largest buffer", spec.dataset)
                read = replace(read, line_size=self._settings.ingest.max_line_bytes)
        result = self._attempt(plan, explicit, self._reader(prepared, read), prepared, report, cancelled)
        return replace(result, **reading)

    def _ingest_documents(
        self,
        spec: IngestSpec,
        explicit: dict[str, pa.DataType],
        prepared: Prepared,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        """One row per document, upserted by doc_id (an append is an upsert: a document is
        never in a dataset twice). Rejected archive members are journaled by name."""
        if explicit:
            raise errors.invalid_field("schema", "documents (pdf, zip) have a fixed schema; leave schema empty")
        if spec.mode == WriteMode.DELETE:
            raise errors.invalid_field("mode", "documents are added (upsert, create, replace), not deleted by upload")
        mode = WriteMode.UPSERT if spec.mode == WriteMode.APPEND else spec.mode
        spec = replace(spec, mode=mode, primary_key=(documents.DOC_ID,))
        options = prepared.read_options()
        existing = self._existing(spec.dataset)
        if (found := self._already_ingested(spec, prepared, existing)) is not None:
            return replace(found, read=options, reasoning="these bytes were already ingested: nothing was written")
        plan = self._plan(spec, existing)
        source = documents.DocumentSource(
            prepared.upload.path,
            archive=prepared.fmt.kind == "zip",
            file_name=spec.file_name,
            limits=self._settings.documents,
            parser=self._document_parser,
            spool_dir=self._settings.spool_dir,
        )
        result = self._attempt(plan, explicit, lambda: source, prepared, report, cancelled)
        for rejected in source.rejected:
            self._journal_rejected(spec.dataset, result.version, rejected)
        why = f"{source.documents} document(s) read"
        if source.rejected:
            why += f", {len(source.rejected)} file(s) rejected"
        return replace(
            result,
            read=options,
            reasoning=why,
            rejected_files=tuple(source.rejected),
            warnings=tuple(source.warnings),
        )

    def _journal_rejected(self, dataset: str, version: int, rejected: RejectedFile) -> None:
        if self._journal is None:
            return
        error = errors.InvalidArgument(f"{rejected.file_name}: {rejected.message}", reason=rejected.reason)
        context = {"dataset": dataset, "version": str(version), "file_name": rejected.file_name}
        try:
            self._journal.record(DOCUMENT_JOURNAL_OPERATION, error, context)
        except Exception:
            log.exception("could not journal a rejected document of %s", dataset)

    @cached_property
    def _document_parser(self) -> DocumentParser:
        return DocumentParser(self._settings.documents, self._settings.vocabulary)

    def close(self) -> None:
        """Stop the document worker processes, if any were started."""
        parser = self.__dict__.get("_document_parser")
        if parser is not None:
            parser.close()

    def _ingest_workbook(
        self,
        spec: IngestSpec,
        explicit: dict[str, pa.DataType],
        prepared: Prepared,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        """One sheet into ``spec.dataset``, or (``sheet=*``) each sheet into its own dataset.
        Every sheet is read and checked before the first is written."""
        read = spec.read
        with xlsx.Workbook(prepared.upload.path, xlsx.XlsxLimits.from_settings(self._settings.ingest)) as book:
            sheets = book.resolve(read.sheet)
            every = read.sheet == xlsx.SHEET_ALL
            header = (read.header or "auto").lower()
            if header not in ("auto", "true", "false"):
                raise errors.invalid_field("header", f"use one of ['auto', 'true', 'false'], got {read.header!r}")
            tables: dict[str, xlsx.SheetTable | None] = {}
            for name in sheets:
                try:
                    tables[name] = _with_columns(book.read(name, header), read.columns)  # type: ignore[arg-type]
                except errors.InvalidArgument as exc:
                    if not (every and exc.reason == EMPTY_SHEET):
                        raise
                    tables[name] = None  # reported, not written
            if not every:
                table = tables[sheets[0]]
                assert table is not None
                return self._ingest_sheet(spec, explicit, prepared, table, report, cancelled)
            targets = xlsx.sheet_dataset_names(
                spec.dataset, sheets, read.sheet_dataset_pattern or DEFAULT_SHEET_DATASET_PATTERN
            )
            for target in targets.values():
                validate_dataset_name(target)
            results = []
            for name, table in tables.items():
                if table is None:
                    results.append(_empty_sheet(targets[name], name, spec, prepared))
                    continue
                results.append(
                    self._ingest_sheet(
                        replace(spec, dataset=targets[name]), explicit, prepared, table, report, cancelled
                    )
                )
        return _workbook_result(spec, prepared, results)

    def _ingest_sheet(
        self,
        spec: IngestSpec,
        explicit: dict[str, pa.DataType],
        prepared: Prepared,
        table: xlsx.SheetTable,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        reading = _reading(prepared, table)
        with self._dataset_lock(spec.dataset):
            existing = self._existing(spec.dataset)
            if (found := self._already_ingested(spec, prepared, existing)) is not None:
                return replace(found, **reading)
            plan = self._plan(spec, existing)
            result = self._attempt(plan, explicit, lambda: xlsx.SheetSource(table), prepared, report, cancelled)
        return replace(result, **reading)

    def _already_ingested(self, spec: IngestSpec, prepared: Prepared, existing: Dataset | None) -> IngestResult | None:
        if existing is None:
            return None
        found = self._catalog.find_by_source_hash(spec.dataset, prepared.source_key)
        if found is not None and reusable(spec.mode, found, existing.current):
            result = _deduplicated(found, existing.current, prepared)
            keys = prepared.json_keys
            return replace(result, renames=keys.renames) if keys is not None else result
        return None

    def _plan(self, spec: IngestSpec, existing: Dataset | None) -> Plan:
        plan = make_plan(spec.dataset, spec.mode, spec.primary_key, existing)
        checks = None
        if spec.checks:  # loaded before anything is written: a bad suite costs no files
            if self._gate is None:
                raise errors.Unimplemented("this ingest service cannot run checks", reason=CHECKS_NOT_AVAILABLE)
            checks = self._gate.suite(spec.checks)
        return replace(plan, required_columns=spec.required_columns, checks=checks)

    def _reader(self, prepared: Prepared, read: _ReadOptions) -> Callable[[], TableSource]:
        limits = self._settings.ingest

        def open_reader() -> TableSource:
            return SourceReader(
                prepared.upload.path,
                prepared.fmt,
                max_record_bytes=limits.max_line_bytes,
                csv=prepared.csv,
                original_line=prepared.original_line,
                locate_max_bytes=limits.error_locate_max_bytes,
                json_renamed=bool(prepared.json_keys and prepared.json_keys.renames),
                json_keys=prepared.json_keys.keys if prepared.json_keys else (),
                full_sample=read.full_sample,
                line_size=read.line_size,
                temp_dir=self._settings.spool_dir / DUCKDB_TEMP_SUBDIR,
                memory_limit=duckdb_memory_limit(self._settings),
            )

        return open_reader

    def _attempt(
        self,
        plan: Plan,
        explicit: dict[str, pa.DataType],
        open_source: Callable[[], TableSource],
        prepared: Origin,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        attempt = _Attempt(layout.new_attempt())
        try:
            with open_source() as source:
                return self._convert_and_commit(attempt, plan, explicit, source, prepared, report, cancelled)
        except BaseException as exc:
            self._fail(exc, attempt, plan, prepared)
            raise  # _fail raises; this is for type checkers

    def _convert_and_commit(
        self,
        attempt: _Attempt,
        plan: Plan,
        explicit: dict[str, pa.DataType],
        source: TableSource,
        prepared: Origin,
        report: Callable[[IngestProgress], None],
        cancelled: Callable[[], bool],
    ) -> IngestResult:
        limits = self._settings.ingest
        upload_columns = [name for name, _ in source.columns()]
        _require_columns(plan.required_columns, upload_columns)
        plan, select = check_columns(plan, upload_columns)
        source.set_hints(reader_hints(plan, explicit, upload_columns))
        if plan.mode in (WriteMode.UPSERT, WriteMode.DELETE):
            problem = source.key_problem(plan.primary_key, unique=plan.mode == WriteMode.UPSERT)
            if problem:
                raise errors.InvalidArgument(
                    f"{plan.mode.value} upload: {problem}",
                    reason=INVALID_KEY,
                    metadata={"dataset": plan.dataset},
                )
        source_schema, batches = source.stream(limits.batch_rows, select)
        conform = Conformer(plan, dataset_schema(plan, source_schema, explicit), explicit)
        writer = PartWriter(
            self._store,
            self._key_function(plan, attempt.id),
            conform.write_schema,
            row_group_rows=limits.row_group_rows,
            rows_per_file=limits.rows_per_file,
            compression=limits.compression,
        )
        attempt.writers.append(writer)
        rows = 0
        with contextlib.closing(batches):  # type: ignore[type-var]
            for batch in batches:
                if cancelled():
                    raise errors.Cancelled("ingest cancelled", reason=CANCELLED)
                writer.write(conform(batch))
                rows += batch.num_rows
                report(IngestProgress(PHASE_CONVERT, writer.bytes_written, rows))
        written = writer.close()
        if cancelled():
            raise errors.Cancelled("ingest cancelled", reason=CANCELLED)
        files, deltas = manifest(plan, written)
        bytes_written = sum(f.bytes for f in written)
        report(IngestProgress(PHASE_COMMIT, bytes_written, rows))
        new = NewVersion(
            dataset=plan.dataset,
            expected_version=plan.expected_version,
            files=files,
            deltas=deltas,
            schema=conform.schema,
            mode=plan.mode,
            source_hash=prepared.source_key,
            primary_key=plan.primary_key,
            extra={"attempt": attempt.id, "rows_in": str(rows), "bytes_in": str(prepared.bytes_in)},
        )
        if plan.checks is not None and self._gate is not None:
            self._gate.check(new, plan.checks)  # raises when a blocking check fails: nothing is committed
        committed = self._commit(new, plan)
        renames = ()
        if prepared.json_keys is not None:  # the reader's own renames, past the sample too
            renames = renamed_columns(upload_columns, prepared.json_keys.keys)
        return IngestResult(
            dataset=plan.dataset,
            version=committed.version,
            mode=plan.mode,
            rows=rows,
            bytes_in=prepared.bytes_in,
            bytes_written=bytes_written,
            files=len(written),
            source_hash=prepared.source_key,
            deduplicated=False,
            schema=committed.schema,
            renames=renames,
        )

    @staticmethod
    def _key_function(plan: Plan, attempt: str) -> Callable[[int], str]:
        if plan.delta_op:
            return lambda n: layout.delta_key(plan.dataset, plan.version, n, attempt)
        return lambda n: layout.part_key(plan.dataset, plan.version, n, attempt)

    def _commit(self, new: NewVersion, plan: Plan) -> DatasetVersion:
        try:
            return self._catalog.commit_version(new)
        except _DEFINITE_REJECTIONS:
            raise
        except Exception as exc:
            try:
                slot = self._catalog.get_version(plan.dataset, plan.version)
            except Exception:  # noqa: BLE001 - not there (yet?) or unreachable: still unknown
                raise _CommitUnknown(exc) from exc
            if {f.path for f in (*slot.files, *slot.deltas)} == {f.path for f in (*new.files, *new.deltas)}:
                return slot  # it did commit
            raise  # another writer holds the version: ours can never commit

    def _fail(self, exc: BaseException, attempt: _Attempt, plan: Plan, prepared: Origin) -> None:
        """Clean up after a failed attempt, journal it, and raise the client-facing error."""
        for writer in attempt.writers:
            writer.abort()
        keys = attempt.keys
        unknown = isinstance(exc, _CommitUnknown)
        left = keys if unknown else delete_keys(self._store, keys)
        cause = exc.cause if unknown else exc
        error = _client_error(cause)
        if isinstance(exc, RetryWider):
            raise exc
        if keys and not isinstance(cause, errors.Cancelled):
            self._record(error, plan, prepared, attempt, keys, left, unknown)
        if error is cause:
            raise error
        raise error from cause

    def _record(
        self,
        error: errors.LakehouseError,
        plan: Plan,
        prepared: Origin,
        attempt: _Attempt,
        keys: list[str],
        left: list[str],
        unknown: bool,
    ) -> None:
        if self._journal is None:
            return
        context = {
            "dataset": plan.dataset,
            "mode": plan.mode.value,
            "version": str(plan.version),
            "attempt": attempt.id,
            "source_hash": prepared.source_key,
            "reason": error.reason,
            "files_written": ",".join(keys),
            "files_left": ",".join(left),
            "note": "commit outcome unknown; files kept" if unknown else "attempt files deleted",
        }
        try:
            self._journal.record(JOURNAL_OPERATION, error, context)
        except Exception:
            log.exception("could not journal a failed ingest into %s", plan.dataset)


def document_mapping() -> ColumnMapping:
    """Embed-on-ingest of documents: one item per chunk, with the parsed fields."""
    return ColumnMapping(
        id_column=documents.DOC_ID,
        text_columns=(),
        metadata_columns=documents.ITEM_METADATA,
        chunk_column=documents.CHUNKS,
    )


def _client_error(exc: BaseException) -> errors.LakehouseError | BaseException:
    if isinstance(exc, (errors.LakehouseError, RetryWider)):
        return exc
    if isinstance(exc, Exception):
        return errors.Internal(f"ingest failed unexpectedly: {type(exc).__name__}: {exc}", reason=INGEST_FAILED)
    return exc  # KeyboardInterrupt, SystemExit: propagate untouched


def _require_columns(required: tuple[str, ...], upload_columns: list[str]) -> None:
    missing = [c for c in required if c not in upload_columns]
    if missing:
        raise errors.InvalidArgument(
            f"the upload has no column(s) {missing}; it has {upload_columns}",
            reason=UNKNOWN_COLUMN,
            metadata={"columns": ",".join(missing)},
        )


def _write_mode(value: WriteMode | str) -> WriteMode:
    try:
        return WriteMode(value)
    except ValueError:
        raise errors.invalid_field(
            "mode", f"unknown mode {value!r}; use one of {[m.value for m in WriteMode]}"
        ) from None


def _validated(spec: IngestSpec) -> tuple[IngestSpec, dict[str, pa.DataType]]:
    validate_dataset_name(spec.dataset)
    if spec.format not in FORMATS:
        raise errors.invalid_field("format", f"unknown format {spec.format!r}; use one of {list(FORMATS)}")
    mode = _write_mode(spec.mode)
    key = tuple(spec.primary_key)
    if any(not k for k in key) or len(set(key)) != len(key):
        raise errors.invalid_field("primary_key", "key columns must be non-empty and distinct")
    explicit = parse_schema(spec.schema)
    return replace(spec, mode=mode, primary_key=key, required_columns=tuple(spec.required_columns)), explicit


def _deduplicated(found: DatasetVersion, current: DatasetVersion, prepared: Prepared) -> IngestResult:
    own = layout.written_by(found)
    return IngestResult(
        dataset=found.dataset,
        version=found.version,
        mode=found.mode,
        rows=sum(f.rows for f in own),
        bytes_in=prepared.bytes_in,
        bytes_written=sum(f.bytes for f in own),
        files=len(own),
        source_hash=prepared.source_key,
        deduplicated=True,
        schema=current.schema,
    )


def _reading(prepared: Prepared, sheet: xlsx.SheetTable | None = None) -> dict[str, object]:
    """What the result says about how the upload was read."""
    options = prepared.read_options()
    if sheet is not None:
        options = replace(options, sheet=sheet.sheet, header=sheet.header_rows > 0, header_rows=sheet.header_rows)
        why = f"sheet {sheet.sheet!r}: {sheet.rows} data row(s), {sheet.header_rows} header row(s)"
        return dict(read=options, header=sheet.header_decision, renames=sheet.renames, reasoning=why)
    if prepared.csv is not None:
        d = prepared.csv
        return dict(
            read=options,
            header=d.header_decision,
            skipped_lines=prepared.skipped_lines,
            renames=d.renames,
            reasoning=d.reasoning,
        )
    if prepared.json_keys is not None:  # renames: the reader's (see _convert_and_commit)
        return dict(read=options, reasoning=prepared.json_keys.describe())
    return dict(read=options)


def _with_columns(table: xlsx.SheetTable, columns: tuple[str, ...]) -> xlsx.SheetTable:
    """The sheet with the caller's column names (``columns=``)."""
    if not columns:
        return table
    named = names_given(columns, len(table.schema), f"sheet {table.sheet!r}")
    schema = pa.schema([f.with_name(n) for f, n in zip(table.schema, named, strict=True)])
    return replace(table, schema=schema, renames=())


def _empty_sheet(dataset: str, sheet: str, spec: IngestSpec, prepared: Prepared) -> IngestResult:
    return IngestResult(
        dataset=dataset,
        version=0,
        mode=spec.mode,
        rows=0,
        bytes_in=0,
        bytes_written=0,
        files=0,
        source_hash=prepared.source_key,
        deduplicated=False,
        schema=pa.schema([]),
        read=replace(prepared.read_options(), sheet=sheet),
        reasoning=f"sheet {sheet!r} is empty: no dataset written",
    )


def _workbook_result(spec: IngestSpec, prepared: Prepared, sheets: list[IngestResult]) -> IngestResult:
    """``sheet=*``: the totals, with one result per sheet."""
    written = [r for r in sheets if r.version]
    return IngestResult(
        dataset=spec.dataset,
        version=0,
        mode=spec.mode,
        rows=sum(r.rows for r in sheets),
        bytes_in=prepared.bytes_in,
        bytes_written=sum(r.bytes_written for r in sheets),
        files=sum(r.files for r in sheets),
        source_hash=prepared.source_key,
        deduplicated=bool(written) and all(r.deduplicated for r in written),
        schema=pa.schema([]),
        read=replace(prepared.read_options(), sheet=xlsx.SHEET_ALL),
        reasoning=f"{len(written)} of {len(sheets)} sheet(s) written, each to its own dataset",
        sheets=tuple(sheets),
    )
