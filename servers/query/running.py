"""Queries in flight by caller-given id, so a cancel from another call can reach them."""

from __future__ import annotations

import threading
from typing import Protocol

from lakehouse.api.errors import AlreadyExists, NotFound
from lakehouse.api.query import QUERY_ID_IN_USE, QUERY_NOT_FOUND


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class RunningQueries:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Cancellable] = {}

    def add(self, query_id: str, stream: Cancellable) -> None:
        if not query_id:
            return
        with self._lock:
            if query_id in self._by_id:
                raise AlreadyExists(f"query {query_id!r} is already running", reason=QUERY_ID_IN_USE)
            self._by_id[query_id] = stream

    def remove(self, query_id: str, stream: Cancellable) -> None:
        with self._lock:
            if self._by_id.get(query_id) is stream:
                del self._by_id[query_id]

    def cancel(self, query_id: str) -> None:
        with self._lock:
            stream = self._by_id.get(query_id)
        if stream is None:
            raise NotFound(f"no running query {query_id!r}", reason=QUERY_NOT_FOUND, metadata={"query_id": query_id})
        stream.cancel()
