"""One corpus: its active generation, the write log, checkpoints and generation pointers.

Invariant: whenever ``lock`` is free, the active generation in memory equals its
persisted files plus every log entry after the generation's ``log_seq``. Writes
keep it by logging first (durable) and applying second, both under ``lock``.

Locks, always taken in this order: ``swap_lock`` (one activation at a time),
``checkpoint_lock`` (one checkpoint at a time), ``lock`` (writes, pointers,
bookkeeping; short except for the FAISS add of a write batch), then a
generation's read/write lock. Searches take none of the corpus locks: they read
the ``active`` reference once and hold that generation's read lock, so a swap is
a pointer replace that in-flight searches never notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from lakehouse.api import errors
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector import generations
from lakehouse.servers.vector.index import LiveIndex, SearchTuning
from lakehouse.servers.vector.layout import MANIFEST_FILE, classify, corpus_key, corpus_prefix, log_key
from lakehouse.servers.vector.loader import BuildConfig, catch_up, load_generation
from lakehouse.servers.vector.model import (
    CORPUS_NOT_FOUND,
    CORPUS_UNAVAILABLE,
    ITEM_ALREADY_EXISTS,
    CorpusInfo,
    HnswParams,
    SearchResult,
)
from lakehouse.servers.vector.persistence import (
    KIND_CREATE,
    KIND_REBUILD,
    CorpusRecord,
    Manifest,
    delete_if_present,
    list_all,
    now,
    read_corpus,
    read_manifest,
    write_corpus,
    write_generation,
    write_log,
)
from lakehouse.servers.vector.vectors import MAX_IDS_IN_MESSAGE, OP_ADD, OP_DELETE, WriteBatch

log = logging.getLogger(__name__)
FIRST_GENERATION = 1


@dataclass(frozen=True)
class CorpusTuning:
    """Knobs that are not per-request settings; defaults live in ``core``."""

    search: SearchTuning
    build: BuildConfig
    # Fold the log into a new generation (in the background) once it holds this many items
    # or this fraction of the corpus, whichever is more, or this many files.
    checkpoint_min_items: int
    checkpoint_fraction: float
    checkpoint_max_files: int
    # add_batches: items gathered into one log entry and one FAISS add.
    bulk_rows: int


class Corpus:
    def __init__(
        self,
        store: ObjectStore,
        record: CorpusRecord,
        active: LiveIndex,
        manifests: dict[int, Manifest],
        logs: dict[int, int],
        objects: dict[str, int],
        next_generation: int,
        tuning: CorpusTuning,
    ) -> None:
        self.store = store
        self.name = record.name
        self.record = record
        self.tuning = tuning
        self.active = active
        self.manifests = manifests  # complete generations kept on storage: active, previous, pending
        self.loaded: dict[int, LiveIndex] = {active.generation: active}
        # Built by a rebuild, never active yet. Other unreferenced generations (a checkpoint that
        # crashed before moving the pointer) are garbage.
        self.pending: set[int] = {
            g for g, m in manifests.items() if g not in (record.active, record.previous) and m.kind == KIND_REBUILD
        }
        self.logs = logs  # seq -> items in that log entry
        self.objects = objects  # key -> size, every object of the corpus
        self.last_seq = max([*logs, *(m.log_seq for m in manifests.values()), 0])
        self.next_generation = next_generation
        self.lock = threading.RLock()
        self.swap_lock = threading.Lock()
        self.checkpoint_lock = threading.Lock()
        self.deleted = False
        self.closed = False
        self.bulk_loads = 0
        self.checkpoint_thread: threading.Thread | None = None
        # Background rebuild state (see rebuild.py).
        self.building: int | None = None
        self.building_seq = 0
        self.build_thread: threading.Thread | None = None
        self.build_error: BaseException | None = None
        self.cancel = threading.Event()

    # Opening -----------------------------------------------------------------

    @classmethod
    def create(cls, store: ObjectStore, record: CorpusRecord, tuning: CorpusTuning) -> Corpus:
        """An empty first generation, then the record: the record's presence is the corpus's."""
        params = HnswParams(record.dimension, record.metric, record.hnsw_m, record.ef_construction)
        live = LiveIndex.empty(FIRST_GENERATION, params)
        graph, rows, _ = live.snapshot()
        manifest = Manifest(record.name, FIRST_GENERATION, KIND_CREATE, params, 0, 0, 0, now())
        manifest, objects = write_generation(store, manifest, graph, rows)
        info = write_corpus(store, record)
        objects[info.key] = info.size
        return cls(store, record, live, {FIRST_GENERATION: manifest}, {}, objects, FIRST_GENERATION + 1, tuning)

    @classmethod
    def open(cls, store: ObjectStore, name: str, tuning: CorpusTuning) -> Corpus:
        """Load the active generation (falling back to the previous one if it is unreadable)
        and replay the log after it."""
        record = read_corpus(store, name)
        objects, generations, logs = {}, set(), {}
        for info in list_all(store, corpus_prefix(name)):
            objects[info.key] = info.size
            kind = classify(name, info.key)
            if kind.kind == "gen":
                generations.add(kind.number)
            elif kind.kind == "log":
                logs[kind.number] = -1  # item count unknown until read; only thresholds use it
        manifests = {}
        for gen in sorted(generations):
            key = f"{corpus_prefix(name)}gen-{gen}/{MANIFEST_FILE}"
            if key in objects:
                try:
                    manifests[gen] = read_manifest(store, name, gen)
                except errors.LakehouseError as exc:
                    log.error("corpus %s: skipping generation %d: %s", name, gen, exc)
        referenced = {record.active, record.previous}  # never collected, even if unreadable
        record, live, written = cls._open_active(store, record, manifests, tuning)
        objects.update(written)
        corpus = cls(store, record, live, manifests, logs, objects, max([*generations, 0]) + 1, tuning)
        with corpus.lock:
            corpus.logs.update(catch_up(store, live, name, list(logs), tuning.build.threads))
            for orphan in generations - set(manifests) - referenced:
                if orphan > max(manifests, default=0):  # a build that crashed before its manifest
                    corpus._delete_generation_files(orphan)
            corpus.collect_garbage()
        return corpus

    @staticmethod
    def _open_active(
        store: ObjectStore, record: CorpusRecord, manifests: dict[int, Manifest], tuning: CorpusTuning
    ) -> tuple[CorpusRecord, LiveIndex, dict[str, int]]:
        failure: errors.LakehouseError | None = None
        for gen in (record.active, record.previous):
            if gen not in manifests:
                continue
            try:
                loaded = load_generation(store, manifests[gen], tuning.build)
            except errors.LakehouseError as exc:
                # Left on storage for inspection, but no longer offered as a generation.
                log.error("corpus %s: cannot load generation %d: %s", record.name, gen, exc)
                manifests.pop(gen)
                failure = exc
                continue
            manifests[gen] = loaded.manifest
            written = dict(loaded.written)
            if gen != record.active:
                log.warning("corpus %s: serving previous generation %d instead", record.name, gen)
                record = replace(record, active=gen, previous=0)
                info = write_corpus(store, record)
                written[info.key] = info.size
            return record, loaded.live, written
        raise errors.Unavailable(
            f"corpus {record.name!r}: no loadable generation ({failure or 'manifests missing'})",
            reason=CORPUS_UNAVAILABLE,
        )

    # Guards and bookkeeping ------------------------------------------------------

    def check_open(self) -> None:
        if self.deleted:
            raise errors.NotFound(f"corpus {self.name!r} not found", reason=CORPUS_NOT_FOUND)
        if self.closed:
            raise errors.Unavailable(f"corpus {self.name!r} is shut down", reason=CORPUS_UNAVAILABLE)

    def allocate_generation(self) -> int:
        with self.lock:
            gen = self.next_generation
            self.next_generation += 1
            return gen

    def write_record(self, record: CorpusRecord) -> None:
        """Pointers change on storage first; memory follows only if that succeeded."""
        info = write_corpus(self.store, record)
        self.record = record
        self.objects[info.key] = info.size

    def _delete_generation_files(self, gen: int) -> None:
        with self.lock:
            for key in [k for k in self.objects if classify(self.name, k).generation == gen]:
                delete_if_present(self.store, key)
                self.objects.pop(key, None)

    def discard_generation(self, gen: int) -> None:
        with self.lock:
            self.manifests.pop(gen, None)
            self.loaded.pop(gen, None)
            self.pending.discard(gen)
            self._delete_generation_files(gen)

    def collect_garbage(self) -> None:
        """Keep the active, previous and pending generations and the log they still need."""
        keep = {self.active.generation, self.record.previous, *self.pending} - {0}
        for gen in [g for g in self.manifests if g not in keep]:
            self.discard_generation(gen)
        for gen in [g for g in self.loaded if g not in keep]:
            del self.loaded[gen]
        watermarks = [self.manifests[g].log_seq for g in keep if g in self.manifests]
        if self.building is not None:
            watermarks.append(self.building_seq)
        floor = min(watermarks)
        for seq in [s for s in self.logs if s <= floor]:
            delete_if_present(self.store, log_key(self.name, seq))
            del self.logs[seq]
            self.objects.pop(log_key(self.name, seq), None)

    # Reads -----------------------------------------------------------------------

    def search(self, query: np.ndarray, k: int, ef: int, allowed: list[str] | None) -> SearchResult:
        live = self.active  # one reference for the whole search: a swap cannot change it midway
        generation = live.generation
        hits, exact = live.search(query, k, ef, allowed, self.tuning.search)
        return SearchResult(hits, exact, generation)

    def info(self) -> CorpusInfo:
        with self.lock:
            live, record = self.active, self.record
            return CorpusInfo(
                name=self.name,
                dimension=record.dimension,
                metric=record.metric,
                hnsw_m=live.params.hnsw_m,
                ef_construction=live.params.ef_construction,
                embedding_model=record.embedding_model,
                count=live.count,
                tombstones=live.tombstones,
                generation=live.generation,
                previous_generation=record.previous,
                generations=tuple(sorted(self.manifests)),
                bytes=sum(self.objects.values()),
                building=self.building is not None,
                created_at=datetime.fromisoformat(record.created_at),
            )

    # Writes ----------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> int:
        """Log, then apply. Returns how many items the batch touched (deletes: existing ones)."""
        with self.lock:
            self.check_open()
            live = self.active
            if batch.op == OP_ADD:
                if existing := live.contains(batch.ids):
                    shown = ", ".join(repr(i) for i in existing[:MAX_IDS_IN_MESSAGE])
                    raise errors.AlreadyExists(
                        f"items already in corpus {self.name!r}: {shown} (use upsert to replace them)",
                        reason=ITEM_ALREADY_EXISTS,
                        metadata={"ids": ",".join(existing[:MAX_IDS_IN_MESSAGE])},
                    )
            elif batch.op == OP_DELETE:
                batch.ids = live.contains(list(dict.fromkeys(batch.ids)))
            if not batch.ids:
                return 0
            batch.seq = self.last_seq + 1
            info = write_log(self.store, self.name, batch, self.record.dimension)
            self.last_seq = batch.seq  # the key is taken even if applying fails below
            self.logs[batch.seq] = len(batch.ids)
            self.objects[info.key] = info.size
            live.apply(batch, self.tuning.build.threads)
            due = self._checkpoint_due()
        if due:
            generations.start_checkpoint(self)
        return len(batch.ids)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Suppress background checkpoints during a bulk load, which checkpoints once at its end."""
        with self.lock:
            self.bulk_loads += 1
        try:
            yield
        finally:
            with self.lock:
                self.bulk_loads -= 1

    def _checkpoint_due(self) -> bool:
        if self.bulk_loads or (self.checkpoint_thread is not None and self.checkpoint_thread.is_alive()):
            return False
        watermark = self.manifests[self.active.generation].log_seq
        entries = [items for seq, items in self.logs.items() if seq > watermark]
        items = sum(max(n, 0) for n in entries)
        threshold = max(self.tuning.checkpoint_min_items, self.tuning.checkpoint_fraction * self.active.count)
        return len(entries) >= self.tuning.checkpoint_max_files or items >= threshold

    # Shutdown ----------------------------------------------------------------------

    def close(self, delete: bool = False) -> None:
        """Stop background work; with ``delete``, remove every object (the record first, so a
        crash midway leaves no corpus, only collectable files)."""
        with self.lock:
            self.closed = True
            self.deleted = self.deleted or delete
            self.cancel.set()
            threads = [t for t in (self.build_thread, self.checkpoint_thread) if t is not None]
        for thread in threads:
            thread.join()
        if delete:
            delete_if_present(self.store, corpus_key(self.name))
            for info in list_all(self.store, corpus_prefix(self.name)):
                delete_if_present(self.store, info.key)
