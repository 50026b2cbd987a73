"""Turn DuckDB failures into Lakehouse domain errors; no raw engine exception leaves the query core.

An error can surface as a ``duckdb.Error`` subclass (while binding or starting a
query) or, once rows stream through Arrow, as a pyarrow/OSError whose message keeps
DuckDB's ``"<Kind> Error: ..."`` prefix. Both are classified by that kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import Enum

import duckdb

from lakehouse.api import errors
from lakehouse.api.catalog import DATASET_NOT_FOUND
from lakehouse.api.query import (
    DATASET_UNAVAILABLE,
    DATASET_UNREADABLE,
    QUERY_CANCELLED,
    QUERY_ENGINE_FAILED,
    QUERY_ENGINE_RESTARTING,
    QUERY_FAILED,
    QUERY_OUT_OF_MEMORY,
    QUERY_TIMEOUT,
    SANDBOX_VIOLATION,
    SQL_BIND,
    SQL_RUNTIME,
    SQL_SYNTAX,
)
from lakehouse.api.storage import STORAGE_UNAVAILABLE


class Stop(str, Enum):
    """Why the query core interrupted a running query."""

    TIMEOUT = "timeout"
    CANCEL = "cancel"
    # The engine the query runs on is being replaced (after a fatal error, or at shutdown).
    ENGINE = "engine"


class Fatal(str, Enum):
    """How an engine error concerns the database itself (see ``fatal``)."""

    # This query hit an internal error or a fatal one: the database may be invalidated.
    CULPRIT = "culprit"
    # The database was already invalidated by an earlier fatal error.
    VICTIM = "victim"


# DuckDB error kinds (the words before " Error:") by what the client did wrong.
_SYNTAX = frozenset({"parser", "syntax"})
_BIND = frozenset({"binder", "catalog", "dependency", "invalid type", "type mismatch", "not implemented"})
_RUNTIME = frozenset({"conversion", "out of range", "invalid input", "constraint", "sequence", "data", "serialization"})
_PERMISSION = frozenset({"permission"})
_INTERRUPT = frozenset({"interrupt"})
_MEMORY = frozenset({"out of memory"})
_STORAGE = frozenset({"io", "http"})
_FATAL = frozenset({"fatal", "internal"})
_INVALIDATED = "database has been invalidated"

_KIND = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?) Error: ", re.DOTALL)
_MISSING_TABLE = re.compile(r'Table with name "?([^"!]+?)"? does not exist')
# A registered Arrow source (the arrow scan path) failing: "<Arrow status>: detail".
_SOURCE_FAILED = re.compile(r"reading the stream registered as '[^']*' failed: (\w+):")
_ARROW_IO = "IOError"
# A message tail that only suggests DuckDB's internal catalog objects.
_SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


def engine_kind(exc: BaseException) -> str:
    """DuckDB's error kind, lower-cased ("binder", "conversion", ...), or "" when unknown."""
    if isinstance(exc, duckdb.InterruptException):
        return "interrupt"
    if isinstance(exc, duckdb.OutOfMemoryException):
        return "out of memory"
    match = _KIND.match(str(exc))
    return match.group(1).lower() if match else ""


def fatal(exc: BaseException) -> Fatal | None:
    """Whether ``exc`` is a fatal engine error, and whose: DuckDB invalidates a database
    after an internal error during execution (``InternalException``) or a
    ``FatalException``; every later call on it raises "database has been invalidated".
    Errors that reach us through Arrow keep DuckDB's "INTERNAL Error:" / "FATAL Error:"
    prefix, so the kind is read from the message as well."""
    if isinstance(exc, errors.LakehouseError):
        return None
    if _INVALIDATED in str(exc).lower():
        return Fatal.VICTIM
    if isinstance(exc, (duckdb.FatalException, duckdb.InternalException)) or engine_kind(exc) in _FATAL:
        return Fatal.CULPRIT
    return None


def map_engine_error(
    exc: BaseException,
    stop: Stop | None = None,
    unavailable: Callable[[str], str | None] = lambda name: None,
    scrub: Callable[[str], str] = lambda text: text,
) -> errors.LakehouseError:
    """The domain error for an engine failure.

    ``stop`` says why the core interrupted the query, if it did; ``unavailable`` gives
    the reason a dataset's view could not be built, so a query on it says so instead
    of "not found"; ``scrub`` removes local paths from messages.
    """
    if isinstance(exc, errors.LakehouseError):
        return exc
    kind = engine_kind(exc)
    message = scrub(str(exc).strip())
    failure = fatal(exc)
    if failure is Fatal.VICTIM or stop is Stop.ENGINE:
        return errors.Unavailable(
            "the query engine is restarting after an internal failure; retry shortly",
            reason=QUERY_ENGINE_RESTARTING,
        )
    if failure is Fatal.CULPRIT:
        # The first line only: the rest is DuckDB's stack trace and advice.
        first = message.splitlines()[0] if message else "internal error"
        return errors.Internal(f"the query engine failed on this query: {first}", reason=QUERY_ENGINE_FAILED)
    if kind in _INTERRUPT or stop is not None:
        if stop is Stop.TIMEOUT:
            return errors.DeadlineExceeded("the query ran past its timeout and was stopped", reason=QUERY_TIMEOUT)
        return errors.Cancelled("the query was cancelled", reason=QUERY_CANCELLED)
    source = _SOURCE_FAILED.search(message)
    if source:
        if source.group(1) == _ARROW_IO:
            return errors.Unavailable(message, reason=STORAGE_UNAVAILABLE)
        return errors.Internal(f"a dataset file cannot be read: {message}", reason=DATASET_UNREADABLE)
    if kind in _SYNTAX:
        return errors.InvalidArgument(message, reason=SQL_SYNTAX)
    if kind == "catalog":
        missing = _MISSING_TABLE.search(message)
        if missing:
            return _missing_table(missing.group(1), unavailable, scrub)
    if kind in _BIND:
        return errors.InvalidArgument(_SUGGESTION.sub("", message) or message, reason=SQL_BIND)
    if kind in _RUNTIME:
        return errors.InvalidArgument(message, reason=SQL_RUNTIME)
    if kind in _PERMISSION:
        return errors.PermissionDenied(message, reason=SANDBOX_VIOLATION)
    if kind in _MEMORY:
        return errors.ResourceExhausted(message, reason=QUERY_OUT_OF_MEMORY)
    if kind in _STORAGE:
        return errors.Unavailable(message, reason=STORAGE_UNAVAILABLE)
    return errors.Internal(f"query failed: {message}", reason=QUERY_FAILED)


def _missing_table(
    name: str, unavailable: Callable[[str], str | None], scrub: Callable[[str], str]
) -> errors.LakehouseError:
    short = name.rsplit(".", 1)[-1]
    why = unavailable(short.lower())
    if why is not None:
        return errors.Unavailable(
            scrub(f"dataset {short!r} cannot be read: {why}"),
            reason=DATASET_UNAVAILABLE,
            metadata={"dataset": short},
        )
    return errors.NotFound(f"dataset {name!r} does not exist", reason=DATASET_NOT_FOUND, metadata={"dataset": name})
