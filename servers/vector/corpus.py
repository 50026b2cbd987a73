"""One corpus: its active generation, the write log, checkpoints and generation pointers.

Invariant: whenever ``lock`` is free, the active generation in memory equals its
persisted files plus every log entry after the generation's ``log_seq``. Writes
keep it by logging first (durable) and applying second, both under ``lock``.

Locks, always taken in this order: ``swap_lock`` (one activation at a time),
``_checkpoint_lock`` (one checkpoint at a time), ``lock`` (writes, pointers,
bookkeeping; short except for the FAISS add of a write batch), then a
generation's read/write lock. Searches take none of the corpus locks: they read
the ``active`` reference once and hold that generation's read lock, so a swap is
a pointer replace that in-flight searches never notice.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np

from lakehouse.api import errors
from lakehouse.api.vector import (
    BUILD_IN_PROGRESS,
    CORPUS_NOT_FOUND,
    CORPUS_UNAVAILABLE,
    GENERATION_NOT_FOUND,
    ITEM_ALREADY_EXISTS,
    IndexTrial,
    ItemsResult,
)
from lakehouse.servers.settings import TrialSettings
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.filters import Filter
from lakehouse.servers.vector.index import LiveIndex, Rows, SearchTuning
from lakehouse.servers.vector.layout import MANIFEST_FILE, classify, corpus_key, corpus_prefix, log_key
from lakehouse.servers.vector.loader import BuildConfig, Loaded, catch_up, load_generation
from lakehouse.servers.vector.model import CorpusInfo, HnswParams, SearchResult
from lakehouse.servers.vector.persistence import (
    KIND_CHECKPOINT,
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
from lakehouse.servers.vector.trials import Probe, TrialLog, probe_recall
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
    # Index trials: their probe, retention, and the efSearch the probe walks with (the default).
    trials: TrialSettings
    probe_ef_search: int


class Corpus:
    """Owns every piece of a corpus's mutable state; ``generations`` and ``rebuild`` move it
    only through the transition methods below, so each invariant is kept in one place."""

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
        trial_generations: set[int] | None = None,
    ) -> None:
        self.store = store
        self.name = record.name
        self.tuning = tuning
        self.lock = threading.RLock()
        self.swap_lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()
        self._record = record
        self._active = active
        self._manifests = manifests  # complete generations kept on storage: active, previous, pending
        self._loaded: dict[int, LiveIndex] = {active.generation: active}
        # Built by a rebuild, never active yet. Other unreferenced generations (a checkpoint that
        # crashed before moving the pointer) are garbage.
        self._pending: set[int] = {
            g for g, m in manifests.items() if g not in (record.active, record.previous) and m.kind == KIND_REBUILD
        }
        self._logs = logs  # seq -> items in that log entry
        self._objects = objects  # key -> size, every object of the corpus
        self._last_seq = max([*logs, *(m.log_seq for m in manifests.values()), 0])
        self._next_generation = next_generation
        self._deleted = False
        self._closed = False
        self._bulk_loads = 0
        self._checkpoint_thread: threading.Thread | None = None
        # Background rebuild state (see rebuild.py).
        self._building: int | None = None
        self._building_seq = 0
        self._build_thread: threading.Thread | None = None
        self._build_error: BaseException | None = None
        self._cancel = threading.Event()
        self._trials = TrialLog(store, self.name, trial_generations or set(), tuning.trials)

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
        objects, generations, logs, trials = {}, set(), {}, set()
        for info in list_all(store, corpus_prefix(name)):
            objects[info.key] = info.size
            kind = classify(name, info.key)
            if kind.kind == "gen":
                generations.add(kind.number)
            elif kind.kind == "log":
                logs[kind.number] = -1  # item count unknown until read; only thresholds use it
            elif kind.kind == "trial":
                trials.add(kind.number)
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
        next_generation = max([*generations, *trials, 0]) + 1  # a failed rebuild's number stays taken
        corpus = cls(store, record, live, manifests, logs, objects, next_generation, tuning, trials)
        with corpus.lock:
            corpus._logs.update(catch_up(store, live, name, list(logs), tuning.build.threads))
            for orphan in generations - set(manifests) - referenced:
                if orphan > max(manifests, default=0):  # a build that crashed before its manifest
                    corpus._delete_generation_files(orphan)
            corpus._collect_garbage()
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

    # State, read-only to other modules -------------------------------------------

    @property
    def record(self) -> CorpusRecord:
        return self._record

    @property
    def active(self) -> LiveIndex:
        """The serving generation; read once per search, replaced whole by a swap."""
        return self._active

    @property
    def cancel(self) -> threading.Event:
        """Set by ``close``: a background build stops at its next chunk."""
        return self._cancel

    @property
    def build_thread(self) -> threading.Thread | None:
        return self._build_thread

    @property
    def checkpoint_thread(self) -> threading.Thread | None:
        return self._checkpoint_thread

    @property
    def build_error(self) -> BaseException | None:
        """Why the last background build failed; None when it did not."""
        return self._build_error

    def log_seqs(self) -> list[int]:
        with self.lock:
            return list(self._logs)

    def newest_built(self) -> int | None:
        """The newest generation a rebuild has parked and no swap has activated yet."""
        with self.lock:
            return max(self._pending, default=None)

    def previous_generation(self) -> int:
        """The rollback target, or 0 when there is none on storage."""
        with self.lock:
            previous = self._record.previous
            return previous if previous in self._manifests else 0

    # Guards and bookkeeping ------------------------------------------------------

    def check_open(self) -> None:
        if self._deleted:
            raise errors.NotFound(f"corpus {self.name!r} not found", reason=CORPUS_NOT_FOUND)
        if self._closed:
            raise errors.Unavailable(f"corpus {self.name!r} is shut down", reason=CORPUS_UNAVAILABLE)

    def _allocate_generation(self) -> int:
        with self.lock:
            gen = self._next_generation
            self._next_generation += 1
            return gen

    def _manifest(self, gen: int) -> Manifest:
        manifest = self._manifests.get(gen)
        if manifest is None:
            raise errors.NotFound(
                f"corpus {self.name!r} has no generation {gen}; available: {sorted(self._manifests)}",
                reason=GENERATION_NOT_FOUND,
            )
        return manifest

    def _write_record(self, record: CorpusRecord) -> None:
        """Pointers change on storage first; memory follows only if that succeeded."""
        info = write_corpus(self.store, record)
        self._record = record
        self._objects[info.key] = info.size

    def _delete_generation_files(self, gen: int) -> None:
        with self.lock:
            for key in [k for k in self._objects if classify(self.name, k).generation == gen]:
                delete_if_present(self.store, key)
                self._objects.pop(key, None)

    def _discard_generation(self, gen: int) -> None:
        with self.lock:
            self._manifests.pop(gen, None)
            self._loaded.pop(gen, None)
            self._pending.discard(gen)
            self._delete_generation_files(gen)

    def _collect_garbage(self) -> None:
        """Keep the active, previous and pending generations and the log they still need."""
        keep = {self._active.generation, self._record.previous, *self._pending} - {0}
        for gen in [g for g in self._manifests if g not in keep]:
            self._discard_generation(gen)
        for gen in [g for g in self._loaded if g not in keep]:
            del self._loaded[gen]
        watermarks = [self._manifests[g].log_seq for g in keep if g in self._manifests]
        if self._building is not None:
            watermarks.append(self._building_seq)
        floor = min(watermarks)
        for seq in [s for s in self._logs if s <= floor]:
            delete_if_present(self.store, log_key(self.name, seq))
            del self._logs[seq]
            self._objects.pop(log_key(self.name, seq), None)

    # Index trials ------------------------------------------------------------------

    def generation_bytes(self, gen: int) -> int:
        with self.lock:
            return sum(size for key, size in self._objects.items() if classify(self.name, key).generation == gen)

    def probe(self, live: LiveIndex) -> Probe:
        """The recall probe of a graph just built, with this corpus's trial settings."""
        return live.probe(lambda index: probe_recall(index, self.tuning.trials, self.tuning.probe_ef_search))

    def record_trial(self, trial: IndexTrial) -> None:
        """A trial is a record of the build, not part of it: failing to write one is logged, never raised."""
        try:
            self._trials.record(trial, self._object_changed)
        except Exception:
            log.exception("corpus %s: recording the index trial of generation %d failed", self.name, trial.generation)

    def trials(self, limit: int) -> list[IndexTrial]:
        """The newest ``limit`` trials, newest first."""
        return self._trials.newest(limit)

    def _object_changed(self, key: str, size: int | None) -> None:
        with self.lock:
            if size is None:
                self._objects.pop(key, None)
            else:
                self._objects[key] = size

    # Reads -----------------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        ef: int,
        allowed: list[str] | None,
        where: Filter | None = None,
        *,
        with_text: bool = True,
        threads: int | None = None,
    ) -> list[SearchResult]:
        """One result per row of ``queries``, all from the same generation."""
        live = self._active  # one reference for the whole search: a swap cannot change it midway
        generation = live.generation
        found = live.search(queries, k, ef, allowed, where, self.tuning.search, with_text=with_text, threads=threads)
        return [SearchResult(hits, found.exact, generation, found.filtered_out) for hits in found.hits]

    def get_items(self, item_ids: list[str], include_vectors: bool) -> ItemsResult:
        """The live items among ``item_ids``, in that order, from one generation."""
        live = self._active  # one reference, as in ``search``
        return ItemsResult(live.items(item_ids, include_vectors), live.generation)

    def info(self) -> CorpusInfo:
        with self.lock:
            live, record = self._active, self._record
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
                generations=tuple(sorted(self._manifests)),
                bytes=sum(self._objects.values()),
                building=self._building is not None,
                created_at=datetime.fromisoformat(record.created_at),
                description=record.description,
                tags=tuple(record.tags),
            )

    # Writes ----------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> int:
        """Log, then apply. Returns how many items the batch touched (deletes: existing ones)."""
        with self.lock:
            self.check_open()
            live = self._active
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
            batch.seq = self._last_seq + 1
            info = write_log(self.store, self.name, batch, self._record.dimension)
            self._last_seq = batch.seq  # the key is taken even if applying fails below
            self._logs[batch.seq] = len(batch.ids)
            self._objects[info.key] = info.size
            live.apply(batch, self.tuning.build.threads)
            due = self._checkpoint_due()
        if due:
            self.start_checkpoint()
        return len(batch.ids)

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """Suppress background checkpoints during a bulk load, which checkpoints once at its end."""
        with self.lock:
            self._bulk_loads += 1
        try:
            yield
        finally:
            with self.lock:
                self._bulk_loads -= 1

    def _checkpoint_due(self) -> bool:
        if self._bulk_loads or (self._checkpoint_thread is not None and self._checkpoint_thread.is_alive()):
            return False
        watermark = self._manifests[self._active.generation].log_seq
        entries = [items for seq, items in self._logs.items() if seq > watermark]
        items = sum(max(n, 0) for n in entries)
        threshold = max(self.tuning.checkpoint_min_items, self.tuning.checkpoint_fraction * self._active.count)
        return len(entries) >= self.tuning.checkpoint_max_files or items >= threshold

    # Checkpoints -----------------------------------------------------------------
    # A checkpoint persists the active graph as it is (log folded in) under a new generation
    # number that takes the active one's place; the rollback target stays.

    def start_checkpoint(self) -> None:
        """Checkpoint in the background unless one is already running."""
        with self.lock:
            if self._checkpoint_thread is not None and self._checkpoint_thread.is_alive():
                return
            thread = threading.Thread(target=self._checkpoint_quietly, name=f"vector-ckpt-{self.name}", daemon=True)
            self._checkpoint_thread = thread
            thread.start()

    def _checkpoint_quietly(self) -> None:
        try:
            self.checkpoint()
        except Exception:  # the log still holds every write; the next checkpoint retries
            if self._closed:
                log.debug("corpus %s: background checkpoint abandoned at shutdown", self.name)
            else:
                log.exception("corpus %s: background checkpoint failed", self.name)

    def checkpoint(self) -> int:
        """Returns the active generation afterwards (unchanged when there was nothing to fold)."""
        with self._checkpoint_lock:
            with self.lock:
                self.check_open()
                live = self._active
                if live.applied_seq == self._manifests[live.generation].log_seq:
                    return live.generation
                gen = self._allocate_generation()
                graph, rows, seq = live.snapshot()  # writers wait for this; searches do not
            count = len(rows.ids) - int(rows.deleted.sum())
            manifest = Manifest(self.name, gen, KIND_CHECKPOINT, live.params, len(rows.ids), count, seq, now())
            try:
                manifest, sizes = write_generation(self.store, manifest, graph, rows)
                with self.lock:
                    self._objects.update(sizes)
                    self.check_open()
                    if self._active is not live:  # swapped meanwhile: a snapshot of a retired graph
                        self._discard_generation(gen)
                        return self._active.generation
                    self._write_record(replace(self._record, active=gen))
                    self._manifests[gen] = manifest
                    del self._loaded[live.generation]
                    live.generation = gen
                    self._loaded[gen] = live
                    self._collect_garbage()
                    return gen
            except BaseException:
                if gen not in self._manifests:
                    self._discard_generation(gen)
                raise

    # Activation (driven by generations.py) ---------------------------------------

    def activation_source(self, gen: int) -> tuple[Manifest, LiveIndex | None, list[int]] | None:
        """What activating ``gen`` starts from: its manifest, its graph when already in memory,
        and the log entries to replay onto it; None when it is the active generation."""
        with self.lock:
            self.check_open()
            if gen == self._active.generation:
                return None
            return self._manifest(gen), self._loaded.get(gen), list(self._logs)

    def adopt_loaded(self, gen: int, loaded: Loaded) -> None:
        """Take in what loading ``gen`` from storage found (its manifest is rewritten when its
        sidecar was repaired); it serves only once ``install_active`` makes it active."""
        with self.lock:
            self._manifests[gen] = loaded.manifest
            self._objects.update(loaded.written)

    def install_active(self, gen: int, live: LiveIndex) -> None:
        """Make ``live`` (generation ``gen``, caught up with the whole log) the active generation;
        the one it replaces becomes the rollback target. The caller holds ``lock`` from the final
        catch-up through this call, so no write lands in between."""
        with self.lock:
            self._manifest(gen)  # only a generation on storage can be pointed at
            old = self._active
            self._write_record(replace(self._record, active=gen, previous=old.generation))
            self._loaded[gen] = live
            self._active = live
            self._pending.discard(gen)
            self._collect_garbage()

    # Rebuilds (driven by rebuild.py) ---------------------------------------------

    def begin_rebuild(self, build: Callable[[int, Rows, int], None]) -> int:
        """Reserve generation N, snapshot the live rows (tombstones dropped) and the log position
        they reflect, and run ``build(N, rows, seq)`` on a background thread; returns N."""
        with self.lock:
            self.check_open()
            if self._building is not None:
                raise errors.FailedPrecondition(
                    f"corpus {self.name!r} is already building generation {self._building}",
                    reason=BUILD_IN_PROGRESS,
                )
            gen = self._allocate_generation()
            rows, seq = self._active.live_rows()
            self._building, self._building_seq, self._build_error = gen, seq, None
            thread = threading.Thread(
                target=build, args=(gen, rows, seq), name=f"vector-build-{self.name}-{gen}", daemon=True
            )
            self._build_thread = thread
            thread.start()
            return gen

    def park_built(self, gen: int, manifest: Manifest, live: LiveIndex, written: dict[str, int]) -> bool:
        """Keep a generation a rebuild wrote to storage as pending (swappable, not serving).
        False when the corpus was closed or deleted meanwhile: the generation is discarded."""
        with self.lock:
            self._objects.update(written)
            if self._closed or self._deleted:
                self._discard_generation(gen)
                return False
            self._manifests[gen] = manifest
            self._loaded[gen] = live
            self._pending.add(gen)
            return True

    def fail_rebuild(self, gen: int, error: BaseException) -> None:
        """Keep why the build of ``gen`` failed (``wait_for_build`` raises it) and drop its files."""
        self._build_error = error
        self._discard_generation(gen)

    def end_rebuild(self) -> None:
        """The build is over, parked or failed: its log position no longer holds the log back."""
        with self.lock:
            self._building = None
            self._building_seq = 0

    # Shutdown ----------------------------------------------------------------------

    def close(self, delete: bool = False) -> None:
        """Stop background work; with ``delete``, remove every object (the record first, so a
        crash midway leaves no corpus, only collectable files)."""
        with self.lock:
            self._closed = True
            self._deleted = self._deleted or delete
            self._cancel.set()
            threads = [t for t in (self._build_thread, self._checkpoint_thread) if t is not None]
        for thread in threads:
            thread.join()
        if delete:
            delete_if_present(self.store, corpus_key(self.name))
            for info in list_all(self.store, corpus_prefix(self.name)):
                delete_if_present(self.store, info.key)
