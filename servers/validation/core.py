"""ValidationCore: a check suite over a dataset version, as DuckDB SQL (no gRPC here).

One validation: resolve the suite (inline, or stored by name) and the version; refuse a
suite naming a column the dataset lacks; open a private database over the lake with the
version as a view (and each referenced dataset's current version); run one fused scan
for every aggregate-style check, one query per key or referential check, and a sampling
query per failed check; judge; append the report to the lake.

The same core is the ingest gate (``IngestCore``'s ``gate``): ``suite(name)`` loads the
suite before anything is written, ``check(staged, suite)`` runs it on the staged files
and raises ``ChecksFailed`` (FAILED_PRECONDITION) when a blocking check fails, so the
ingest deletes its files and journals why instead of committing.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi, NewVersion, validate_dataset_name
from lakehouse.api.errors import UNKNOWN_COLUMN
from lakehouse.api.ingest import IngestApi
from lakehouse.api.validation import (
    CHECK_NOT_APPLICABLE,
    SUITE_REQUIRED,
    VALIDATION_TIMEOUT,
    CheckResult,
    ChecksFailed,
    ValidateRequest,
    ValidationReport,
)
from lakehouse.servers.clock import utc_now
from lakehouse.servers.query import jsonvalues
from lakehouse.servers.reports import write_report
from lakehouse.servers.settings import ValidatorSettings
from lakehouse.servers.sql import quote_ident
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.validation.checks import REFERENCE_PREFIX, TARGET, Compiled, Outcome, compile_check
from lakehouse.servers.validation.scan import LakeScanner, VersionFiles
from lakehouse.servers.validation.suite import References, SchemaCheck, Suite, load_named, load_text, parse_suite

log = logging.getLogger("lakehouse.validation")

VALIDATION_FAILED = "VALIDATION_FAILED"
# What ran a validation, as its report rows say (the gate column): a request, or an ingest gate.
REPORT_REQUEST = "request"
REPORT_GATE = "gate"  # INTERNAL: the engine failed for another reason
# DuckDB errors that mean "this check's SQL does not fit the data" (types, casts), not a fault.
_NOT_APPLICABLE = (
    duckdb.BinderException,
    duckdb.DataError,
    duckdb.InvalidInputException,
    duckdb.NotImplementedException,
)


class ValidationCore:
    """``ingest`` (lazy) appends reports; None writes none (unit tests)."""

    def __init__(
        self,
        catalog: CatalogApi,
        store: ObjectStore,
        settings: ValidatorSettings,
        suites_dir: Path,
        temp_root: Path,
        ingest: Callable[[], IngestApi] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._catalog = catalog
        self._settings = settings
        self._suites_dir = suites_dir
        self._scanner = LakeScanner(store, settings, temp_root)
        self._ingest = ingest
        self._clock = clock
        # Reports are appended while a validation reads its samples (see run).
        self._writers = ThreadPoolExecutor(settings.report_writers, thread_name_prefix="lakehouse-validation-report")

    # ValidationApi ----------------------------------------------------------------

    def validate(self, request: ValidateRequest) -> ValidationReport:
        validate_dataset_name(request.dataset)
        if request.version < 0:
            raise errors.invalid_field("version", "must not be negative")
        sample = self._sample_rows(request.sample_rows)
        suite = self._requested_suite(request)
        if request.version:
            version = self._catalog.get_version(request.dataset, request.version)
        else:
            version = self._catalog.get_dataset(request.dataset).current
        return self.run(request.dataset, version.version, version, suite, sample, report_as=REPORT_REQUEST)

    # Ingest gate --------------------------------------------------------------------

    def suite(self, name: str) -> Suite:
        """The stored suite an ingest names (before it writes anything)."""
        return load_named(name, self._suites_dir, self._settings)

    def check(self, staged: NewVersion, suite: Suite) -> None:
        """Run ``suite`` on a staged version; raise ChecksFailed when a blocking check fails."""
        # The report dataset's own ingest holds its lock here: its report is not written into itself.
        report_as = REPORT_GATE if staged.dataset != self._settings.report_dataset else ""
        version = staged.expected_version + 1
        report = self.run(staged.dataset, version, staged, suite, self._settings.sample_rows, report_as=report_as)
        if not report.passed:
            raise ChecksFailed(report)

    def close(self) -> None:
        """Close the validation database (and remove its spill directory)."""
        self._writers.shutdown(wait=True)
        self._scanner.close()

    # The run ------------------------------------------------------------------------

    def run(
        self, dataset: str, version: int, files: VersionFiles, suite: Suite, sample_rows: int, report_as: str = ""
    ) -> ValidationReport:
        """Validate ``files`` (a version of ``dataset``) against ``suite``. With ``report_as``
        (REPORT_REQUEST or REPORT_GATE) the report is appended to the lake; its rows hold no
        samples, so it is written while the samples are read, and the call returns once both
        are done."""
        started = time.perf_counter()
        now = self._clock()
        _require_columns(suite, files.schema)
        references = self._references(suite)
        with self._scanner.connect() as con, _deadline(con, self._settings.timeout_s):
            try:
                self._scanner.attach(con, TARGET, files)
                views: dict[str, str] = {}
                for index, (name, ref) in enumerate(references.items()):
                    views[name] = f"{REFERENCE_PREFIX}{index}"
                    self._scanner.attach(con, views[name], ref)
                compiled = [compile_check(c, files.schema, now, views.get(c.name, "")) for c in suite.checks]
                rows, values = _scan(con, compiled)
                outcomes = [item.judge(rows, vals) for item, vals in zip(compiled, values, strict=True)]
                report = ValidationReport(
                    validation_id=uuid.uuid4().hex,
                    dataset=dataset,
                    version=version,
                    suite=suite.name,
                    rows=rows,
                    checks=tuple(_result(item, outcome, ()) for item, outcome in zip(compiled, outcomes, strict=True)),
                    validated_at=now,
                )
                written = self._writers.submit(self._write, report, report_as) if report_as else None
                checks = [
                    _result(item, outcome, _sample(con, item, outcome, sample_rows))
                    for item, outcome in zip(compiled, outcomes, strict=True)
                ]
            except duckdb.Error as exc:
                raise _mapped(exc) from None
        report = replace(report, checks=tuple(checks), elapsed_ms=(time.perf_counter() - started) * 1000)
        return replace(report, **written.result()) if written is not None else report

    # Internals ------------------------------------------------------------------------

    def _sample_rows(self, asked: int) -> int:
        if asked < 0:
            raise errors.invalid_field("sample_rows", "must not be negative")
        return min(asked, self._settings.max_sample_rows) if asked else self._settings.sample_rows

    def _requested_suite(self, request: ValidateRequest) -> Suite:
        given = [n for n, v in (("suite", request.suite), ("suite_text", request.suite_text)) if v]
        if request.suite_spec is not None:
            given.append("suite_spec")
        if len(given) != 1:
            raise errors.invalid_field(
                "suite", f"give exactly one of suite, suite_text and suite_spec (got {given or 'none'})", SUITE_REQUIRED
            )
        if request.suite:
            return self.suite(request.suite)
        if request.suite_text:
            return load_text(request.suite_text, self._settings)
        return parse_suite(request.suite_spec, self._settings)

    def _references(self, suite: Suite) -> dict[str, VersionFiles]:
        """Check name → the current version of the dataset it references (columns checked)."""
        out: dict[str, VersionFiles] = {}
        for named in suite.checks:
            check = named.check
            if not isinstance(check, References):
                continue
            version = self._catalog.get_dataset(check.dataset).current
            if check.target_column not in version.schema.names:
                raise errors.InvalidArgument(
                    f"check {named.name!r}: dataset {check.dataset!r} has no column {check.target_column!r};"
                    f" it has {version.schema.names}",
                    reason=UNKNOWN_COLUMN,
                    metadata={"check": named.name, "dataset": check.dataset, "columns": check.target_column},
                )
            out[named.name] = version
        return out

    def _write(self, report: ValidationReport, report_as: str) -> dict[str, Any]:
        """Append the report to the lake (one row per check): the report's fields that say so.
        A failure to write it is a warning on the report, never the validation's failure."""
        dataset = self._settings.report_dataset
        if self._ingest is None:
            return {}
        try:
            written = write_report(self._ingest(), dataset, report_rows(report, gate=report_as == REPORT_GATE))
        except errors.LakehouseError as exc:
            log.warning("could not write validation report %s to %s: %s", report.validation_id, dataset, exc)
            return {"report_dataset": dataset, "warning": f"report not written: {exc.reason}: {exc.message}"}
        return {"report_dataset": dataset, "report_version": written.version if written else 0}


def report_rows(report: ValidationReport, gate: bool) -> list[dict[str, Any]]:
    """The report as lake rows, one per check (samples stay out: the rows are in the lake)."""
    return [
        {
            "validation_id": report.validation_id,
            "validated_at": report.validated_at,
            "dataset": report.dataset,
            "version": report.version,
            "suite": report.suite,
            "gate": gate,
            "rows": report.rows,
            "check_name": c.name,
            "check_type": c.type,
            "columns": list(c.columns),
            "blocking": c.blocking,
            "passed": c.passed,
            "failing_count": c.failing_count,
            "observed": c.observed,
            "message": c.message,
        }
        for c in report.checks
    ]


def _require_columns(suite: Suite, schema: pa.Schema) -> None:
    """A check naming a column the dataset lacks is the caller's error (UNKNOWN_COLUMN)."""
    names = set(schema.names)
    missing = [(check, column) for check, columns in suite.columns_read().items() for column in columns]
    missing = [(check, column) for check, column in missing if column not in names]
    if missing:
        listed = ", ".join(f"{check!r} reads {column!r}" for check, column in missing)
        raise errors.InvalidArgument(
            f"the dataset has no such column: {listed}; it has {schema.names}",
            reason=UNKNOWN_COLUMN,
            metadata={"columns": ",".join(sorted({c for _, c in missing})), "checks": ",".join(c for c, _ in missing)},
            violations=[errors.FieldViolation(f"checks.{check}", f"no column {column!r}") for check, column in missing],
        )


def _scan(con: duckdb.DuckDBPyConnection, compiled: Sequence[Compiled]) -> tuple[int, list[list[Any]]]:
    """The row count and each check's values: one fused scan, then each check's own query."""
    expressions = [e for c in compiled for e in c.aggregates]
    try:
        fused = con.execute(f"SELECT {', '.join(['count(*)', *expressions])} FROM {quote_ident(TARGET)}").fetchall()[0]
    except _NOT_APPLICABLE as exc:
        raise _culprit(con, compiled, exc) from None
    rows, position = int(fused[0]), 1
    values: list[list[Any]] = []
    for item in compiled:
        own = list(fused[position : position + len(item.aggregates)])
        position += len(item.aggregates)
        if item.query is not None:
            try:
                own.extend(con.execute(item.query).fetchall()[0])  # fetchall: the result is finished
            except _NOT_APPLICABLE as exc:
                raise _not_applicable(item, exc) from None
        values.append(own)
    return rows, values


def _culprit(con: duckdb.DuckDBPyConnection, compiled: Sequence[Compiled], exc: duckdb.Error) -> errors.LakehouseError:
    """The fused scan failed on a type or cast: find the check that caused it (one at a time)."""
    for item in compiled:
        if not item.aggregates:
            continue
        try:
            con.execute(f"SELECT {', '.join(item.aggregates)} FROM {quote_ident(TARGET)}").fetchall()
        except _NOT_APPLICABLE as own:
            return _not_applicable(item, own)
    return _mapped(exc)


def _not_applicable(item: Compiled, exc: duckdb.Error) -> errors.InvalidArgument:
    detail = str(exc).strip().splitlines()[0]
    return errors.InvalidArgument(
        f"check {item.check.name!r} cannot run on this data: {detail}",
        reason=CHECK_NOT_APPLICABLE,
        metadata={"check": item.check.name, "type": item.check.check.type},
    )


def _sample(con: duckdb.DuckDBPyConnection, item: Compiled, outcome: Outcome, limit: int) -> tuple[dict, ...]:
    if outcome.passed or limit <= 0:
        return ()
    if outcome.sample:
        return outcome.sample[:limit]
    if item.failing is None:
        return ()
    try:
        table = con.sql(f"SELECT * FROM ({item.failing}) LIMIT {int(limit)}").to_arrow_table()
    except _NOT_APPLICABLE as exc:  # e.g. a column type ORDER BY ALL cannot sort: the counts stand
        log.warning("no sample for check %r: %s", item.check.name, str(exc).strip().splitlines()[0])
        return ()
    names = table.column_names
    return tuple(dict(zip(names, row, strict=True)) for row in jsonvalues.rows(table))


def _result(item: Compiled, outcome: Outcome, sample: tuple[dict, ...]) -> CheckResult:
    check = item.check.check
    return CheckResult(
        name=item.check.name,
        type=check.type,
        columns=tuple(check.columns) if isinstance(check, SchemaCheck) else check.columns_read(),
        blocking=check.blocking,
        passed=outcome.passed,
        failing_count=outcome.failing_count,
        observed=outcome.observed,
        message=outcome.message,
        sample=sample,
    )


class _deadline:
    """Interrupt the database's running query after ``seconds`` (validator.timeout_s)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._timer = threading.Timer(seconds, con.interrupt)
        self._timer.daemon = True
        self._seconds = seconds

    def __enter__(self) -> _deadline:
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._timer.cancel()
        if isinstance(exc, errors.Internal) and exc.metadata.get("interrupted"):
            raise errors.DeadlineExceeded(
                f"the validation ran past validator.timeout_s ({self._seconds:g}s)", reason=VALIDATION_TIMEOUT
            ) from None


def _mapped(exc: duckdb.Error) -> errors.LakehouseError:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, duckdb.InterruptException):
        return errors.Internal(message, reason=VALIDATION_FAILED, metadata={"interrupted": "true"})
    if isinstance(exc, duckdb.OutOfMemoryException):
        return errors.ResourceExhausted(
            f"the validation ran out of memory (validator.memory_limit): {message}", reason=VALIDATION_FAILED
        )
    if isinstance(exc, duckdb.IOException):
        return errors.Unavailable(f"cannot read the dataset's files: {message}", reason=VALIDATION_FAILED)
    return errors.Internal(f"the validation failed: {message}", reason=VALIDATION_FAILED)
