"""TruthCore: rule sets loaded (inline, from LAKEHOUSE_HOME/rules/, or shipped examples)
and checked against records (``evaluate.py``, in Python) or a dataset (``sql.py``, one
DuckDB statement through the query API; its counts appended to the lake as a report).

A rule a record breaks is one it meets the ``when`` of but not the ``require``. Checks
are deterministic: violations come by rule (file order), then by key (a dataset) or in
the order of the records; the counts are always whole, however few violations are
returned.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import CatalogApi, validate_dataset_name
from lakehouse.api.errors import UNKNOWN_COLUMN, FieldViolation
from lakehouse.api.ingest import IngestApi
from lakehouse.api.query import QueryApi
from lakehouse.api.truth import (
    INLINE,
    INVALID_LIMIT,
    ORIGIN_EXAMPLE,
    ORIGIN_HOME,
    RULE_SET_NOT_FOUND,
    RULE_TYPE_MISMATCH,
    RULES_SOURCE_REQUIRED,
    TARGET_REQUIRED,
    UNSUPPORTED_COLUMN_TYPE,
    CheckRequest,
    CheckResult,
    RuleCount,
    RuleSetInfo,
    RuleSetListing,
    Violation,
)
from lakehouse.servers.clock import utc_now
from lakehouse.servers.reports import write_report
from lakehouse.servers.settings import Settings
from lakehouse.servers.sql import quote_ident
from lakehouse.servers.truth.evaluate import CompiledRule, TypeMismatch, compile_rules, lookup
from lakehouse.servers.truth.rules import Rule, RuleSet, load_rules
from lakehouse.servers.truth.sql import Misfit, UnknownColumn, UnsupportedType, check_sql

EXAMPLES_DIR = Path(__file__).parent / "examples"
PATTERN = "*.toml"


def key_text(value: Any) -> str:
    """A key value as text: integral numbers without a fraction (JSON carries 7 as 7.0)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class TruthCore:
    """Handed the query and ingest APIs (dataset checks and their reports) and, for the
    version a report names, the catalog; each resolved on first use."""

    def __init__(
        self,
        settings: Settings,
        query: Callable[[], QueryApi],
        ingest: Callable[[], IngestApi] | None = None,
        catalog: Callable[[], CatalogApi] | None = None,
        *,
        examples_dir: Path = EXAMPLES_DIR,
        clock: Callable = utc_now,
    ) -> None:
        self._settings = settings
        self._s = settings.truth
        self._query = query
        self._ingest = ingest
        self._catalog = catalog
        self._clock = clock
        dirs = [(ORIGIN_HOME, settings.home_dir / "rules")]
        if self._s.examples:
            dirs.append((ORIGIN_EXAMPLE, examples_dir))
        self._dirs = tuple(dirs)
        # Loaded files by path, reused while (mtime, size) stay the same; compiled rule sets by identity.
        self._files: dict[Path, tuple[tuple[int, int], RuleSet | errors.LakehouseError]] = {}
        self._compiled: dict[int, tuple[RuleSet, list[CompiledRule]]] = {}
        self._lock = threading.Lock()

    # Rule sets ------------------------------------------------------------------------

    def parse(self, text: str, source: str = INLINE) -> RuleSet:
        return load_rules(text, self._s, source=source)

    def _file(self, path: Path, origin: str) -> RuleSet | errors.LakehouseError:
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._files.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            loaded: RuleSet | errors.LakehouseError = load_rules(
                path.read_text(encoding="utf-8"), self._s, source=f"{origin}/{path.name}", name=path.stem, origin=origin
            )
        except errors.LakehouseError as exc:
            loaded = exc
        except (OSError, UnicodeDecodeError) as exc:
            return errors.InvalidArgument(f"{origin}/{path.name}: cannot read it: {exc}")
        with self._lock:
            self._files[path] = (stamp, loaded)
        return loaded

    def _known(self) -> tuple[dict[str, RuleSet], list[str]]:
        known: dict[str, RuleSet] = {}
        invalid: list[str] = []
        for origin, directory in self._dirs:
            for path in sorted(directory.glob(PATTERN)) if directory.is_dir() else []:
                loaded = self._file(path, origin)
                if isinstance(loaded, errors.LakehouseError):
                    invalid.append(loaded.message)
                elif loaded.name in known:
                    if known[loaded.name].origin == origin:  # an example shadowed by a home file is fine
                        invalid.append(f"{origin}/{path.name}: the name {loaded.name!r} is taken by another file")
                else:
                    known[loaded.name] = loaded
        return known, invalid

    def list_rule_sets(self) -> RuleSetListing:
        known, invalid = self._known()
        infos = [
            RuleSetInfo(rs.name, rs.description, rs.origin, tuple(r.id for r in rs.rules), rs.key)
            for rs in (known[name] for name in sorted(known))
        ]
        return RuleSetListing(infos, invalid)

    def rule_set(self, name: str) -> RuleSet:
        known, invalid = self._known()
        if name not in known:
            broken = [line for line in invalid if f"/{name}.toml" in line]
            why = f"; {broken[0]}" if broken else ""
            raise errors.NotFound(
                f"no known rule set is named {name!r} (known: {', '.join(sorted(known)) or 'none'}){why}",
                reason=RULE_SET_NOT_FOUND,
                metadata={"rule_set": name},
            )
        return known[name]

    def load(self, request: CheckRequest) -> RuleSet:
        if bool(request.rules) == bool(request.rule_set):
            raise errors.InvalidArgument(
                "give the rules as rules (TOML text) or as rule_set (a known rule set's name), one of them",
                reason=RULES_SOURCE_REQUIRED,
                violations=[FieldViolation("rules", "exactly one of rules and rule_set")],
            )
        if request.rules:
            return self.parse(request.rules, request.rules_source or INLINE)
        return self.rule_set(request.rule_set)

    def _rules(self, rule_set: RuleSet) -> list[CompiledRule]:
        with self._lock:
            cached = self._compiled.get(id(rule_set))
            if cached is not None and cached[0] is rule_set:
                return cached[1]
        compiled = compile_rules(rule_set)
        with self._lock:
            if len(self._compiled) > 256:  # inline rule sets come and go
                self._compiled.clear()
            self._compiled[id(rule_set)] = (rule_set, compiled)
        return compiled

    # Checks ---------------------------------------------------------------------------

    def check(self, request: CheckRequest) -> CheckResult:
        targets = [request.record is not None, bool(request.records), bool(request.dataset)]
        if sum(targets) != 1:
            raise errors.InvalidArgument(
                "give one target: record (one object), records (a list of them) or dataset (a name)",
                reason=TARGET_REQUIRED,
                violations=[FieldViolation("record", "exactly one of record, records and dataset")],
            )
        limit = self._limit(request.limit)
        rule_set = self.load(request)
        key = request.key or rule_set.key
        if request.dataset:
            return self._check_dataset(rule_set, request.dataset, key, limit)
        records = [request.record] if request.record is not None else list(request.records)
        return self.check_records(rule_set, records, key, limit)

    def _limit(self, limit: int) -> int:
        if limit < 0:
            raise errors.invalid_field("limit", "must not be negative", INVALID_LIMIT)
        return min(limit or self._s.violations_default, self._s.violations_max)

    def check_records(
        self, rule_set: RuleSet, records: Sequence[Mapping[str, Any]], key: str = "", limit: int = 0
    ) -> CheckResult:
        """Every record against every rule, in Python."""
        limit = limit or self._s.violations_max
        key_path = key.split(".") if key else None
        found: list[Violation] = []
        counts: list[RuleCount] = []
        total = 0
        for compiled in self._rules(rule_set):
            rule = compiled.rule
            applicable = violations = 0
            for index, record in enumerate(records):
                try:
                    if not compiled.applies(record):
                        continue
                    applicable += 1
                    if compiled.holds(record):
                        continue
                except TypeMismatch as exc:
                    raise _mismatch(rule.id, exc, f"record {index}") from None
                violations += 1
                if len(found) < limit:
                    k = key_text(lookup(record, key_path)) if key_path else str(index)
                    found.append(_violation(rule, k))
            total += violations
            counts.append(RuleCount(rule.id, rule.severity, applicable, violations))
        return CheckResult(
            rule_set=rule_set.name,
            records=len(records),
            violations=tuple(found),
            counts=tuple(counts),
            violation_count=total,
            truncated=total > len(found),
        )

    def _check_dataset(self, rule_set: RuleSet, dataset: str, key: str, limit: int) -> CheckResult:
        validate_dataset_name(dataset)
        query = self._query()
        reader = query.stream(f"SELECT * FROM {quote_ident(dataset)} LIMIT 0")
        schema = reader.schema
        reader.read_all()
        version = self._version(dataset)
        try:
            plan = check_sql(rule_set, schema, dataset, key, limit)
        except Misfit as exc:
            raise _misfit(exc, rule_set, dataset) from None
        rows = query.stream(plan.sql).read_all().to_pylist()
        head = rows[0]
        counts, total = [], 0
        for i, rule in enumerate(rule_set.rules):
            counts.append(RuleCount(rule.id, rule.severity, head[f"a{i}"], head[f"v{i}"]))
            total += head[f"v{i}"]
        found = tuple(_violation(rule_set.rules[r["rule"]], r["k"]) for r in rows if r["rule"] is not None)
        result = CheckResult(
            rule_set=rule_set.name,
            records=head["records"],
            violations=found,
            counts=tuple(counts),
            violation_count=total,
            truncated=total > len(found),
            dataset=dataset,
            dataset_version=version,
        )
        return self._report(result)

    def _version(self, dataset: str) -> int:
        if self._catalog is None:
            return 0
        try:
            return self._catalog().get_dataset(dataset).current_version
        except errors.LakehouseError:  # e.g. a system dataset the catalog does not list
            return 0

    def _report(self, result: CheckResult) -> CheckResult:
        name = self._s.report_dataset
        if not name or self._ingest is None:
            return result
        check_id, at = uuid.uuid4().hex, self._clock()
        table = pa.Table.from_pylist(
            [
                {
                    "check_id": check_id,
                    "checked_at": at,
                    "rule_set": result.rule_set,
                    "dataset": result.dataset,
                    "dataset_version": result.dataset_version,
                    "records": result.records,
                    "rule_id": c.rule_id,
                    "severity": c.severity,
                    "applicable": c.applicable,
                    "violations": c.violations,
                }
                for c in result.counts
            ],
            schema=REPORT_SCHEMA,
        )
        written = write_report(self._ingest(), name, table)
        if written is None:
            return result
        return replace(result, report_dataset=name, report_version=written.version)


REPORT_SCHEMA = pa.schema(
    [
        ("check_id", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
        ("rule_set", pa.string()),
        ("dataset", pa.string()),
        ("dataset_version", pa.int64()),
        ("records", pa.int64()),
        ("rule_id", pa.string()),
        ("severity", pa.string()),
        ("applicable", pa.int64()),
        ("violations", pa.int64()),
    ]
)


def _violation(rule: Rule, key: str | None) -> Violation:
    return Violation(rule.id, rule.severity, rule.description, key or "")


def _mismatch(rule_id: str, exc: TypeMismatch, where: str) -> errors.InvalidArgument:
    return errors.InvalidArgument(
        f"rule {rule_id!r}, {where}: {exc.message}",
        reason=RULE_TYPE_MISMATCH,
        metadata={"rule": rule_id, "field": exc.field},
        violations=[FieldViolation(exc.field or "record", exc.message)],
    )


def _misfit(exc: Misfit, rule_set: RuleSet, dataset: str) -> errors.InvalidArgument:
    error, who = exc.error, (f"rule {exc.rule!r}" if exc.rule else "the key")
    if isinstance(error, UnknownColumn):
        shown = ", ".join(error.available[:40])
        return errors.InvalidArgument(
            f"{who} names {error.field!r}, which dataset {dataset!r} does not have (it has: {shown})",
            reason=UNKNOWN_COLUMN,
            metadata={"rule": exc.rule, "column": error.field, "dataset": dataset, "rule_set": rule_set.name},
            violations=[FieldViolation(error.field, f"no such column in {dataset}")],
        )
    if isinstance(error, UnsupportedType):
        return errors.InvalidArgument(
            f"{who} reads {error.field!r}, a {error.type} column: rules compare text, numbers, booleans "
            "and lists of them",
            reason=UNSUPPORTED_COLUMN_TYPE,
            metadata={"rule": exc.rule, "column": error.field, "dataset": dataset, "type": str(error.type)},
            violations=[FieldViolation(error.field, f"unsupported type {error.type}")],
        )
    assert isinstance(error, TypeMismatch)
    return _mismatch(exc.rule, error, f"dataset {dataset!r}")
