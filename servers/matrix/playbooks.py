"""Playbooks: recorded outcomes (a query, the item it chose, how that went), durable and
searchable.

Two stores, one of them the truth. The catalog dataset ``matrix.playbook_dataset`` holds
every entry (upserted by id, so recording is idempotent and SQL sees it like any
dataset); the corpus ``matrix.playbook_corpus`` holds each entry's query embedded, with the
entry as metadata, so entries can be found by query similarity. An entry is acknowledged
once both are written; the dataset is written first, and a corpus that lacks entries the
dataset has (a crash between the two) is rebuilt from the dataset (``reconcile``).

Bulk calls are taken ``matrix.playbook_write_rows`` entries at a time: each chunk is
validated, checked against the corpora and the entries already recorded, and written
(one dataset version, one corpus upsert), so memory stays bounded however long the call.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from lakehouse.api import errors
from lakehouse.api.catalog import WriteMode
from lakehouse.api.errors import UNKNOWN_COLUMN, invalid_field
from lakehouse.api.ingest import IngestApi, IngestSpec
from lakehouse.api.matrix import (
    INVALID_IMPORT_MAPPING,
    INVALID_PLAYBOOK_ENTRY,
    ITEM_NOT_FOUND,
    OUTCOMES,
    PLAYBOOK_ENTRY_CONFLICT,
    PLAYBOOK_ENTRY_NOT_FOUND,
    PLAYBOOK_TIME_IN_FUTURE,
    SUCCESS,
    TOO_MANY_ENTRIES,
    BulkResult,
    EntryError,
    EntryFilter,
    EntryResult,
    Evidence,
    ImportMapping,
    PlaybookCount,
    PlaybookEntry,
    PlaybookStats,
)
from lakehouse.api.paging import PagingSettings, bad_page_token
from lakehouse.api.query import QueryApi
from lakehouse.api.vector import ColumnMapping, VectorApi
from lakehouse.servers.auth.context import hidden_corpus
from lakehouse.servers.matrix.entries import (
    CORPUS_FIELDS,
    content_of,
    entry_of,
    entry_of_row,
    imported_entry,
    item_of,
    parquet_of,
)
from lakehouse.servers.reports import pq_bytes
from lakehouse.servers.settings import MatrixSettings
from lakehouse.servers.sql import quote_ident, string_literal
from lakehouse.servers.vector.model import MAX_ID_CHARS, validate_corpus_name
from lakehouse.servers.vector.vectors import encode_metadata

PLAYBOOK_TAG = "playbook"
SINGLE = "entry"  # the field of RecordPlaybookEntry; bulk fields are indexed (entries[3], rows[3])
KEY = ("id",)
DAY_S = 86_400.0
# The corpora a caller sees; None: every one.
Visible = frozenset[str] | None


@dataclass
class Learned:
    """What the playbook says about one item for one query."""

    total: float = 0.0  # sum of weight x outcome value
    rejected: float = 0.0  # sum of the weights of rejections
    boost: float = 0.0
    excluded: bool = False
    evidence: list[Evidence] = field(default_factory=list)


@dataclass(frozen=True)
class ItemCheck:
    """Which of ``ids`` exist in ``corpus``: the matrix routes the question to its host."""

    exists: Callable[[str, Sequence[str]], set[str]]


class Playbooks:
    def __init__(
        self,
        ingest: Callable[[], IngestApi],
        query: Callable[[], QueryApi],
        vector: Callable[[], VectorApi],
        items: ItemCheck,
        settings: MatrixSettings,
        paging: PagingSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        service: Callable[[], AbstractContextManager] = nullcontext,
    ) -> None:
        """``service``: entered around every read and write of the playbook dataset, the
        playbook's own storage (servers/auth/context.as_service in a server process)."""
        self._service = service
        self._ingest = ingest
        self._query = query
        self._vector = vector
        self._items = items
        self._settings = settings
        self._paging = paging
        self._clock = clock
        self._model: str | None = None
        self._reconciled = threading.Event()
        self._reconcile_lock = threading.Lock()

    def _ready(self) -> None:
        """Once per process, before the first use: a corpus that lacks entries the dataset
        holds (a crash between the two writes) is rebuilt from the dataset."""
        if self._reconciled.is_set():
            return
        with self._service():
            self._reconcile_once()

    def _reconcile_once(self) -> None:
        with self._reconcile_lock:
            if self._reconciled.is_set():
                return
            table = self._read(f"SELECT count(*) AS n FROM {self._settings.playbook_dataset}")  # noqa: S608
            recorded = 0 if table is None else table.column("n")[0].as_py()
            if recorded:
                try:
                    indexed = self._vector().get_corpus(self._settings.playbook_corpus).count
                except errors.NotFound:
                    indexed = 0
                if indexed < recorded:
                    self.reconcile()
            self._reconciled.set()

    # Recording -----------------------------------------------------------------

    # ``visible`` (every method that takes it): the corpora the caller sees (None: all). An
    # entry of another corpus is NOT_FOUND to it, like a corpus that does not exist.

    def record_entry(self, entry: PlaybookEntry, *, visible: Visible = None) -> PlaybookEntry:
        result = self.record_entries([entry], field=SINGLE, visible=visible).results[0]
        if result.error is not None:
            raise _error(result.error)
        return self.get_entry(result.id, visible=visible)

    def record_entries(
        self, entries: Sequence[PlaybookEntry], *, field: str = "entries", visible: Visible = None
    ) -> BulkResult:
        self._ready()
        if len(entries) > self._settings.playbook_max_bulk:
            message = f"at most {self._settings.playbook_max_bulk} per call, got {len(entries)}"
            raise invalid_field(field, message, TOO_MANY_ENTRIES)
        results: list[EntryResult] = []
        chunk = self._settings.playbook_write_rows
        for start in range(0, len(entries), chunk):
            results.extend(self._record_chunk(entries[start : start + chunk], start, field, visible))
        failed = sum(1 for r in results if r.error is not None)
        return BulkResult(len(results) - failed, failed, results)

    def _record_chunk(
        self, entries: Sequence[PlaybookEntry | errors.LakehouseError], offset: int, field: str, visible: Visible
    ) -> list[EntryResult]:
        """``entries`` may hold the error a row already failed with (an import's unreadable value)."""
        now = self._clock()
        results: dict[int, EntryResult] = {}
        ready: dict[int, PlaybookEntry] = {}
        for i, entry in enumerate(entries, start=offset):
            path = _entry_path(field, i)
            if isinstance(entry, errors.LakehouseError):
                results[i] = EntryResult(i, error=_entry_error(entry))
                continue
            try:
                checked = self._checked(entry, now, path)
                if visible is not None and checked.corpus not in visible:
                    raise hidden_corpus(checked.corpus)
                ready[i] = checked
            except errors.LakehouseError as exc:
                results[i] = EntryResult(i, error=_entry_error(exc))
        self._check_items(ready, results, field)
        self._check_ids(ready, results, field)
        fresh = {i: e for i, e in ready.items() if i not in results}
        if fresh:
            self._write(list(fresh.values()))
        for i, entry in ready.items():
            results.setdefault(i, EntryResult(i, id=entry.id))
        return [results[i] for i in sorted(results)]

    def _checked(self, entry: PlaybookEntry, now: datetime, path: str) -> PlaybookEntry:
        """The entry as it will be stored, or the first thing wrong with it."""
        query = entry.query.strip() if isinstance(entry.query, str) else ""
        if not query:
            raise invalid_field(f"{path}.query", "required: the query the outcome answers", INVALID_PLAYBOOK_ENTRY)
        if len(query) > self._settings.playbook_max_query_chars:
            limit = self._settings.playbook_max_query_chars
            raise invalid_field(f"{path}.query", f"longer than {limit} characters", INVALID_PLAYBOOK_ENTRY)
        validate_corpus_name(entry.corpus, f"{path}.corpus")
        for name, value in (("item_id", entry.item_id), ("id", entry.id)):
            if name == "id" and value == "":
                continue  # generated
            if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
                raise invalid_field(f"{path}.{name}", f"must be 1-{MAX_ID_CHARS} characters", INVALID_PLAYBOOK_ENTRY)
        if entry.outcome not in OUTCOMES:
            message = f"must be one of {', '.join(OUTCOMES)}, got {entry.outcome!r}"
            raise invalid_field(f"{path}.outcome", message, INVALID_PLAYBOOK_ENTRY)
        score = entry.score
        if entry.outcome == SUCCESS:
            score = 1.0 if score is None else score
            if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
                raise invalid_field(
                    f"{path}.score", f"must be a number in [0, 1], got {score!r}", INVALID_PLAYBOOK_ENTRY
                )
            if not 0.0 <= score <= 1.0:
                raise invalid_field(f"{path}.score", f"must be in [0, 1], got {score}", INVALID_PLAYBOOK_ENTRY)
        elif score is not None:
            raise invalid_field(f"{path}.score", "a rejected entry has no score", INVALID_PLAYBOOK_ENTRY)
        when = entry.time or now
        if when.tzinfo is None:
            raise invalid_field(f"{path}.time", "must carry a time zone", INVALID_PLAYBOOK_ENTRY)
        if (when - now).total_seconds() > self._settings.playbook_clock_skew_s:
            raise invalid_field(f"{path}.time", f"{when.isoformat()} is in the future", PLAYBOOK_TIME_IN_FUTURE)
        encode_metadata(entry.metadata, f"{path}.metadata")
        return replace(
            entry,
            query=query,
            score=None if score is None else float(score),
            time=when.astimezone(UTC),
            metadata=dict(entry.metadata or {}),
            id=entry.id or uuid.uuid4().hex,
        )

    def _check_items(self, ready: dict[int, PlaybookEntry], results: dict[int, EntryResult], field: str) -> None:
        """Every entry names an item its corpus has (one lookup per corpus)."""
        by_corpus: dict[str, list[int]] = {}
        for i, entry in ready.items():
            by_corpus.setdefault(entry.corpus, []).append(i)
        for corpus, indexes in by_corpus.items():
            try:
                found = self._items.exists(corpus, list(dict.fromkeys(ready[i].item_id for i in indexes)))
            except errors.LakehouseError as exc:
                for i in indexes:
                    results[i] = EntryResult(i, error=_entry_error(exc, _path(field, i, "corpus")))
                continue
            for i in indexes:
                if ready[i].item_id not in found:
                    message = f"corpus {corpus!r} has no item {ready[i].item_id!r}"
                    results[i] = EntryResult(
                        i, error=EntryError("NOT_FOUND", ITEM_NOT_FOUND, message, _path(field, i, "item_id"))
                    )

    def _check_ids(self, ready: dict[int, PlaybookEntry], results: dict[int, EntryResult], field: str) -> None:
        """An id recorded before (or earlier in this call) must carry the same content."""
        ids = [e.id for i, e in ready.items() if i not in results]
        stored = {e.id: e for e in self._stored(ids)}
        seen: dict[str, PlaybookEntry] = {}
        for i, entry in ready.items():
            if i in results:
                continue
            before = stored.get(entry.id) or seen.get(entry.id)
            if before is not None and content_of(before) != content_of(entry):
                message = f"playbook entry {entry.id!r} was recorded with other content"
                results[i] = EntryResult(
                    i, error=EntryError("ALREADY_EXISTS", PLAYBOOK_ENTRY_CONFLICT, message, _path(field, i, "id"))
                )
            elif before is not None:
                results[i] = EntryResult(i, id=entry.id)  # already recorded: nothing to write
            seen.setdefault(entry.id, entry)

    def _write(self, entries: list[PlaybookEntry]) -> None:
        """Dataset first (the truth), then the corpus."""
        unique = list({e.id: e for e in entries}.values())
        self._write_dataset(WriteMode.UPSERT, parquet_of(unique))
        self._ensure_corpus()
        self._vector().upsert(self._settings.playbook_corpus, [item_of(e) for e in unique])

    def _write_dataset(self, mode: WriteMode, parquet: bytes) -> None:
        """One version of the playbook dataset (the service's own storage: no caller's scope)."""
        with self._service():
            self._ingest().ingest(
                IngestSpec(self._settings.playbook_dataset, format="parquet", mode=mode, primary_key=KEY), [parquet]
            )

    def _ensure_corpus(self) -> None:
        vector = self._vector()
        try:
            vector.get_corpus(self._settings.playbook_corpus)
        except errors.NotFound:
            try:
                vector.create_corpus(
                    self._settings.playbook_corpus,
                    description="recorded outcomes: each entry's query, with the entry as metadata",
                    tags=[PLAYBOOK_TAG],
                )
            except errors.AlreadyExists:
                pass  # created meanwhile

    def reconcile(self) -> int:
        """Upsert every dataset entry into the corpus (after a crash between the two
        writes); returns the entries indexed."""
        self._ensure_corpus()
        mapping = ColumnMapping("id", ("query",), CORPUS_FIELDS)
        return (
            self._vector().build_corpus(self._settings.playbook_corpus, self._settings.playbook_dataset, mapping).items
        )

    # Importing -----------------------------------------------------------------

    def import_entries(self, mapping: ImportMapping, *, visible: Visible = None) -> BulkResult:
        """One entry per row of ``mapping.dataset``, read as Arrow batches and recorded a
        chunk at a time (bounded memory); a bad row fails alone, reported by its row number."""
        self._ready()
        columns = self._mapped_columns(mapping)
        reader = self._query().stream(
            f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {quote_ident(mapping.dataset)}"
        )
        results: list[EntryResult] = []
        pending: list[PlaybookEntry] = []
        row = 0
        for batch in reader:
            for values in batch.to_pylist():
                try:
                    pending.append(imported_entry(mapping, values))
                except errors.InvalidArgument as exc:
                    exc.violations = [
                        errors.FieldViolation(f"rows[{row}].{v.field}", v.description) for v in exc.violations
                    ]
                    pending.append(exc)
                row += 1
                if len(pending) >= self._settings.playbook_write_rows:
                    results.extend(self._record_chunk(pending, row - len(pending), "rows", visible))
                    pending = []
        if pending:
            results.extend(self._record_chunk(pending, row - len(pending), "rows", visible))
        failed = sum(1 for r in results if r.error is not None)
        return BulkResult(len(results) - failed, failed, results)

    def _mapped_columns(self, m: ImportMapping) -> list[str]:
        """The dataset columns the mapping reads; a missing or unknown one is refused by field."""
        for name in ("dataset", "query_column", "item_id_column"):
            if not getattr(m, name):
                raise invalid_field(name, "required", INVALID_IMPORT_MAPPING)
        if bool(m.corpus) == bool(m.corpus_column):
            raise invalid_field("corpus", "give corpus (every row) or corpus_column, not both", INVALID_IMPORT_MAPPING)
        wanted = {
            "query_column": m.query_column,
            "item_id_column": m.item_id_column,
            "corpus_column": m.corpus_column,
            "outcome_column": m.outcome_column,
            "score_column": m.score_column,
            "reason_column": m.reason_column,
            "time_column": m.time_column,
            "id_column": m.id_column,
        }
        wanted |= {f"metadata_columns[{i}]": c for i, c in enumerate(m.metadata_columns)}
        available = self._query().stream(f"SELECT * FROM {quote_ident(m.dataset)} LIMIT 0").schema.names
        missing = [(field_name, c) for field_name, c in wanted.items() if c and c not in available]
        if missing:
            raise errors.InvalidArgument(
                f"columns {[c for _, c in missing]} are not in dataset {m.dataset!r} (it has {available})",
                reason=UNKNOWN_COLUMN,
                metadata={"columns": ",".join(c for _, c in missing)},
                violations=[errors.FieldViolation(f, f"{c!r} is not a column of {m.dataset!r}") for f, c in missing],
            )
        return list(dict.fromkeys(c for c in wanted.values() if c))

    # Learning ------------------------------------------------------------------

    def model(self) -> str | None:
        """The model that embeds the recorded queries (None before anything is recorded)."""
        if self._model is None:
            try:
                self._model = self._vector().get_corpus(self._settings.playbook_corpus).embedding_model
            except errors.NotFound:
                return None
        return self._model

    def learn(
        self, text: str, corpora: Sequence[str], as_of: datetime, vector: np.ndarray | None = None
    ) -> dict[tuple[str, str], Learned]:
        """What past outcomes say about items of ``corpora`` for a query like ``text`` (or its
        ``vector``, embedded by ``model()`` already): the recorded queries most similar to it (at
        least the similarity floor), each weighted by similarity x 0.5 ** (age / half-life);
        entries recorded after ``as_of`` do not count."""
        self._ready()
        s = self._settings
        query = {"vector": vector} if vector is not None else {"text": text}
        try:
            found = self._vector().search(
                s.playbook_corpus, **query, k=s.playbook_neighbors, filter={"corpus": {"in": list(corpora)}}
            )
        except errors.NotFound:
            return {}  # nothing recorded yet
        learned: dict[tuple[str, str], Learned] = {}
        for hit in found.hits:
            if hit.score < s.playbook_similarity_floor:
                break  # best first
            m = hit.metadata
            when = datetime.fromisoformat(m["time"])
            age = (as_of - when).total_seconds() / DAY_S
            if age < 0:
                continue
            weight = hit.score * 0.5 ** (age / s.playbook_half_life_days)
            success = m["outcome"] == SUCCESS
            value = float(m["score"]) if success else -s.playbook_rejection_weight
            entry = learned.setdefault((m["corpus"], m["item_id"]), Learned())
            entry.total += weight * value
            entry.rejected += 0.0 if success else weight
            entry.evidence.append(
                Evidence(hit.id, hit.text or "", m["outcome"], float(m["score"] or 0.0), hit.score, age, weight)
            )
        for entry in learned.values():
            entry.boost = max(-s.playbook_weight, min(s.playbook_weight, s.playbook_weight * entry.total))
            entry.excluded = entry.rejected >= s.playbook_exclude_weight and entry.total < 0
        return learned

    # Reading -------------------------------------------------------------------

    def _stored(self, ids: Sequence[str]) -> list[PlaybookEntry]:
        if not ids:
            return []
        try:
            found = self._vector().get_items(self._settings.playbook_corpus, list(dict.fromkeys(ids)))
        except errors.NotFound:
            return []  # nothing recorded yet
        return [entry_of(item.id, item.text or "", item.metadata) for item in found.items]

    def get_entry(self, entry_id: str, *, visible: Visible = None) -> PlaybookEntry:
        self._ready()
        if not entry_id:
            raise invalid_field("id", "required", INVALID_PLAYBOOK_ENTRY)
        found = [e for e in self._stored([entry_id]) if visible is None or e.corpus in visible]
        if not found:
            message = f"playbook entry {entry_id!r} not found"
            raise errors.NotFound(message, reason=PLAYBOOK_ENTRY_NOT_FOUND, metadata={"id": entry_id})
        return found[0]

    def list_entries(
        self, where: EntryFilter | None = None, *, page_size: int = 0, page_token: str = "", visible: Visible = None
    ) -> tuple[list[PlaybookEntry], str]:
        """Newest first; the token is the offset of the next page."""
        size = self._paging.size(page_size)
        offset = _offset(page_token)
        if visible is not None and not visible:
            return [], ""
        clauses, dataset = self._where(where or EntryFilter(), visible), self._settings.playbook_dataset
        sql = f"SELECT * FROM {dataset}{clauses} ORDER BY time DESC, id LIMIT {size + 1} OFFSET {offset}"  # noqa: S608
        table = self._read(sql)
        if table is None:
            return [], ""
        rows = table.to_pylist()
        entries = [entry_of_row(r) for r in rows[:size]]
        return entries, str(offset + size) if len(rows) > size else ""

    def _where(self, where: EntryFilter, visible: Visible = None) -> str:
        clauses = [] if visible is None else [_corpus_in(visible)]
        for column, value in (("corpus", where.corpus), ("item_id", where.item_id), ("source", where.source)):
            if value:
                clauses.append(f"{column} = {string_literal(value)}")
        if where.since is not None:
            clauses.append(f"time >= {string_literal(where.since.astimezone(UTC).isoformat())}::TIMESTAMPTZ")
        if where.until is not None:
            clauses.append(f"time < {string_literal(where.until.astimezone(UTC).isoformat())}::TIMESTAMPTZ")
        return " WHERE " + " AND ".join(clauses) if clauses else ""

    def _read(self, sql: str) -> pa.Table | None:
        """The result, or None while the playbook dataset does not exist yet."""
        try:
            with self._service():
                return self._query().stream(sql).read_all()
        except errors.NotFound:
            return None

    def delete_entries(
        self, entry_id: str = "", *, corpus: str = "", item_id: str = "", visible: Visible = None
    ) -> int:
        if not alone_or_pair(entry_id, corpus, item_id):
            raise invalid_field("id", "give an id, or a corpus and an item_id", INVALID_PLAYBOOK_ENTRY)
        if visible is not None and corpus and corpus not in visible:
            raise hidden_corpus(corpus)
        if entry_id:
            ids = [e.id for e in self._stored([entry_id]) if visible is None or e.corpus in visible]
        else:
            table = self._read(
                f"SELECT id FROM {self._settings.playbook_dataset} "  # noqa: S608
                f"WHERE corpus = {string_literal(corpus)} AND item_id = {string_literal(item_id)}"
            )
            ids = [] if table is None else table.column("id").to_pylist()
        if not ids:
            return 0
        self._write_dataset(WriteMode.DELETE, pq_bytes(pa.table({"id": pa.array(ids, pa.string())})))
        return self._vector().delete(self._settings.playbook_corpus, ids).changed

    def playbook_stats(self, *, visible: Visible = None) -> PlaybookStats:
        now = string_literal(self._clock().astimezone(UTC).isoformat())
        age = f"epoch({now}::TIMESTAMPTZ) - epoch(time)"
        table = self._read(
            f"SELECT corpus, outcome, count(*) AS entries, count(DISTINCT item_id) AS items, "  # noqa: S608
            f"min({age}) AS newest, median({age}) AS median, max({age}) AS oldest "
            f"FROM {self._settings.playbook_dataset} GROUP BY corpus, outcome ORDER BY corpus, outcome"
        )
        rows = [] if table is None else table.to_pylist()
        counts = [
            PlaybookCount(
                r["corpus"],
                r["outcome"],
                r["entries"],
                r["items"],
                r["newest"] / DAY_S,
                r["median"] / DAY_S,
                r["oldest"] / DAY_S,
            )
            for r in rows
            if visible is None or r["corpus"] in visible
        ]
        return PlaybookStats(sum(c.entries for c in counts), counts)


def _corpus_in(visible: frozenset[str]) -> str:
    return f"corpus IN ({', '.join(string_literal(c) for c in sorted(visible))})"


def _offset(token: str) -> int:
    if not token:
        return 0
    if not token.isdigit():
        raise bad_page_token()
    return int(token)


def _entry_path(field: str, index: int) -> str:
    return field if field == SINGLE else f"{field}[{index}]"


def _path(field: str, index: int, name: str) -> str:
    return f"{_entry_path(field, index)}.{name}"


def alone_or_pair(single: str, first: str, second: str) -> bool:
    """``single`` given alone, or else ``first`` and ``second`` both (an id, or a corpus and an item)."""
    return bool(single) and not (first or second) or not single and bool(first and second)


def _entry_error(exc: errors.LakehouseError, default_field: str = "") -> EntryError:
    named = exc.violations[0].field if exc.violations else default_field
    return EntryError(exc.code, exc.reason, exc.message, named)


_ERRORS = {cls.code: cls for cls in (errors.InvalidArgument, errors.NotFound, errors.AlreadyExists, errors.Unavailable)}


def _error(e: EntryError) -> errors.LakehouseError:
    cls = _ERRORS.get(e.code, errors.Internal)
    violations = [errors.FieldViolation(e.field, e.message)] if e.field and cls is errors.InvalidArgument else []
    return cls(e.message, reason=e.reason, violations=violations)
