"""The metadata filter language of search (single-corpus and matrix): a JSON object in,
the set of matching rows out, computed on columns, never item by item.

Columns. ``MetadataColumns`` holds a corpus's metadata by key and JSON type: for each key
(nested objects flattened to dotted keys, ``{"a": {"b": 1}}`` is ``a.b``) and each JSON
type (string, number, bool), one Arrow array of every value of that type and the row each
value belongs to. A scalar is one value, an array many, so "an array matches if any
element matches" is the same rule as a scalar match. Types are strict by construction:
``"3"`` is looked up among strings and ``3`` among numbers, so they never meet. It is
built once per generation (one pass over the items); a query only runs Arrow kernels.

Language (``parse_filter``):

- ``{"state": "IL"}``: equality; ``{"state": ["IL", "WI"]}``: any of them;
- several keys: all must match; a row without a filtered key never matches;
- ``{"years": {"gte": 3, "lt": 10}}``: operators, all must hold: ``eq``, ``gt``, ``gte``,
  ``lt``, ``lte`` (a number, or an ISO date / timestamp string compared as text, which
  orders ISO dates of one format correctly), ``in`` and ``not_in`` (a list of scalars),
  ``prefix`` (a string), ``regex`` (RE2, so no pattern can backtrack catastrophically;
  bounded in length by ``vector.filters.max_regex_chars``), ``exists`` (true or false);
- ``{"$or": [f, ...]}``, ``{"$and": [f, ...]}``, ``{"$not": f}`` nest.

A malformed filter is INVALID_ARGUMENT naming the field path
(``filter.years.gte: expected a number``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api.errors import InvalidArgument, invalid_field
from lakehouse.api.vector import INVALID_FILTER
from lakehouse.servers.settings import FilterSettings

STRING, NUMBER, BOOL = "string", "number", "bool"
COMPARISONS = {"gt": pc.greater, "gte": pc.greater_equal, "lt": pc.less, "lte": pc.less_equal}
OPERATORS = frozenset({"eq", *COMPARISONS, "in", "not_in", "prefix", "regex", "exists"})
LOGICAL = frozenset({"$or", "$and", "$not"})
_NESTED_SEPARATOR = "."


# Columns -------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedValues:
    """Every value of one key and one JSON type, and the row of each."""

    values: pa.Array
    rows: np.ndarray  # int64, same length as values


class MetadataColumns:
    """A corpus's metadata, by key and JSON type (see the module docstring)."""

    def __init__(self, rows: int, columns: dict[str, dict[str, TypedValues]]) -> None:
        self.rows = rows
        self._columns = columns

    @classmethod
    def from_items(cls, metadata: Sequence[Mapping[str, Any] | None], first_row: int = 0) -> MetadataColumns:
        """Columns of ``metadata``, its rows numbered from ``first_row`` (a tail appended later)."""
        values: dict[str, dict[str, tuple[list[Any], list[int]]]] = {}
        for row, item in enumerate(metadata, start=first_row):
            for key, value in _flatten(item or {}):
                for element in value if isinstance(value, list) else (value,):
                    kind = _kind(element)
                    if kind is None:
                        continue  # null, or a nested list or object inside an array: not filterable
                    found, at = values.setdefault(key, {}).setdefault(kind, ([], []))
                    found.append(element)
                    at.append(row)
        columns = {
            key: {
                kind: TypedValues(_array(kind, found), np.asarray(at, dtype=np.int64))
                for kind, (found, at) in kinds.items()
            }
            for key, kinds in values.items()
        }
        return cls(first_row + len(metadata), columns)

    def extended(self, tail: Sequence[Mapping[str, Any] | None]) -> MetadataColumns:
        """These columns plus rows appended after them: only the tail is read item by item."""
        if not tail:
            return self
        added = MetadataColumns.from_items(tail, first_row=self.rows)
        merged = {key: dict(kinds) for key, kinds in self._columns.items()}
        for key, kinds in added._columns.items():
            for kind, typed in kinds.items():
                old = merged.setdefault(key, {}).get(kind)
                merged[key][kind] = (
                    typed
                    if old is None
                    else TypedValues(
                        pa.concat_arrays([old.values, typed.values]), np.concatenate([old.rows, typed.rows])
                    )
                )
        return MetadataColumns(added.rows, merged)

    def typed(self, key: str, kind: str) -> TypedValues | None:
        return self._columns.get(key, {}).get(kind)

    def kinds(self, key: str) -> Iterable[TypedValues]:
        return self._columns.get(key, {}).values()


def _flatten(item: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    for key, value in item.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, name + _NESTED_SEPARATOR)
        else:
            yield name, value


def _kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return None


def _array(kind: str, values: list[Any]) -> pa.Array:
    if kind == NUMBER:
        return pa.array([float(v) for v in values], pa.float64())
    return pa.array(values, pa.bool_() if kind == BOOL else pa.string())


# Parsing -------------------------------------------------------------------------

Predicate = Callable[[MetadataColumns], np.ndarray]


@dataclass(frozen=True)
class Filter:
    """A parsed filter: ``matches(columns)`` is the boolean mask of matching rows; ``key``
    (its canonical JSON) names it in a cache of masks."""

    predicate: Predicate
    key: str

    def matches(self, columns: MetadataColumns) -> np.ndarray:
        return self.predicate(columns)


def parse_filter(raw: Any, field: str = "filter", limits: FilterSettings | None = None) -> Filter:
    """Check ``raw`` and compile it; every mistake names its path under ``field``."""
    bounds = limits or FilterSettings()
    parser = _Parser(bounds.max_regex_chars, bounds.max_depth)
    predicate = parser.clause(raw, field, 1)
    return Filter(predicate, json.dumps(raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


class _Parser:
    def __init__(self, max_regex_chars: int, max_depth: int) -> None:
        self._max_regex = max_regex_chars
        self._max_depth = max_depth

    def clause(self, raw: Any, path: str, depth: int) -> Predicate:
        if depth > self._max_depth:
            raise _bad(path, f"nests deeper than {self._max_depth} levels")
        if not isinstance(raw, Mapping):
            raise _bad(path, "expected an object")
        if not raw:
            raise _bad(path, "expected at least one key")
        parts = [self.entry(key, value, f"{path}.{key}", depth) for key, value in raw.items()]
        return _all(parts)

    def entry(self, key: Any, value: Any, path: str, depth: int) -> Predicate:
        if not isinstance(key, str) or not key:
            raise _bad(path, "keys must be non-empty strings")
        if key.startswith("$"):
            if key not in LOGICAL:
                raise _bad(path, f"unknown operator; use one of {sorted(LOGICAL)}")
            if key == "$not":
                inner = self.clause(value, path, depth + 1)
                return lambda columns: ~inner(columns)
            if not isinstance(value, list) or not value:
                raise _bad(path, "expected a non-empty list of filters")
            parts = [self.clause(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            return _any(parts) if key == "$or" else _all(parts)
        if isinstance(value, Mapping):
            if not value:
                raise _bad(path, "expected at least one operator")
            return _all([self.operator(key, op, operand, f"{path}.{op}") for op, operand in value.items()])
        if isinstance(value, list):
            return _field_in(key, _scalars(value, path))
        return _field_in(key, [_scalar(value, path)])

    def operator(self, key: str, op: Any, operand: Any, path: str) -> Predicate:
        if op not in OPERATORS:
            raise _bad(path, f"unknown operator; use one of {sorted(OPERATORS)}")
        if op == "eq":
            return _field_in(key, [_scalar(operand, path)])
        if op in COMPARISONS:
            return _compare(key, COMPARISONS[op], _ordered(operand, path))
        if op == "in":
            if not isinstance(operand, list):
                raise _bad(path, "expected a list")
            return _field_in(key, _scalars(operand, path))
        if op == "not_in":
            if not isinstance(operand, list):
                raise _bad(path, "expected a list")
            listed = _field_in(key, _scalars(operand, path))
            return lambda columns: _exists(key)(columns) & ~listed(columns)
        if op == "prefix":
            if not isinstance(operand, str):
                raise _bad(path, "expected a string")
            return _on_strings(key, lambda values: pc.starts_with(values, pattern=operand))
        if op == "regex":
            return _on_strings(key, self.regex(operand, path))
        if not isinstance(operand, bool):
            raise _bad(path, "expected true or false")
        present = _exists(key)
        return present if operand else (lambda columns: ~present(columns))

    def regex(self, operand: Any, path: str) -> Callable[[pa.Array], pa.Array]:
        if not isinstance(operand, str):
            raise _bad(path, "expected a string")
        if len(operand) > self._max_regex:
            raise _bad(path, f"pattern longer than {self._max_regex} characters")
        try:  # RE2 refuses what it cannot run in linear time (backreferences, lookaround)
            pc.match_substring_regex(pa.array([""], pa.string()), pattern=operand)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise _bad(path, f"not a supported regular expression: {exc}") from None
        return lambda values: pc.match_substring_regex(values, pattern=operand)


def _bad(path: str, message: str) -> InvalidArgument:
    return invalid_field(path, message, reason=INVALID_FILTER)


def _scalar(value: Any, path: str) -> Any:
    if _kind(value) is None:
        raise _bad(path, "expected a string, number or boolean")
    return value


def _scalars(values: list[Any], path: str) -> list[Any]:
    if not values:
        raise _bad(path, "expected a non-empty list")
    return [_scalar(v, f"{path}[{i}]") for i, v in enumerate(values)]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _ordered(operand: Any, path: str) -> float | str:
    """A comparison operand: a number, or an ISO date / timestamp string."""
    if isinstance(operand, int | float) and not isinstance(operand, bool):
        return float(operand)
    if isinstance(operand, str) and _ISO_DATE.match(operand):
        try:
            datetime.fromisoformat(operand)  # a date alone is a datetime at midnight
        except ValueError:
            pass
        else:
            return operand
    raise _bad(path, "expected a number, or an ISO date or timestamp")


# Evaluation ------------------------------------------------------------------------


def _rows(columns: MetadataColumns, typed: TypedValues, hit: pa.Array) -> np.ndarray:
    """Rows with at least one value for which ``hit`` is true."""
    out = np.zeros(columns.rows, dtype=bool)
    selected = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
    out[typed.rows[selected]] = True
    return out


def _field_in(key: str, wanted: list[Any]) -> Predicate:
    by_kind: dict[str, list[Any]] = {}
    for value in wanted:
        by_kind.setdefault(_kind(value) or "", []).append(value)

    def predicate(columns: MetadataColumns) -> np.ndarray:
        out = np.zeros(columns.rows, dtype=bool)
        for kind, values in by_kind.items():
            typed = columns.typed(key, kind)
            if typed is not None:
                out |= _rows(columns, typed, pc.is_in(typed.values, value_set=_array(kind, values)))
        return out

    return predicate


def _compare(key: str, compare: Callable[..., pa.Array], operand: float | str) -> Predicate:
    kind = NUMBER if isinstance(operand, float) else STRING

    def predicate(columns: MetadataColumns) -> np.ndarray:
        typed = columns.typed(key, kind)
        if typed is None:
            return np.zeros(columns.rows, dtype=bool)
        return _rows(columns, typed, compare(typed.values, operand))

    return predicate


def _on_strings(key: str, test: Callable[[pa.Array], pa.Array]) -> Predicate:
    def predicate(columns: MetadataColumns) -> np.ndarray:
        typed = columns.typed(key, STRING)
        if typed is None:
            return np.zeros(columns.rows, dtype=bool)
        return _rows(columns, typed, test(typed.values))

    return predicate


def _exists(key: str) -> Predicate:
    def predicate(columns: MetadataColumns) -> np.ndarray:
        out = np.zeros(columns.rows, dtype=bool)
        for typed in columns.kinds(key):
            out[typed.rows] = True
        return out

    return predicate


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]

    def predicate(columns: MetadataColumns) -> np.ndarray:
        out = parts[0](columns)
        for part in parts[1:]:
            out &= part(columns)
        return out

    return predicate


def _any(parts: list[Predicate]) -> Predicate:
    def predicate(columns: MetadataColumns) -> np.ndarray:
        out = parts[0](columns)
        for part in parts[1:]:
            out |= part(columns)
        return out

    return predicate
