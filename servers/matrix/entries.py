"""Playbook entries as rows: of the playbook dataset, of the playbook corpus, and of a
dataset being imported (servers/matrix/playbooks.py stores them)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from lakehouse.api.errors import invalid_field
from lakehouse.api.matrix import INVALID_PLAYBOOK_ENTRY, SUCCESS, ImportMapping, PlaybookEntry
from lakehouse.api.vector import Item
from lakehouse.servers.reports import pq_bytes
from lakehouse.servers.vector.vectors import encode_metadata

SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("query", pa.string()),
        ("corpus", pa.string()),
        ("item_id", pa.string()),
        ("outcome", pa.string()),
        ("score", pa.float64()),
        ("reason", pa.string()),
        ("source", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("metadata", pa.string()),
    ]
)
# What the corpus keeps of an entry (its query is the item text).
CORPUS_FIELDS = ("corpus", "item_id", "outcome", "score", "reason", "source", "time", "metadata")


def imported_entry(m: ImportMapping, row: dict[str, Any]) -> PlaybookEntry:
    """A row as an entry; values that are not what the entry wants are left for the entry's
    own checks to refuse (by row)."""

    def text(column: str) -> str:
        value = row.get(column) if column else None
        return "" if value is None else str(value)

    when = row_time(row.get(m.time_column)) if m.time_column else None
    score = row.get(m.score_column) if m.score_column else None
    outcome = text(m.outcome_column) or SUCCESS
    metadata = {c: jsonable(row.get(c)) for c in m.metadata_columns}
    entry = PlaybookEntry(
        query=text(m.query_column),
        corpus=m.corpus or text(m.corpus_column),
        item_id=text(m.item_id_column),
        outcome=outcome,
        score=None if score is None or outcome != SUCCESS else score,
        reason=text(m.reason_column),
        source=m.source or f"import:{m.dataset}",
        time=when,
        metadata=metadata,
        id=text(m.id_column),
    )
    if not entry.id:
        digest = hashlib.blake2b(repr(content_of(entry) + (entry.time,)).encode(), digest_size=12).hexdigest()
        entry = replace(entry, id=f"imp-{digest}")
    return entry


def row_time(value: Any) -> datetime | None:
    """A time column's value: a timestamp (naive ones read as UTC), a date (its midnight,
    UTC) or ISO text; anything else fails the row."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise invalid_field("time", f"{value!r} is not an ISO date or timestamp", INVALID_PLAYBOOK_ENTRY) from None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise invalid_field("time", f"{value!r} is not a date or timestamp", INVALID_PLAYBOOK_ENTRY)


def jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def parquet_of(entries: Iterable[PlaybookEntry]) -> bytes:
    rows = [
        {
            "id": e.id,
            "query": e.query,
            "corpus": e.corpus,
            "item_id": e.item_id,
            "outcome": e.outcome,
            "score": e.score,
            "reason": e.reason,
            "source": e.source,
            "time": e.time,
            "metadata": metadata_json(e),
        }
        for e in entries
    ]
    return pq_bytes(pa.Table.from_pylist(rows, schema=SCHEMA))


def item_of(entry: PlaybookEntry) -> Item:
    metadata = {
        "corpus": entry.corpus,
        "item_id": entry.item_id,
        "outcome": entry.outcome,
        "score": entry.score,
        "reason": entry.reason,
        "source": entry.source,
        "time": entry.time.isoformat() if entry.time else "",
        "metadata": metadata_json(entry),
    }
    return Item(entry.id, text=entry.query, metadata=metadata)


def metadata_json(entry: PlaybookEntry) -> str:
    """The entry's metadata as stored (checked by ``_checked`` already)."""
    return encode_metadata(entry.metadata, "metadata")


def entry_of(entry_id: str, query: str, m: dict[str, Any]) -> PlaybookEntry:
    raw = m.get("metadata") or "{}"
    return PlaybookEntry(
        query=query,
        corpus=m.get("corpus", ""),
        item_id=m.get("item_id", ""),
        outcome=m.get("outcome", ""),
        score=m.get("score"),
        reason=m.get("reason") or "",
        source=m.get("source") or "",
        time=datetime.fromisoformat(m["time"]) if m.get("time") else None,
        metadata=json.loads(raw) if isinstance(raw, str) else dict(raw),
        id=entry_id,
    )


def entry_of_row(r: dict[str, Any]) -> PlaybookEntry:
    return entry_of(r["id"], r["query"], {**r, "time": r["time"].isoformat() if r.get("time") else ""})


def content_of(e: PlaybookEntry) -> tuple:
    """What must agree for an id recorded twice (not the time: a retry without one gets a new default)."""
    return (e.query, e.corpus, e.item_id, e.outcome, e.score, e.reason, e.source, e.metadata)
