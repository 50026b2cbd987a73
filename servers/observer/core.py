"""ObserverService's reads: recorded ops (ListOps), a live tail (TailOps) and statistics
(GetStats), over this process's recorder and the journal (no gRPC here).

What each read sees:

* ListOps: the ring of the answering process (its newest ops, at once), merged with the
  journal read through the query engine (``_ops``: older ops, earlier runs, and the ops of
  every other process once they flushed), deduplicated by id, newest first. The journal is
  skipped when the ring alone answers and this process is the only writer (it hosts every
  component). A journal that cannot be read leaves the answer ``partial``, never failed.
* TailOps and GetStats: the ring of the answering process, which in the embedded default
  (one process) is every op. In a cluster they cover the process hosting the observer
  (matrix) and the calls it makes in-process; the journal (``_ops``) has everyone's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from lakehouse.api import errors
from lakehouse.api.observer import (
    CODES,
    INVALID_LIMIT,
    INVALID_SOURCE,
    INVALID_STATUS,
    INVALID_WINDOW,
    OK,
    SOURCES,
    STATUS_ERROR,
    TOO_MANY_TAILS,
    ObservedOp,
    OpsFilter,
    OpsPage,
    OpStats,
)
from lakehouse.servers.observer import journal
from lakehouse.servers.observer.recorder import RingRecorder
from lakehouse.servers.observer.stats import method_stats
from lakehouse.servers.settings import ObserverSettings
from lakehouse.servers.sql import string_literal

log = logging.getLogger("lakehouse.observer")

_NS = 1_000_000_000
_WHOLE = 2  # a ring entry holding a whole ObservedOp (see recorder)


def _ns(value: datetime) -> int:
    return int(value.timestamp() * _NS)


def _fields(entry: tuple) -> tuple[int, str, str, str, str, float, str]:
    """(start ns, service, method, source, code, latency ms, run id) of a ring entry,
    without building its op."""
    if len(entry) == _WHOLE:
        op: ObservedOp = entry[1]
        return _ns(op.time), op.service, op.method, op.source, op.code, op.latency_ms, op.run_id
    return entry[1], entry[2], entry[3], entry[4], entry[5], entry[7], ""


def _service_matches(wanted: str) -> Callable[[str], bool]:
    if not wanted:
        return lambda service: True
    suffix = "." + wanted
    return lambda service: service == wanted or service.endswith(suffix)


class ObserverCore:
    """``query``: the query API the journal is read through (resolved on first use; None:
    the ring only). ``sole_writer``: no other process writes this journal."""

    def __init__(
        self,
        recorder: RingRecorder,
        settings: ObserverSettings,
        query: Callable[[], Any] | None = None,
        *,
        sole_writer: bool = False,
        clock_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._recorder = recorder
        self._settings = settings
        self._query = query
        self._sole_writer = sole_writer
        self._clock_ns = clock_ns
        self._tails_lock = threading.Lock()

    # Validation -----------------------------------------------------------------------

    @staticmethod
    def _checked(where: OpsFilter) -> OpsFilter:
        if where.source and where.source not in SOURCES:
            raise errors.invalid_field("source", f"must be one of {', '.join(SOURCES)}", INVALID_SOURCE)
        status = where.status
        if status:
            if status.lower() == STATUS_ERROR:
                status = STATUS_ERROR
            elif status.upper() in CODES:
                status = status.upper()
            else:
                raise errors.invalid_field(
                    "status", f'must be "{STATUS_ERROR}" or a status code name (OK, NOT_FOUND ...)', INVALID_STATUS
                )
        if status == where.status:
            return where
        return OpsFilter(where.service, where.method, where.source, status, where.since, where.run_id)

    def _limit(self, limit: int) -> int:
        if limit < 0:
            raise errors.invalid_field("limit", "must not be negative", INVALID_LIMIT)
        return min(limit or self._settings.list_default, self._settings.list_max)

    @staticmethod
    def _matcher(where: OpsFilter) -> Callable[[tuple], bool]:
        service_ok = _service_matches(where.service)
        since_ns = _ns(where.since) if where.since is not None else None
        method, source, status, run_id = where.method, where.source, where.status, where.run_id

        def matches(entry: tuple) -> bool:
            start, service, m, s, code, _latency, run = _fields(entry)
            if since_ns is not None and start < since_ns:
                return False
            if method and m != method or source and s != source or run_id and run != run_id:
                return False
            if status == STATUS_ERROR:
                if code == OK:
                    return False
            elif status and code != status:
                return False
            return service_ok(service)

        return matches

    # ListOps ----------------------------------------------------------------------------

    def list_ops(self, where: OpsFilter, limit: int = 0) -> OpsPage:
        where = self._checked(where)
        limit = self._limit(limit)
        matches = self._matcher(where)
        recorder = self._recorder
        found: list[ObservedOp] = []
        for entry in reversed(recorder.entries()):
            if matches(entry):
                found.append(recorder.op(entry))
                if len(found) == limit:
                    break
        if not self._settings.read_journal or self._query is None:
            return OpsPage(tuple(self._newest(found, limit)))
        if len(found) == limit and self._sole_writer:
            return OpsPage(tuple(self._newest(found, limit)))
        try:
            older = self._journal(where, limit)
        except Exception as exc:  # noqa: BLE001 - the ring still answers; the page says it is partial
            log.warning("observer: the journal could not be read: %s", exc)
            return OpsPage(tuple(self._newest(found, limit)), partial=True)
        seen = {op.id for op in found}
        found.extend(op for op in older if op.id not in seen)
        return OpsPage(tuple(self._newest(found, limit)))

    @staticmethod
    def _newest(ops: list[ObservedOp], limit: int) -> list[ObservedOp]:
        return sorted(ops, key=lambda op: op.time, reverse=True)[:limit]

    def _journal(self, where: OpsFilter, limit: int) -> list[ObservedOp]:
        reader = self._query().stream(journal_sql(where, limit), timeout_s=self._settings.journal_read_timeout_s)
        return journal.from_table(reader.read_all())

    # TailOps ------------------------------------------------------------------------------

    def tail_ops(
        self,
        where: OpsFilter,
        active: Callable[[], bool] = lambda: True,
        on_wake: Callable[[Callable[[], None]], Any] | None = None,
    ) -> Iterator[ObservedOp]:
        """New ops matching ``where`` as they are recorded, until ``active()`` turns false,
        the iterator is closed, or the recorder closes. ``on_wake`` receives a function
        that wakes the tail (e.g. to register with the call's termination callbacks)."""
        where = self._checked(where)
        return self._follow(where, active, on_wake)

    def _follow(self, where: OpsFilter, active, on_wake) -> Iterator[ObservedOp]:
        recorder = self._recorder
        with self._tails_lock:  # the count is the recorder's subscribers: nothing to leak
            if recorder.tails >= self._settings.max_tails:
                raise errors.ResourceExhausted(
                    f"{recorder.tails} tails already follow this process, the most observer.max_tails allows",
                    reason=TOO_MANY_TAILS,
                    metadata={"limit": str(self._settings.max_tails), "setting": "observer.max_tails"},
                )
            tail = recorder.subscribe()
        try:
            if on_wake is not None:
                on_wake(tail.wake)
            matches = self._matcher(where)
            heartbeat = self._settings.tail_heartbeat_s
            while active() and not tail.closed and not recorder.closed:
                tail.wait(heartbeat)
                queue = tail.queue
                while queue:
                    entry = queue.popleft()
                    if matches(entry):
                        yield recorder.op(entry)
        finally:
            recorder.unsubscribe(tail)

    # GetStats ------------------------------------------------------------------------------

    def stats(self, window_s: int = 0, service: str = "", source: str = "") -> OpStats:
        if window_s < 0:
            raise errors.invalid_field("window_s", "must not be negative", INVALID_WINDOW)
        if source and source not in SOURCES:
            raise errors.invalid_field("source", f"must be one of {', '.join(SOURCES)}", INVALID_SOURCE)
        window = min(window_s or self._settings.stats_window_s, self._settings.stats_max_window_s)
        cutoff = self._clock_ns() - window * _NS
        service_ok = _service_matches(service)
        rows = []
        for entry in self._recorder.entries():
            start, svc, method, src, code, latency, _run = _fields(entry)
            if start >= cutoff and (not source or src == source) and service_ok(svc):
                rows.append((svc, method, src, code, latency))
        r = self._recorder
        return OpStats(
            methods=method_stats(rows),
            window_s=window,
            recorded=r.recorded,
            journal_failures=r.journal_failures,
            pending=r.pending,
            journaled=r.journaled,
            dropped=r.dropped,
        )


def journal_sql(where: OpsFilter, limit: int) -> str:
    """The query of ``_ops`` for ListOps (``where`` already checked)."""
    conds = []
    if where.service:
        conds.append(
            f"(service = {string_literal(where.service)} OR ends_with(service, {string_literal('.' + where.service)}))"
        )
    if where.method:
        conds.append(f"method = {string_literal(where.method)}")
    if where.source:
        conds.append(f"source = {string_literal(where.source)}")
    if where.status == STATUS_ERROR:
        conds.append(f"code <> {string_literal(OK)}")
    elif where.status:
        conds.append(f"code = {string_literal(where.status)}")
    if where.since is not None:
        since = where.since.astimezone(UTC)
        # The date directory first: whole days before it are never opened.
        conds.append(f"{journal.DATE_COLUMN} >= {string_literal(since.strftime(journal.DATE_FORMAT))}")
        conds.append(f"time >= CAST({string_literal(since.isoformat())} AS TIMESTAMPTZ)")
    if where.run_id:
        conds.append(f"run_id = {string_literal(where.run_id)}")
    where_sql = " AND ".join(conds) or "true"
    return (
        f"SELECT * EXCLUDE ({journal.DATE_COLUMN}) FROM {journal.OPS_DATASET} "
        f"WHERE {where_sql} ORDER BY time DESC LIMIT {int(limit)}"
    )
