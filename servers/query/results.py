"""A running query's result: an Arrow batch stream with a deadline, cancel and release.

The stream owns one DuckDB connection (a cursor of the shared database) for its
whole life. The user statement runs in a transaction that is rolled back when the
stream is released, so nothing it might have changed survives. Release happens on
exhaustion, on any error, on ``close()`` / context exit, and — as a last resort —
when the stream object is garbage collected.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Self

import duckdb
import pyarrow as pa

from .. import errors
from .engine_errors import Stop

ErrorMapper = Callable[[BaseException, Stop | None], errors.LakehouseError]


@dataclass
class RowsResult:
    """A capped result for JSON responses: ``columns`` are (name, DuckDB type) pairs."""

    columns: list[tuple[str, str]]
    rows: list[list[Any]]
    truncated: bool


class _Resources:
    """What a stream holds; separate from the stream so a finalizer can release it.

    ``lock`` orders interrupts against release: an interrupt never reaches a closed
    connection, and once released nothing can be interrupted.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.lock = threading.Lock()
        self.con: duckdb.DuckDBPyConnection | None = con
        self.reader: pa.RecordBatchReader | None = None
        self.timer: threading.Timer | None = None
        # Why the core stopped the query (first reason wins), None if it did not.
        self.stop: Stop | None = None

    def interrupt(self, reason: Stop | None = None) -> None:
        """Interrupt the connection's running statement, recording why; a no-op once released."""
        with self.lock:
            if self.con is None:
                return
            if self.stop is None:
                self.stop = reason
            self.con.interrupt()

    def release(self) -> None:
        with self.lock:
            timer, reader, con = self.timer, self.reader, self.con
            self.timer = self.reader = self.con = None
        if timer is not None:
            timer.cancel()
        # Releasing: the result is already decided, so failures to tidy up are moot
        # (e.g. no transaction left to roll back after an engine error).
        if reader is not None:
            with contextlib.suppress(Exception):
                reader.close()
        if con is not None:
            with contextlib.suppress(Exception):
                con.rollback()
            with contextlib.suppress(Exception):
                con.close()


class QueryStream:
    """Iterator of ``pa.RecordBatch`` (``batch_rows`` rows each, the last one shorter) of one query.

    The statement is bound — and syntax, bind and catalog errors raised — when the core
    creates the stream; it starts running on the first access to ``schema`` or the
    first batch, so ``cancel`` can be wired up before the expensive part begins.
    ``cancel()`` and ``close()`` may be called from any thread at any time.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, batch_rows: int, map_error: ErrorMapper) -> None:
        self._resources = _Resources(con)
        self._finalizer = weakref.finalize(self, self._resources.release)
        self._batch_rows = batch_rows
        self._map_error = map_error
        self._relation: Any = None
        self._columns: list[tuple[str, str]] = []
        self._schema: pa.Schema | None = None
        # Reads end for good once the result ended or an error was raised.
        self._ended = False
        # Held while this stream calls into the engine, so release never races a running call.
        self._io = threading.RLock()

    # Set-up (by the core) -----------------------------------------------

    def start_deadline(self, timeout_s: float) -> None:
        # The timer holds the resources, not the stream, so an abandoned stream can still be collected.
        timer = threading.Timer(timeout_s, self._resources.interrupt, args=(Stop.TIMEOUT,))
        timer.daemon = True
        self._resources.timer = timer
        timer.start()

    def bind(self, statement: duckdb.Statement) -> None:
        """Bind the statement (an EXPLAIN ANALYZE runs here); on failure release and raise the mapped error."""
        with self._io:
            con = self._connection()
            try:
                relation = con.sql(statement)
                self._columns = [(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]
            except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
                self._fail(exc)
            self._relation = relation

    # Public API -----------------------------------------------------------

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(name, DuckDB type) per result column, known without running the query."""
        return list(self._columns)

    @property
    def schema(self) -> pa.Schema:
        """The result's Arrow schema (starts the query); still available after the stream ends."""
        with self._io:
            if self._schema is None:
                self._schema = self._reader().schema
            return self._schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        with self._io:
            if self._ended:
                raise StopIteration
            reader = self._reader()
            try:
                return reader.read_next_batch()
            except StopIteration:
                self._ended = True
                self._release()
                raise
            except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
                self._fail(exc)

    def cancel(self) -> None:
        """Stop the query; the consumer's next (or current) read raises ``Cancelled``."""
        self._resources.interrupt(Stop.CANCEL)

    def close(self) -> None:
        """Release the connection, interrupting the query first if another thread is reading.

        A stream closed before its end counts as cancelled: a later read raises
        ``Cancelled`` rather than ending as if the result were complete.
        """
        self._resources.interrupt(Stop.CANCEL)
        with self._io:
            self._release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Internals --------------------------------------------------------------

    def _connection(self) -> duckdb.DuckDBPyConnection:
        con = self._resources.con
        if con is None:
            if self._stop is not None:
                raise self._map_error(duckdb.InterruptException("INTERRUPT Error: Interrupted!"), self._stop)
            raise errors.FailedPrecondition("the query stream is closed", reason="STREAM_CLOSED")
        return con

    def _reader(self) -> pa.RecordBatchReader:
        """The running query's reader, starting the query on first use."""
        if self._resources.reader is not None:
            return self._resources.reader
        self._connection()
        if self._stop is not None:
            self._fail(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
        try:
            reader = self._relation.to_arrow_reader(self._batch_rows)
        except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
            self._fail(exc)
        self._resources.reader = reader
        self._schema = reader.schema
        if self._stop is not None:  # stopped while starting: the engine may have missed it
            self._fail(duckdb.InterruptException("INTERRUPT Error: Interrupted!"))
        return reader

    @property
    def _stop(self) -> Stop | None:
        return self._resources.stop

    def _release(self) -> None:
        self._resources.release()
        self._finalizer.detach()

    def _fail(self, exc: BaseException) -> None:
        """Release and raise the domain error for ``exc``."""
        self._ended = True
        self._release()
        if isinstance(exc, errors.LakehouseError):
            raise exc
        raise self._map_error(exc, self._stop) from None
