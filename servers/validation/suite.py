"""Check suites: YAML or JSON text (or an already parsed object) → a validated ``Suite``.

A suite is ``{name?, description?, checks: [...]}``; each check is a mapping with a
``type`` (one of ``CHECK_TYPES``), its own fields, and the common ``name``, ``blocking``
(default true; false makes a failure a warning) and ``description``::

    name: workers_quality
    checks:
      - {type: schema, columns: {worker_id: {type: int64, nullable: false}, email: {type: string}}}
      - {type: unique, columns: [worker_id]}
      - {type: not_null, column: email}
      - {type: null_rate, column: phone, max: 0.05}
      - {type: range, column: hourly_rate, min: 15, max: 40}
      - {type: allowed_values, column: role, values: [welder, forklift operator]}
      - {type: regex, column: email, format: email}          # or pattern: '^...$'
      - {type: row_count, min: 1, max: 1000000}
      - {type: freshness, column: updated_at, max_age: 30d}   # s, m, h, d, w or seconds
      - {type: references, column: state, dataset: states, ref_column: code, blocking: false}

The whole suite is checked before anything runs, and every problem is reported at once:
an unknown type is UNKNOWN_CHECK naming it, anything else INVALID_SUITE, each problem a
field violation (``checks[2].max``). Columns are checked against the dataset later, when
its schema is known (``Suite.columns_read``).
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import duckdb
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lakehouse.api.catalog import validate_dataset_name
from lakehouse.api.errors import FieldViolation, InvalidArgument, LakehouseError, NotFound, invalid_field
from lakehouse.api.validation import CHECK_TYPES, INVALID_SUITE, SUITE_NOT_FOUND, UNKNOWN_CHECK
from lakehouse.servers.settings import ValidatorSettings
from lakehouse.servers.sql import string_literal
from lakehouse.servers.workflows.schema import UniqueKeyLoader

SUITE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")
SUITE_SUFFIXES = (".yaml", ".yml", ".json")
# Distinct patterns whose RE2 verdict is remembered.
REGEX_VERDICTS_CACHED = 1024
_RE2_LOCK = threading.Lock()
# Problems listed in the message before "and N more" (all of them are violations).
MESSAGE_PROBLEMS = 3
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNION_MEMBERS = frozenset({"int", "float", "str", "bool", "none"})
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}

Column = Field(min_length=1)


class Check(BaseModel):
    """What every check has; subclasses add their own fields (unknown fields are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str = ""
    description: str = ""
    blocking: bool = True

    def columns_read(self) -> tuple[str, ...]:
        """Columns of the checked dataset this check reads (each must exist)."""
        column = getattr(self, "column", None)
        return (column,) if column else ()

    def default_name(self) -> str:
        return f"{self.type}({','.join(self.columns_read())})"


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str = ""  # "": any type
    nullable: bool = True


class SchemaCheck(Check):
    """pandera's DataFrameSchema: named columns exist, with a type, and no nulls where
    ``nullable: false``; ``exact`` also refuses columns the suite does not name."""

    type: Literal["schema"]
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    exact: bool = False

    def columns_read(self) -> tuple[str, ...]:
        return ()  # a missing column is what this check reports, not an error

    def default_name(self) -> str:
        return "schema"


class NotNull(Check):
    type: Literal["not_null"]
    column: str = Column


class NullRate(Check):
    type: Literal["null_rate"]
    column: str = Column
    max: float = Field(ge=0, le=1)


class Unique(Check):
    """Rows whose key (one or more columns, no nulls) another row shares."""

    type: Literal["unique"]
    columns: tuple[str, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, raw: Any) -> Any:
        if isinstance(raw, Mapping) and "column" in raw and "columns" not in raw:
            raw = {**raw, "columns": [raw["column"]]}
            raw.pop("column")
        return raw

    @field_validator("columns")
    @classmethod
    def _distinct(cls, columns: tuple[str, ...]) -> tuple[str, ...]:
        if any(not c for c in columns) or len(set(columns)) != len(columns):
            raise ValueError("key columns must be non-empty and distinct")
        return columns

    def columns_read(self) -> tuple[str, ...]:
        return self.columns


Bound = int | float | str


class Range(Check):
    """Values outside [min, max] (either bound may be left out); nulls are not counted.
    A string bound is cast to the column's type (dates, timestamps)."""

    type: Literal["range"]
    column: str = Column
    min: Bound | None = None
    max: Bound | None = None

    @model_validator(mode="after")
    def _bounded(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if any(isinstance(b, float) and not math.isfinite(b) for b in (self.min, self.max)):
            raise ValueError("bounds must be finite numbers (or text, for dates and timestamps)")
        if isinstance(self.min, (int, float)) and isinstance(self.max, (int, float)) and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self


class AllowedValues(Check):
    type: Literal["allowed_values"]
    column: str = Column
    values: tuple[str | int | float | bool, ...] = Field(min_length=1)


class Regex(Check):
    """Values (as text) that do not match the whole pattern; nulls are not counted. The
    pattern is given, or named from validator.formats (``format: email``)."""

    type: Literal["regex"]
    column: str = Column
    pattern: str = ""
    format: str = ""

    @model_validator(mode="after")
    def _one_source(self) -> Regex:
        if bool(self.pattern) == bool(self.format):
            raise ValueError("give exactly one of pattern and format")
        return self


class RowCount(Check):
    type: Literal["row_count"]
    min: int | None = Field(None, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _bounded(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        return self

    def default_name(self) -> str:
        return "row_count"


class Freshness(Check):
    """Soda's freshness: the newest value of a timestamp (or date) column is at most
    ``max_age`` old ("30d", "12h", "90m", "45s", "2w" or a number of seconds)."""

    type: Literal["freshness"]
    column: str = Column
    max_age: float | str

    @field_validator("max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise ValueError("a duration is a number of seconds or a string like 30d")
        return parse_duration(value)


class References(Check):
    """Values (not null) of ``column`` missing from ``ref_column`` (default: the same
    name) of the current version of ``dataset``."""

    type: Literal["references"]
    column: str = Column
    dataset: str
    ref_column: str = ""

    @field_validator("dataset")
    @classmethod
    def _dataset_name(cls, name: str) -> str:
        try:
            return validate_dataset_name(name)
        except LakehouseError as exc:
            raise ValueError(exc.message) from None

    @property
    def target_column(self) -> str:
        return self.ref_column or self.column

    def default_name(self) -> str:
        return f"references({self.column}->{self.dataset}.{self.target_column})"


MODELS: dict[str, type[Check]] = {
    "schema": SchemaCheck,
    "not_null": NotNull,
    "null_rate": NullRate,
    "unique": Unique,
    "range": Range,
    "allowed_values": AllowedValues,
    "regex": Regex,
    "row_count": RowCount,
    "freshness": Freshness,
    "references": References,
}
assert tuple(MODELS) == CHECK_TYPES


@dataclass(frozen=True)
class NamedCheck:
    """A check with its resolved name (unique in the suite) and, for regex, its pattern."""

    name: str
    check: Check
    pattern: str = ""


@dataclass(frozen=True)
class Suite:
    name: str
    checks: tuple[NamedCheck, ...]
    description: str = ""

    def columns_read(self) -> dict[str, tuple[str, ...]]:
        """Check name → the checked dataset's columns it reads."""
        return {c.name: c.check.columns_read() for c in self.checks}


@dataclass(frozen=True)
class _Problem:
    reason: str
    field: str
    description: str


def refuse(problems: list[_Problem], name: str = "") -> InvalidArgument:
    """One INVALID_ARGUMENT for every problem: UNKNOWN_CHECK when a type is unknown."""
    reasons = {p.reason for p in problems}
    reason = UNKNOWN_CHECK if UNKNOWN_CHECK in reasons else problems[0].reason
    first = [p for p in problems if p.reason == reason] + [p for p in problems if p.reason != reason]
    shown = "; ".join(f"{p.field}: {p.description}" for p in first[:MESSAGE_PROBLEMS])
    more = len(problems) - MESSAGE_PROBLEMS
    what = f"suite {name!r}" if name else "the suite"
    message = f"{what} is invalid: {shown}" + (f" (and {more} more)" if more > 0 else "")
    metadata = {"problems": str(len(problems))}
    if name:
        metadata["suite"] = name
    unknown = [p.description.split("'")[1] for p in problems if p.reason == UNKNOWN_CHECK and "'" in p.description]
    if unknown:
        metadata["unknown_checks"] = ",".join(unknown)
    return InvalidArgument(
        message, reason=reason, metadata=metadata, violations=[FieldViolation(p.field, p.description) for p in first]
    )


def parse_duration(value: float | str) -> float:
    """Seconds from a number or "<n>[smhdw]"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration: use e.g. 45s, 90m, 12h, 30d, 2w or seconds")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("a duration must be a positive, finite number of seconds")
    return seconds


# Text --------------------------------------------------------------------------


def load_text(text: str, settings: ValidatorSettings, name: str = "") -> Suite:
    """A suite from YAML or JSON text (JSON is YAML); a key given twice is refused."""
    size = len(text.encode())
    if size > settings.max_suite_bytes:
        raise refuse([_Problem(INVALID_SUITE, "suite", f"{size} bytes; at most {settings.max_suite_bytes}")], name)
    try:
        raw = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "not YAML or JSON"
        error = refuse([_Problem(INVALID_SUITE, "suite", f"line {line}, column {column}: {problem}")], name)
        error.metadata.update({"line": str(line), "column": str(column)})
        raise error from None
    except yaml.YAMLError as exc:
        raise refuse([_Problem(INVALID_SUITE, "suite", str(exc))], name) from None
    return parse_suite(raw, settings, name)


def load_named(name: str, directory: Path, settings: ValidatorSettings) -> Suite:
    """The stored suite ``<directory>/<name>.yaml|.yml|.json``."""
    if not SUITE_NAME.match(name or ""):
        raise invalid_field("suite", f"invalid suite name {name!r}: lowercase letters, digits, '_' and '-'")
    for suffix in SUITE_SUFFIXES:
        path = directory / f"{name}{suffix}"
        if path.is_file():
            return load_text(path.read_text(encoding="utf-8"), settings, name)
    raise NotFound(
        f"no check suite {name!r} (looked for {name}.yaml, .yml or .json in the suites directory)",
        reason=SUITE_NOT_FOUND,
        metadata={"suite": name},
    )


# Shape ----------------------------------------------------------------------------

_SUITE_KEYS = ("name", "description", "checks")


def parse_suite(raw: Any, settings: ValidatorSettings, name: str = "") -> Suite:
    """Validate a parsed suite whole; every problem is one violation of one error."""
    if not isinstance(raw, Mapping):
        raise refuse([_Problem(INVALID_SUITE, "suite", "expected a mapping with a list of checks")], name)
    problems: list[_Problem] = []
    for key in sorted(set(raw) - set(_SUITE_KEYS), key=str):
        problems.append(_Problem(INVALID_SUITE, str(key), f"unknown key; a suite has {list(_SUITE_KEYS)}"))
    given_name = raw.get("name", "")
    if not isinstance(given_name, str):
        problems.append(_Problem(INVALID_SUITE, "name", "must be a string"))
        given_name = ""
    name = name or given_name
    raw_checks = raw.get("checks")
    if not isinstance(raw_checks, list) or not raw_checks:
        problems.append(_Problem(INVALID_SUITE, "checks", "required: a non-empty list of checks"))
        raw_checks = []
    elif len(raw_checks) > settings.max_checks:
        problems.append(_Problem(INVALID_SUITE, "checks", f"{len(raw_checks)} checks; at most {settings.max_checks}"))
        raw_checks = []
    checks: list[tuple[str, Check]] = []
    for i, item in enumerate(raw_checks):
        where = f"checks[{i}]"
        check = _check(where, item, problems)
        if check is not None:
            checks.append((where, check))
    named = _named(checks, settings, problems)
    if problems:
        raise refuse(problems, name)
    description = raw.get("description", "")
    return Suite(name=name, checks=tuple(named), description=description if isinstance(description, str) else "")


def _check(where: str, item: Any, problems: list[_Problem]) -> Check | None:
    if not isinstance(item, Mapping):
        problems.append(_Problem(INVALID_SUITE, where, "expected a mapping with a type"))
        return None
    kind = item.get("type")
    if kind is None:
        problems.append(_Problem(INVALID_SUITE, f"{where}.type", f"required: one of {list(CHECK_TYPES)}"))
        return None
    model = MODELS.get(kind) if isinstance(kind, str) else None
    if model is None:
        problems.append(
            _Problem(UNKNOWN_CHECK, f"{where}.type", f"unknown check type '{kind}'; use one of {list(CHECK_TYPES)}")
        )
        return None
    try:
        return model.model_validate(dict(item))
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            problems.append(_Problem(INVALID_SUITE, _field(where, error["loc"]), _message(error)))
        return None


def _field(where: str, loc: tuple[Any, ...]) -> str:
    out = where
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in _UNION_MEMBERS and not str(part).startswith(("function-", "literal[")):
            out += f".{part}"  # a union's member names (pydantic puts them in the path) are left out
    return out


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid"))
    return message.removeprefix("Value error, ")


def _named(checks: list[tuple[str, Check]], settings: ValidatorSettings, problems: list[_Problem]) -> list[NamedCheck]:
    """Resolve names (a repeated default name gets "#2", "#3"; a repeated given name is a
    problem) and regex patterns (named formats, then RE2 syntax through DuckDB itself)."""
    out: list[NamedCheck] = []
    seen: set[str] = set()
    given = {c.name for _, c in checks if c.name}
    for where, check in checks:
        name = check.name
        if name and name in seen:
            problems.append(_Problem(INVALID_SUITE, f"{where}.name", f"{name!r} names another check too"))
        elif not name:
            base = name = check.default_name()
            n = 1
            while name in seen or name in given:
                n += 1
                name = f"{base}#{n}"
        seen.add(name)
        pattern = ""
        if isinstance(check, Regex):
            pattern = check.pattern or settings.formats.get(check.format, "")
            if not pattern:
                known = sorted(settings.formats)
                problems.append(
                    _Problem(INVALID_SUITE, f"{where}.format", f"unknown format {check.format!r}; use {known}")
                )
            elif (problem := _regex_problem(pattern)) is not None:
                problems.append(_Problem(INVALID_SUITE, f"{where}.pattern", problem))
        out.append(NamedCheck(name, check, pattern))
    return out


@functools.lru_cache(maxsize=REGEX_VERDICTS_CACHED)
def _regex_problem(pattern: str) -> str | None:
    """Why DuckDB (RE2) cannot compile ``pattern``, or None (verdicts are cached: a suite
    is parsed on every request, and opening a database costs more than the check)."""
    with _RE2_LOCK:
        con = _re2_connection()
        try:
            con.execute(f"SELECT regexp_full_match('', {string_literal(pattern)})").fetchall()
        except duckdb.Error as exc:
            return f"not a valid RE2 pattern: {str(exc).strip().removeprefix('Invalid Input Error: ')}"
    return None


@functools.cache
def _re2_connection() -> duckdb.DuckDBPyConnection:
    """A scratch in-memory database that only compiles patterns (no table, no file access)."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_external_access = false")
    return con
