"""Documents parsed in parallel: extraction is CPU-bound pure Python, so an archive's
members go to worker processes (``documents.workers``; 1: this process), at most
``documents.in_flight_per_worker`` each at a time, and come back in archive order.

Workers are spawned, not forked (the server is multi-threaded), once per ingest core,
and live until it closes. A worker that dies (out of memory, killed) fails that ingest
(INTERNAL, nothing committed) and the pool is rebuilt for the next one.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from lakehouse.api import errors
from lakehouse.api.ingest import INGEST_FAILED
from lakehouse.servers.ingest.documents.archive import Member
from lakehouse.servers.ingest.documents.parse import Parsed, parse_document
from lakehouse.servers.settings import DocumentSettings, VocabularySettings

# Workers when documents.workers is 0: one per CPU, at most this many.
MAX_AUTO_WORKERS = 4


class DocumentParser:
    def __init__(self, limits: DocumentSettings, vocabulary: VocabularySettings) -> None:
        self._limits = limits
        self._vocabulary_json = vocabulary.model_dump_json()
        self._workers = limits.workers or min(os.cpu_count() or 1, MAX_AUTO_WORKERS)
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def parse_one(self, member: Member) -> Parsed:
        """In this process (a single upload gains nothing from a worker)."""
        assert member.path is not None
        return parse_document(member.path, member.name, self._limits, self._vocabulary_json)

    def parse_all(self, members: Iterable[Member]) -> Iterator[tuple[Member, Parsed | None]]:
        """(member, parsed) in order; parsed is None for a member rejected while unpacking.
        Each member's spool file is released once parsed."""
        if self._workers <= 1:
            for member in members:
                try:
                    yield member, (self.parse_one(member) if member.rejection is None else None)
                finally:
                    member.release()
            return
        pool = self._executor()
        window = self._workers * self._limits.in_flight_per_worker
        pending: deque[tuple[Member, Future | None]] = deque()
        try:
            for member in members:
                future = None
                if member.rejection is None:
                    assert member.path is not None
                    future = pool.submit(parse_document, member.path, member.name, self._limits, self._vocabulary_json)
                pending.append((member, future))
                if len(pending) >= window:
                    yield self._next(pending)
            while pending:
                yield self._next(pending)
        finally:
            for member, future in pending:
                if future is not None:
                    future.cancel()
                member.release()

    def _next(self, pending: deque) -> tuple[Member, Parsed | None]:
        member, future = pending.popleft()
        try:
            return member, (future.result() if future is not None else None)
        except BrokenProcessPool as exc:
            self._discard()
            raise errors.Internal(
                "a document worker process died (out of memory?); nothing was committed", reason=INGEST_FAILED
            ) from exc
        finally:
            member.release()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"))
            return self._pool

    def _discard(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._discard()
