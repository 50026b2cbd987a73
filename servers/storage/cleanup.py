"""Best-effort removal of objects that are no longer referenced.

Used after a catalog change made objects unreachable: a failure here leaves a
collectable orphan, never a broken dataset, so it is journaled, not raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lakehouse.servers.errors import NotFound
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.model import ObjectStore


def delete_quietly(
    store: ObjectStore, journal: ErrorJournal, operation: str, keys: Iterable[str], context: Mapping[str, str]
) -> int:
    """Delete ``keys``; return how many were removed. Failures are journaled."""
    removed = 0
    for key in keys:
        try:
            store.delete(key)
            removed += 1
        except NotFound:
            pass
        except Exception as exc:  # noqa: BLE001 - an orphan is recorded, not fatal
            journal.record(operation, exc, {**context, "key": key, "note": "orphan left on storage"})
    return removed
