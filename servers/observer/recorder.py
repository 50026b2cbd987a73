"""The recorder of one process: an in-memory ring of recent ops and a batched journal.

The RPC path does no I/O and takes no lock: ``record_call`` (the interceptor's) appends
one tuple to two deques (CPython's ``deque.append`` is atomic), and the op is built from
the tuple only when someone reads it. Everything else happens on the flush thread:

* every ``observer.flush_interval_s`` (sooner once ``flush_max_ops`` ops wait) it takes
  the pending ops, writes them to the lake as one Parquet file per UTC date
  (``_journal/<date>/<time>-<recorder>-<n>.parquet``, servers/observer/journal.py) through
  the lake's ObjectStore, and counts them;
* a write that fails is counted (``journal_failures``) and its ops go to the error journal
  (``_errors/``, or the local rescue bucket when the lake is what fails) as one record
  holding them as JSON: never retried into the journal, never dropped;
* ``close`` (a clean stop: LakehouseServer.stop -> Runtime.close, after the server has
  drained) flushes everything left. A crash loses what was recorded since the last flush:
  at most ``flush_interval_s`` of ops, plus the write in flight.
* at start and every ``journal_prune_interval_s`` it deletes the journal's dates older
  than ``journal_retention_days`` (servers/observer/retention.py).

Pending ops are bounded by the ring size: if the journal falls that far behind (the lake
hangs longer than a ring's worth of calls), the oldest pending ops are dropped and counted
(``dropped``) rather than growing memory without end.

Tails (TailOps) each get a queue of their own that ``record`` appends to, and a wake-up
that never waits: if the tail is busy at that instant the wake-up is skipped and the tail
sees the op at its next heartbeat (``observer.tail_heartbeat_s``) at the latest.
"""

from __future__ import annotations

import collections
import itertools
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from lakehouse.api.observer import ObservedOp
from lakehouse.servers.observer import journal, retention
from lakehouse.servers.settings import ObserverSettings

log = logging.getLogger("lakehouse.observer")

# The error journal's operation name for a batch the journal refused.
JOURNAL_WRITE = "observer.journal"
RECORDER_ID_BYTES = 4
_NS = 1_000_000_000

# A ring entry: (seq, op) for an op handed over whole, or the raw fields of an RPC:
# (seq, start_ns, service, method, source, code, reason, latency_ms, request_bytes,
#  response_bytes, attributes, trace_id, span_id)
_WHOLE = 2
Entry = tuple


class Tail:
    """One follower of new ops: a bounded queue the recorder fills, and a wake-up."""

    def __init__(self, capacity: int) -> None:
        self.queue: collections.deque[Entry] = collections.deque(maxlen=capacity)
        self._cond = threading.Condition()
        self.closed = False

    def push(self, entry: Entry) -> None:
        self.queue.append(entry)
        self.wake()

    def wake(self) -> None:
        """Never waits: a tail holding its lock right now finds the entry at its next look."""
        if self._cond.acquire(blocking=False):
            try:
                self._cond.notify()
            finally:
                self._cond.release()

    def wait(self, timeout_s: float) -> None:
        with self._cond:
            if not self.queue and not self.closed:
                self._cond.wait(timeout_s)


class RingRecorder:
    """Records ops (``record``: the Recorder protocol; ``record_call``: the interceptor's
    fast path), keeps the newest ``ring_size`` for reading, and journals them all."""

    def __init__(
        self,
        lake: Any,  # ObjectStore of the lake bucket
        errors: Any,  # ErrorJournal
        settings: ObserverSettings,
        *,
        clock: Callable[[], datetime] | None = None,
        start: bool = True,
    ) -> None:
        self._lake = lake
        self._errors = errors
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))
        self.id = secrets.token_hex(RECORDER_ID_BYTES)
        self._seq = itertools.count(1)
        # Wall clock minus the monotonic clock: the interceptor times calls with the latter.
        self.wall_offset_ns = time.time_ns() - time.perf_counter_ns()
        self._last_seq = 0
        self._ring: collections.deque[Entry] = collections.deque(maxlen=settings.ring_size)
        self._pending: collections.deque[Entry] = collections.deque(maxlen=settings.ring_size)
        self._pending_cap = settings.ring_size
        self._flush_max = settings.flush_max_ops
        self._tails: tuple[Tail, ...] = ()
        self._tails_lock = threading.Lock()  # subscribe/unsubscribe only, never on record
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._batch = 0
        self.journaled = 0
        self.journal_failures = 0
        self.pruned = 0
        self.dropped = 0
        self.record_failures = 0
        self._journaling = settings.journal
        self._thread: threading.Thread | None = None
        if start and self._journaling:
            self._thread = threading.Thread(target=self._run, name="lakehouse-observer-flush", daemon=True)
            self._thread.start()

    # Recording (never raises, never waits) -----------------------------------------

    def record(self, op: ObservedOp) -> None:
        try:
            self._add((next(self._seq), op))
        except Exception:  # noqa: BLE001 - recording must not fail what it records
            self.record_failures += 1

    def record_call(
        self,
        start_ns: int,
        service: str,
        method: str,
        source: str,
        code: str,
        reason: str,
        latency_ms: float,
        request_bytes: int,
        response_bytes: int,
        attributes: Mapping[str, str] | None,
        trace_id: str = "",
        span_id: str = "",
        profile: str = "",
    ) -> None:
        try:
            seq = next(self._seq)
            entry = (seq, start_ns, service, method, source, code, reason, latency_ms, request_bytes,
                     response_bytes, attributes, trace_id, span_id, profile)  # fmt: skip
            # _add, inlined: this is every call's path.
            self._last_seq = seq
            self._ring.append(entry)
            if self._journaling:
                pending = self._pending
                if len(pending) >= self._pending_cap:
                    self.dropped += 1
                pending.append(entry)
                if len(pending) >= self._flush_max and not self._wake.is_set():
                    self._wake.set()
            if self._tails:
                for tail in self._tails:
                    tail.push(entry)
        except Exception:  # noqa: BLE001 - recording must not fail what it records
            self.record_failures += 1

    def _add(self, entry: Entry) -> None:
        self._last_seq = entry[0]
        self._ring.append(entry)
        if self._journaling:
            pending = self._pending
            if len(pending) >= self._pending_cap:
                self.dropped += 1  # the deque drops the oldest on append
            pending.append(entry)
            if len(pending) >= self._flush_max and not self._wake.is_set():
                self._wake.set()
        for tail in self._tails:
            tail.push(entry)

    # Reading ------------------------------------------------------------------------

    def entries(self) -> list[Entry]:
        """The ring, oldest first (a copy: ``list(deque)`` runs without releasing the GIL)."""
        return list(self._ring)

    def op(self, entry: Entry) -> ObservedOp:
        """The op of a ring entry (built here, on the reader's time)."""
        if len(entry) == _WHOLE:
            op = entry[1]
            return op if op.id else replace(op, id=self._op_id(entry[0]))
        seq, start_ns, service, method, source, code, reason, latency, req, resp, attrs, trace_id, span_id, who = entry
        return ObservedOp(
            id=self._op_id(seq),
            time=datetime.fromtimestamp(start_ns / _NS, UTC),
            service=service,
            method=method,
            source=source,
            profile=who,
            code=code,
            reason=reason,
            latency_ms=latency,
            request_bytes=req,
            response_bytes=resp,
            attributes=attrs or {},
            trace_id=trace_id,
            span_id=span_id,
        )

    def _op_id(self, seq: int) -> str:
        return f"{self.id}-{seq:x}"

    @property
    def recorded(self) -> int:
        return self._last_seq

    @property
    def pending(self) -> int:
        return len(self._pending)

    def subscribe(self) -> Tail:
        tail = Tail(self._settings.ring_size)
        with self._tails_lock:
            self._tails = (*self._tails, tail)
        return tail

    def unsubscribe(self, tail: Tail) -> None:
        with self._tails_lock:
            self._tails = tuple(t for t in self._tails if t is not tail)
        tail.closed = True
        tail.wake()

    @property
    def tails(self) -> int:
        return len(self._tails)

    @property
    def closed(self) -> bool:
        return self._closed

    # Journal --------------------------------------------------------------------------

    def _run(self) -> None:
        interval = self._settings.flush_interval_s
        next_prune = time.monotonic()
        while not self._closed:
            if time.monotonic() >= next_prune:
                self.prune()
                next_prune = time.monotonic() + self._settings.journal_prune_interval_s
            self._wake.wait(interval)
            self._wake.clear()
            self.wall_offset_ns = time.time_ns() - time.perf_counter_ns()
            if self._closed:
                break
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - the thread must keep flushing
                log.exception("observer: flush failed")

    def prune(self) -> int:
        """Delete the journal's dates older than the retention (servers/observer/retention.py);
        returns the files deleted. Never raises: what is left is retried next time."""
        try:
            deleted, left = retention.prune_journal(self._lake, self._clock(), self._settings.journal_retention_days)
        except Exception:  # noqa: BLE001 - pruning must not stop the flush thread
            log.exception("observer: journal pruning failed")
            return 0
        self.pruned += deleted
        if left:
            log.warning("observer: %d expired journal files could not be deleted; retried later", len(left))
        return deleted

    def flush(self) -> int:
        """Write every pending op now; returns how many were taken (journaled or sent to
        the error journal)."""
        with self._flush_lock:
            taken: list[Entry] = []
            pending = self._pending
            while pending:
                try:
                    taken.append(pending.popleft())
                except IndexError:
                    break
            if not taken:
                return 0
            ops = [self.op(e) for e in taken]
            flushed = self._clock()
            for date, group in journal.by_date(ops).items():
                self._batch += 1
                key = journal.file_key(date, flushed, self.id, self._batch)
                try:
                    self._lake.put(key, [journal.encode(group)], journal.CONTENT_TYPE)
                    self.journaled += len(group)
                except Exception as exc:  # noqa: BLE001 - any failure: counted, kept in _errors/
                    self.journal_failures += 1
                    self._keep(key, group, exc)
            return len(taken)

    def _keep(self, key: str, ops: list[ObservedOp], error: BaseException) -> None:
        log.warning("observer: journal write %s failed (%s); %d ops go to the error journal", key, error, len(ops))
        try:
            self._errors.record(JOURNAL_WRITE, error, {"key": key, "count": str(len(ops)), "ops": journal.to_json(ops)})
        except Exception:  # noqa: BLE001 - the error journal never raises; this is belt and braces
            log.exception("observer: the error journal refused %d ops", len(ops))

    def close(self, timeout_s: float | None = None) -> None:
        """Stop the flush thread and flush what is left (a clean stop loses nothing)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self._journaling:
            try:
                self.flush()
            except Exception:  # noqa: BLE001
                log.exception("observer: the final flush failed")
        self.end_tails()

    def end_tails(self) -> None:
        """End every tail (a stopping server); recording goes on."""
        for tail in self._tails:
            tail.closed = True
            tail.wake()
