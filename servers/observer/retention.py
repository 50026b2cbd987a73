"""Journal retention: the dates of ``_journal/`` older than ``observer.journal_retention_days``
are deleted, so the op journal does not grow without bound.

A whole date goes at once (its directory is the journal's partition): the recorder's flush
thread prunes at start and then every ``observer.journal_prune_interval_s``. Any process
may prune — deleting a key another process already deleted is not an error — and a key
that cannot be deleted is left for the next pass, never raised into the flush thread.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from lakehouse.api.paging import drain_pages
from lakehouse.servers.observer.journal import DATE_FORMAT, JOURNAL_PREFIX
from lakehouse.servers.storage.cleanup import delete_keys
from lakehouse.servers.storage.model import ObjectStore


def cutoff_date(now: datetime, retention_days: int) -> str:
    """The oldest date kept (``YYYY-MM-DD``): today and the ``retention_days - 1`` before it."""
    return (now - timedelta(days=retention_days - 1)).strftime(DATE_FORMAT)


def expired_keys(store: ObjectStore, now: datetime, retention_days: int) -> list[str]:
    """Journal files dated before the cutoff; nothing when retention is off (0)."""
    if retention_days <= 0:
        return []
    oldest_kept = cutoff_date(now, retention_days)
    expired = []
    for info in drain_pages(lambda token: store.list(JOURNAL_PREFIX, 0, token)):
        date = info.key[len(JOURNAL_PREFIX) :].split("/", 1)[0]
        # ISO dates order as text; a key outside the <date>/ layout is never touched.
        if _is_date(date) and date < oldest_kept:
            expired.append(info.key)
    return expired


def prune_journal(store: ObjectStore, now: datetime, retention_days: int) -> tuple[int, list[str]]:
    """Delete the expired journal files: (how many were deleted, the keys left behind)."""
    keys = expired_keys(store, now, retention_days)
    left = delete_keys(store, keys)
    return len(keys) - len(left), left


def _is_date(text: str) -> bool:
    try:
        datetime.strptime(text, DATE_FORMAT)
    except ValueError:
        return False
    return True
