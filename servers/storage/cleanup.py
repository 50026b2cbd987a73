"""Best-effort removal of objects that are no longer (or never were) referenced.

Used after a catalog change made objects unreachable, or when a write attempt
fails: a failure here leaves a collectable orphan, never a broken dataset, so it
is reported, not raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lakehouse.api.errors import NotFound
from lakehouse.servers.storage.journal import ErrorJournal
from lakehouse.servers.storage.model import ObjectStore


def delete_keys(store: ObjectStore, keys: Iterable[str]) -> list[str]:
    """Delete ``keys``; return those that could not be removed (orphans to report)."""
    left: list[str] = []
    for key in keys:
        try:
            store.delete(key)
        except NotFound:
            pass
        except Exception:  # noqa: BLE001 - an orphan is reported by the caller, not fatal
            left.append(key)
    return left


def delete_quietly(
    store: ObjectStore, journal: ErrorJournal, operation: str, keys: Iterable[str], context: Mapping[str, str]
) -> list[str]:
    """``delete_keys``, journaling each orphan left behind."""
    left = delete_keys(store, keys)
    for key in left:
        journal.record(
            operation,
            RuntimeError(f"could not delete {key}"),
            {**context, "key": key, "note": "orphan left on storage"},
        )
    return left
