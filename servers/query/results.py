"""A running query's result: an Arrow batch stream with a deadline, cancel and release.

The stream owns one DuckDB connection (a cursor of the engine's database) for its
whole life. The user statement runs in a transaction that is rolled back when the
stream is released, so nothing it might have changed survives. Release happens on
exhaustion, on any error, on ``close()`` / context exit, and — as a last resort —
when the stream object is garbage collected.

Every engine call (bind, start, next batch) runs on the stream's own worker thread
while the caller waits, so the caller answers by its deadline even when DuckDB
cannot be interrupted inside one huge function call (``repeat('x', 2000000000)``):
at the deadline the connection is interrupted; if the call has not returned
``stop_grace_s`` later, the caller stops waiting and gets the timeout, and the
connection is released when the call returns ("abandoned").
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any, Protocol, Self

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.api.query import STREAM_CLOSED
from lakehouse.servers.query.engine_errors import Stop

ErrorMapper = Callable[[BaseException, Stop | None], errors.LakehouseError]
_INTERRUPTED = "INTERRUPT Error: Interrupted!"
ENGINE_CALL_THREADS = "lakehouse-query-call"


class Abandoned(Protocol):
    """Counts engine calls that outlive their query (see module doc)."""

    def add(self, delta: int) -> None: ...


class Resources:
    """What a stream holds; separate from the stream so a finalizer can release it.

    ``lock`` orders interrupts against release: an interrupt never reaches a closed
    connection, and once released nothing can be interrupted.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, on_release: Callable[[Resources], None] | None = None) -> None:
        self.lock = threading.Lock()
        self.con: duckdb.DuckDBPyConnection | None = con
        self.relation: Any = None
        self.reader: pa.RecordBatchReader | None = None
        # The first batch, read when the query starts, and whether the result ended there.
        self.first: pa.RecordBatch | None = None
        self.exhausted = False
        self.timer: threading.Timer | None = None
        # Why the query was stopped (first reason wins) and when, None if it was not.
        self.stop: Stop | None = None
        self.stopped_at: float | None = None
        # Set on interrupt, so a caller waiting for an engine call looks again.
        self.wake = threading.Event()
        self._on_release = on_release

    def interrupt(self, reason: Stop | None = None) -> None:
        """Interrupt the connection's running statement, recording why; a no-op once released."""
        with self.lock:
            if self.con is None:
                return
            if self.stop is None and reason is not None:
                self.stop = reason
                self.stopped_at = time.monotonic()
            self.con.interrupt()
        self.wake.set()

    def release(self) -> None:
        with self.lock:
            timer, reader, con = self.timer, self.reader, self.con
            self.timer = self.reader = self.con = self.relation = self.first = None
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
            if self._on_release is not None:
                self._on_release(self)


class _Worker:
    """Runs one stream's engine calls, one at a time, on a shared pool of reusable
    threads (``calls``), so a query pays a hand-off per call, not a thread start.

    The caller waits for each call before the next (or gives up on it), so calls of one
    stream never overlap. ``release_when_idle`` closes it: no call starts afterwards,
    and the release runs at once, or when the call in progress returns.
    """

    def __init__(self, calls: Executor) -> None:
        self._pool = calls
        self._state = threading.Lock()
        self._running = False
        self._closed = False
        self._finish: Callable[[], None] | None = None

    def submit(self, fn: Callable[[], Any]) -> Future:
        with self._state:
            if self._closed:
                future: Future = Future()
                future.set_exception(_closed())
                return future
        return self._pool.submit(self._run, fn)

    def release_when_idle(self, release: Callable[[], None]) -> None:
        with self._state:
            self._closed = True
            if self._running:
                previous = self._finish
                self._finish = release if previous is None else _chain(previous, release)
                return
        release()

    def _run(self, fn: Callable[[], Any]) -> Any:
        with self._state:
            if self._closed:
                raise _closed()
            self._running = True
        try:
            return fn()
        finally:
            del fn  # it may hold the stream
            with self._state:
                self._running = False
                finish, self._finish = self._finish, None
            if finish is not None:
                finish()


def _closed() -> errors.FailedPrecondition:
    return errors.FailedPrecondition("the query stream is closed", reason=STREAM_CLOSED)


def _chain(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    def both() -> None:
        first()
        second()

    return both


# Engine calls: module functions of the resources alone, never of the stream, so a
# call in flight does not keep an abandoned stream alive.


def _bind(resources: Resources, statement: duckdb.Statement) -> list[tuple[str, str]]:
    con = _live(resources)
    relation = con.sql(statement)
    resources.relation = relation
    return [(n, str(t)) for n, t in zip(relation.columns, relation.types, strict=True)]


def _start(resources: Resources, batch_rows: int) -> pa.Schema:
    """Start the query and read its first batch in the same call (one hand-over less)."""
    _live(resources)
    reader = resources.relation.to_arrow_reader(batch_rows)
    resources.reader = reader
    try:
        resources.first = reader.read_next_batch()
    except StopIteration:
        resources.first = None
        resources.exhausted = True
    return reader.schema


def _next_batch(resources: Resources) -> pa.RecordBatch:
    _live(resources)
    reader = resources.reader
    if reader is None:
        raise duckdb.InterruptException(_INTERRUPTED)
    return reader.read_next_batch()


def _live(resources: Resources) -> duckdb.DuckDBPyConnection:
    con = resources.con
    if con is None or resources.stop is not None:
        raise duckdb.InterruptException(_INTERRUPTED)
    return con


class QueryStream:
    """Iterator of ``pa.RecordBatch`` (``batch_rows`` rows each, the last one shorter) of one query.

    The statement is bound — and syntax, bind and catalog errors raised — when the core
    creates the stream; it starts running on the first access to ``schema`` or the
    first batch, so ``cancel`` can be wired up before the expensive part begins.
    ``cancel()`` and ``close()`` may be called from any thread at any time.
    """

    def __init__(
        self,
        resources: Resources,
        batch_rows: int,
        map_error: ErrorMapper,
        *,
        stop_grace_s: float,
        abandoned: Abandoned,
        calls: Executor,
        scrub_prefixes: Sequence[str] = (),
    ) -> None:
        self._resources = resources
        self._worker = _Worker(calls)
        self._finalizer = weakref.finalize(self, self._worker.release_when_idle, resources.release)
        self._batch_rows = batch_rows
        self._map_error = map_error
        self._grace = stop_grace_s
        self._abandoned = abandoned
        self._scrub = tuple(p for p in scrub_prefixes if p)
        self._deadline: float | None = None
        self._columns: list[tuple[str, str]] = []
        self._schema: pa.Schema | None = None
        self._started = False
        # Reads end for good once the result ended or an error was raised.
        self._ended = False
        self._io = threading.RLock()
        self._on_close: list[Callable[[], None]] = []

    # Set-up (by the core) -----------------------------------------------

    def start_deadline(self, timeout_s: float) -> None:
        self._deadline = time.monotonic() + timeout_s
        # The timer holds the resources, not the stream, so an abandoned stream can still be collected.
        timer = threading.Timer(timeout_s, self._resources.interrupt, args=(Stop.TIMEOUT,))
        timer.daemon = True
        self._resources.timer = timer
        timer.start()

    def bind(self, statement: duckdb.Statement) -> None:
        """Bind the statement (an EXPLAIN ANALYZE runs here); on failure release and raise the mapped error."""
        with self._io:
            self._columns = self._call(_bind, statement)

    # Public API -----------------------------------------------------------

    @property
    def columns(self) -> list[tuple[str, str]]:
        """(name, DuckDB type) per result column, known without running the query."""
        return list(self._columns)

    @property
    def schema(self) -> pa.Schema:
        """The result's Arrow schema (starts the query); still available after the stream ends."""
        with self._io:
            self._begin()
            assert self._schema is not None
            return self._schema

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        with self._io:
            if self._ended:
                raise StopIteration
            self._begin()
            resources = self._resources
            if resources.stop is not None and (resources.first is not None or resources.exhausted):
                self._fail(duckdb.InterruptException(_INTERRUPTED))
            try:
                if resources.first is not None:  # read when the query started: no engine call
                    batch, resources.first = resources.first, None
                elif resources.exhausted:
                    raise StopIteration
                else:
                    batch = self._call(_next_batch)
            except StopIteration:
                self._ended = True
                self._release()
                raise
            return scrub_batch(batch, self._scrub) if self._scrub else batch

    def cancel(self) -> None:
        """Stop the query; the consumer's next (or current) read raises ``Cancelled``."""
        self._resources.interrupt(Stop.CANCEL)

    def close(self) -> None:
        """Release the connection, interrupting the query first if it is running.

        A stream closed before its end counts as cancelled: a later read raises
        ``Cancelled`` rather than ending as if the result were complete.
        """
        if not self._ended:
            self._resources.interrupt(Stop.CANCEL)
        self._release()
        while self._on_close:
            self._on_close.pop()()

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once, when the stream is closed (e.g. forget its query id)."""
        self._on_close.append(callback)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # Internals --------------------------------------------------------------

    def _begin(self) -> None:
        """Start the query on first use."""
        if self._started:
            if self._schema is None:
                raise errors.FailedPrecondition("the query stream is closed", reason=STREAM_CLOSED)
            return
        self._started = True
        self._schema = self._call(_start, self._batch_rows)

    def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run an engine call on the worker and wait for it, at most until the deadline
        (or the stop) plus the grace; every failure releases and raises a domain error."""
        resources = self._resources
        if resources.con is None or (self._ended and fn is not _bind):
            if resources.stop is None:
                raise errors.FailedPrecondition("the query stream is closed", reason=STREAM_CLOSED)
            self._fail(duckdb.InterruptException(_INTERRUPTED))
        future = self._worker.submit(lambda: fn(resources, *args))
        future.add_done_callback(lambda _: resources.wake.set())
        while not future.done():
            remaining = self._give_up_at() - time.monotonic()
            if remaining <= 0:
                self._abandon(future)
            resources.wake.wait(None if remaining == float("inf") else remaining)
            resources.wake.clear()
        try:
            return future.result()
        except StopIteration:
            raise
        except Exception as exc:  # noqa: BLE001 - every engine failure is mapped, none leaks
            self._fail(exc)

    def _give_up_at(self) -> float:
        stopped = self._resources.stopped_at
        limits = [t for t in (self._deadline, stopped) if t is not None]
        return min(limits) + self._grace if limits else float("inf")

    def _abandon(self, future: Future) -> None:
        """Stop waiting for a call the engine did not give back in time: it releases the
        connection when it returns; its error, if any, still reaches the mapper (a fatal
        one makes the core rebuild the engine)."""
        self._ended = True
        stop = self._resources.stop or Stop.TIMEOUT
        self._abandoned.add(1)
        mapper = self._map_error

        def settled(done: Future) -> None:
            exc = done.exception()
            if exc is not None and not isinstance(exc, StopIteration):
                mapper(exc, stop)

        future.add_done_callback(settled)
        resources, abandoned = self._resources, self._abandoned

        def release() -> None:
            resources.release()
            abandoned.add(-1)

        self._worker.release_when_idle(release)
        self._finalizer.detach()
        raise self._map_error(duckdb.InterruptException(_INTERRUPTED), stop) from None

    def _release(self) -> None:
        if self._finalizer.detach() is not None:
            self._worker.release_when_idle(self._resources.release)

    def _fail(self, exc: BaseException) -> None:
        """Release and raise the domain error for ``exc``."""
        self._ended = True
        self._release()
        if isinstance(exc, errors.LakehouseError):
            raise exc
        raise self._map_error(exc, self._resources.stop) from None


def scrub_batch(batch: pa.RecordBatch, prefixes: Sequence[str]) -> pa.RecordBatch:
    """``batch`` with the server path ``prefixes`` removed from every string value (nested too)."""
    columns = [_scrub_array(column, prefixes) for column in batch.columns]
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema)


def _scrub_array(array: pa.Array, prefixes: Sequence[str]) -> pa.Array:
    t = array.type
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        for prefix in prefixes:
            array = pc.replace_substring(array, prefix, "")
        return array
    if pa.types.is_dictionary(t):
        return pa.DictionaryArray.from_arrays(array.indices, _scrub_array(array.dictionary, prefixes))
    if pa.types.is_struct(t):
        fields = [_scrub_array(array.field(i), prefixes) for i in range(t.num_fields)]
        return pa.StructArray.from_arrays(fields, fields=list(t), mask=array.is_null() if array.null_count else None)
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        flat = array.flatten() if not pa.types.is_map(t) else None
        if flat is None:
            return array  # maps of file names do not occur in DuckDB's file functions
        offsets = array.offsets
        start = offsets[0].as_py()
        values = _scrub_array(flat, prefixes)
        shifted = pc.subtract(offsets, start) if start else offsets
        cls = pa.LargeListArray if pa.types.is_large_list(t) else pa.ListArray
        return cls.from_arrays(shifted, values, mask=array.is_null() if array.null_count else None)
    return array
