"""Each check as DuckDB SQL over the checked relation, and how its numbers are judged.

A check compiles to some of: aggregate expressions that join one fused scan of the
relation (null counts, out-of-range counts, regex misses, the newest timestamp: every
such check costs one pass together, not one pass each); a query of its own (key
uniqueness, referential checks); and a SELECT of its failing rows, run only when it
failed, with a LIMIT, for the sample. Names are quoted with ``quote_ident`` and values
with ``string_literal`` or as validated numbers, never pasted in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa

from lakehouse.servers.sql import quote_ident, string_literal
from lakehouse.servers.validation.suite import (
    AllowedValues,
    Freshness,
    NamedCheck,
    NotNull,
    NullRate,
    Range,
    References,
    Regex,
    RowCount,
    SchemaCheck,
    Unique,
)

# The checked relation and, per referential check, the referenced one (temporary views).
TARGET = "__lh_target"
REFERENCE_PREFIX = "__lh_ref_"
_ROW = "__lh_row"
_OTHER = "__lh_other"


@dataclass(frozen=True)
class Outcome:
    passed: bool
    failing_count: int
    observed: float
    message: str
    # Failing "rows" the check computes itself (schema: one per mismatched column).
    sample: tuple[dict[str, Any], ...] = ()


Judge = Callable[[int, Sequence[Any]], Outcome]


@dataclass(frozen=True)
class Compiled:
    """A check as SQL. ``judge(rows, values)`` gets the relation's row count and the
    values of ``aggregates`` (in order) followed by those of ``query``'s one row."""

    check: NamedCheck
    judge: Judge
    aggregates: tuple[str, ...] = ()
    query: str | None = None
    failing: str | None = None  # SELECT of the failing rows, ordered, without LIMIT


def literal(value: Any) -> str:
    """A suite value as SQL: booleans and finite numbers as themselves, text quoted."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"CAST({string_literal(str(value))} AS DOUBLE)"
        return repr(value)
    return string_literal(str(value))


def compile_check(named: NamedCheck, schema: pa.Schema, now: datetime, reference: str = "") -> Compiled:
    """``reference``: the view of the referenced dataset (references checks)."""
    check = named.check
    target = quote_ident(TARGET)
    if isinstance(check, SchemaCheck):
        return _schema(named, check, schema)
    if isinstance(check, (NotNull, NullRate)):
        col = quote_ident(check.column)
        limit = 0.0 if isinstance(check, NotNull) else check.max
        return Compiled(
            named,
            _null_judge(check.column, limit, rate=isinstance(check, NullRate)),
            aggregates=(f"count(*) FILTER (WHERE {col} IS NULL)",),
            failing=f"SELECT * FROM {target} WHERE {col} IS NULL ORDER BY ALL",
        )
    if isinstance(check, Unique):
        return _unique(named, check)
    if isinstance(check, (Range, AllowedValues, Regex)):
        predicate = _row_predicate(named)
        return Compiled(
            named,
            _count_judge(named),
            aggregates=(f"count(*) FILTER (WHERE {predicate})",),
            failing=f"SELECT * FROM {target} WHERE {predicate} ORDER BY ALL",
        )
    if isinstance(check, RowCount):
        return Compiled(named, _row_count_judge(check))
    if isinstance(check, Freshness):
        col = quote_ident(check.column)
        return Compiled(
            named,
            _freshness_judge(check, now),
            aggregates=(f"epoch(CAST(max({col}) AS TIMESTAMPTZ))",),
            failing=f"SELECT * FROM {target} ORDER BY {col} DESC NULLS LAST",
        )
    if isinstance(check, References):
        return _references(named, check, reference)
    raise AssertionError(f"no SQL for check type {check.type!r}")  # suite.MODELS and this agree


# Row predicates -------------------------------------------------------------------


def _row_predicate(named: NamedCheck) -> str:
    """The WHERE condition of a failing row (nulls never fail these checks)."""
    check = named.check
    col = quote_ident(check.column)  # type: ignore[attr-defined]
    if isinstance(check, Range):
        sides = []
        if check.min is not None:
            sides.append(f"{col} < {literal(check.min)}")
        if check.max is not None:
            sides.append(f"{col} > {literal(check.max)}")
        return f"({' OR '.join(sides)})"
    if isinstance(check, AllowedValues):
        values = ", ".join(literal(v) for v in check.values)
        return f"({col} IS NOT NULL AND {col} NOT IN ({values}))"
    assert isinstance(check, Regex)
    return f"({col} IS NOT NULL AND NOT regexp_full_match(CAST({col} AS VARCHAR), {string_literal(named.pattern)}))"


def _count_judge(named: NamedCheck) -> Judge:
    check = named.check

    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        failing = int(values[0] or 0)
        what = {
            "range": f"outside [{_shown(getattr(check, 'min', None))}, {_shown(getattr(check, 'max', None))}]",
            "allowed_values": "not among the allowed values",
            "regex": f"not matching {getattr(check, 'format', '') or named.pattern!r}",
        }[check.type]
        return Outcome(failing == 0, failing, float(failing), f"{failing} of {rows} row(s) {what}")

    return judge


def _shown(bound: Any) -> str:
    return "…" if bound is None else str(bound)


# Nulls -------------------------------------------------------------------------------


def _null_judge(column: str, limit: float, rate: bool) -> Judge:
    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        nulls = int(values[0] or 0)
        share = nulls / rows if rows else 0.0
        if rate:
            passed = share <= limit
            message = f"{nulls} of {rows} row(s) null in {column}: rate {share:.6g} (at most {limit:g})"
            return Outcome(passed, nulls, share, message)
        return Outcome(nulls == 0, nulls, float(nulls), f"{nulls} of {rows} row(s) null in {column}")

    return judge


# Schema ------------------------------------------------------------------------------

# Type names a suite may use for a family of Arrow types (anything else must equal the
# Arrow type's own name, e.g. "timestamp[us, tz=UTC]" or "list<item: string>").
_TYPE_FAMILIES: dict[str, Callable[[pa.DataType], bool]] = {
    "int": pa.types.is_integer,
    "integer": pa.types.is_integer,
    "float": pa.types.is_floating,
    "number": lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
    "decimal": pa.types.is_decimal,
    "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
    "text": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t),
    "bool": pa.types.is_boolean,
    "boolean": pa.types.is_boolean,
    "date": pa.types.is_date,
    "timestamp": pa.types.is_timestamp,
    "time": pa.types.is_time,
    "binary": lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
    "list": lambda t: pa.types.is_list(t) or pa.types.is_large_list(t),
    "struct": pa.types.is_struct,
    "float64": lambda t: t == pa.float64(),
    "double": lambda t: t == pa.float64(),
    "float32": lambda t: t == pa.float32(),
}


def type_matches(expected: str, actual: pa.DataType) -> bool:
    name = expected.strip().lower()
    family = _TYPE_FAMILIES.get(name)
    if family is not None:
        return family(actual)
    return name.replace(" ", "") == str(actual).lower().replace(" ", "")


def _schema(named: NamedCheck, check: SchemaCheck, schema: pa.Schema) -> Compiled:
    """Names and types from the version's schema (no scan); nullability by counting nulls."""
    present = {f.name: f for f in schema}
    problems: list[dict[str, Any]] = []
    for column, spec in check.columns.items():
        f = present.get(column)
        if f is None:
            problems.append({"column": column, "problem": "missing", "expected": spec.type or "any", "actual": ""})
        elif spec.type and not type_matches(spec.type, f.type):
            problems.append({"column": column, "problem": "type", "expected": spec.type, "actual": str(f.type)})
    if check.exact:
        for column in [n for n in schema.names if n not in check.columns]:
            problems.append(
                {"column": column, "problem": "unexpected", "expected": "", "actual": str(present[column].type)}
            )
    not_null = [c for c, spec in check.columns.items() if not spec.nullable and c in present]
    aggregates = tuple(f"count(*) FILTER (WHERE {quote_ident(c)} IS NULL)" for c in not_null)

    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        found = list(problems)
        for column, nulls in zip(not_null, values, strict=True):
            if nulls:
                found.append({"column": column, "problem": "nulls", "expected": "not null", "actual": f"{nulls} null"})
        described = "; ".join(f"{p['column']}: {p['problem']}" for p in found)
        message = f"{len(found)} column(s) do not conform: {described}" if found else "conforms"
        return Outcome(not found, len(found), float(len(found)), message, tuple(found))

    return Compiled(named, judge, aggregates=aggregates)


# Keys ---------------------------------------------------------------------------------


def _unique(named: NamedCheck, check: Unique) -> Compiled:
    keys = ", ".join(quote_ident(c) for c in check.columns)
    target = quote_ident(TARGET)
    present = " AND ".join(f"{quote_ident(c)} IS NOT NULL" for c in check.columns)
    duplicated = f"SELECT {keys}, count(*) AS n FROM {target} WHERE {present} GROUP BY {keys} HAVING count(*) > 1"
    match = " AND ".join(f"{_ROW}.{quote_ident(c)} = {_OTHER}.{quote_ident(c)}" for c in check.columns)

    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        keys_found, rows_found = int(values[0] or 0), int(values[1] or 0)
        shown = ",".join(check.columns)
        message = f"{keys_found} duplicated key(s) of ({shown}) in {rows_found} of {rows} row(s)"
        return Outcome(keys_found == 0, rows_found, float(keys_found), message)

    return Compiled(
        named,
        judge,
        query=f"SELECT count(*), sum(n) FROM ({duplicated})",
        failing=(
            f"SELECT {_ROW}.* FROM {target} AS {_ROW} SEMI JOIN ({duplicated}) AS {_OTHER} ON {match} ORDER BY ALL"
        ),
    )


def _references(named: NamedCheck, check: References, reference: str) -> Compiled:
    col, other = quote_ident(check.column), quote_ident(check.target_column)
    target, ref = quote_ident(TARGET), quote_ident(reference)
    orphans = f"{target} AS {_ROW} ANTI JOIN {ref} AS {_OTHER} ON {_ROW}.{col} = {_OTHER}.{other}"
    where = f"WHERE {_ROW}.{col} IS NOT NULL"

    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        failing, distinct = int(values[0] or 0), int(values[1] or 0)
        message = (
            f"{failing} of {rows} row(s) have a {check.column} ({distinct} distinct value(s)) missing from"
            f" {check.dataset}.{check.target_column}"
        )
        return Outcome(failing == 0, failing, float(distinct), message)

    return Compiled(
        named,
        judge,
        query=f"SELECT count(*), count(DISTINCT {_ROW}.{col}) FROM {orphans} {where}",
        failing=f"SELECT {_ROW}.* FROM {orphans} {where} ORDER BY ALL",
    )


# Whole-relation checks --------------------------------------------------------------------


def _row_count_judge(check: RowCount) -> Judge:
    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        short = check.min - rows if check.min is not None and rows < check.min else 0
        excess = rows - check.max if check.max is not None and rows > check.max else 0
        bounds = f"[{check.min if check.min is not None else 0}, {check.max if check.max is not None else '…'}]"
        return Outcome(not (short or excess), short or excess, float(rows), f"{rows} row(s); expected {bounds}")

    return judge


def _freshness_judge(check: Freshness, now: datetime) -> Judge:
    max_age = float(check.max_age)

    def judge(rows: int, values: Sequence[Any]) -> Outcome:
        newest = values[0]
        if newest is None:
            return Outcome(False, rows, math.inf, f"{check.column} has no values")
        age = now.timestamp() - float(newest)
        passed = age <= max_age
        message = f"the newest {check.column} is {age:.0f}s old (at most {max_age:.0f}s)"
        return Outcome(passed, 0 if passed else rows, age, message)

    return judge
