"""VectorCore: FAISS HNSW corpora on the lake, in plain Python (the servicer wraps it).

One index per corpus ("corpus-as-shard"). The core takes vectors; when an
``Embedder`` is configured, ``add``/``search`` also accept text and embed it
(outside every lock). Concurrency: the corpora dict has its own short lock used
only for lookups, creation and deletion; each corpus serialises its own writes,
so writes to different corpora never contend, and searches take no corpus lock
at all (see ``corpus.py``).

Durability (DESIGN §4): every write batch is a Parquet log entry before it is
applied; generations (rows + serialized graph + manifest) fold the log in. All
state lives in the lake bucket, so a fresh host with an empty ``state_dir``
restores every corpus; ``state_dir`` only holds the lock file that keeps two
cores from owning the same state.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from lakehouse.api import errors
from lakehouse.api.errors import invalid_field
from lakehouse.api.query import QueryApi
from lakehouse.api.vector import (
    BUILD_NOT_AVAILABLE,
    CORPUS_ALREADY_EXISTS,
    CORPUS_NOT_FOUND,
    CORPUS_UNAVAILABLE,
    DIMENSION_MISMATCH,
    DIMENSION_REQUIRED,
    INVALID_EF_SEARCH,
    INVALID_HNSW_PARAMS,
    INVALID_ID,
    INVALID_K,
    INVALID_LIMIT,
    INVALID_QUERY,
    STATE_DIR_IN_USE,
    TRIAL_BUILD,
    BuildResult,
    ColumnMapping,
    IndexTrial,
    ItemsResult,
    Query,
    WriteResult,
)
from lakehouse.servers.settings import VectorSettings
from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector import generations
from lakehouse.servers.vector import rebuild as background
from lakehouse.servers.vector.builder import build_from_dataset
from lakehouse.servers.vector.corpus import Corpus, CorpusTuning
from lakehouse.servers.vector.filters import Filter, parse_filter
from lakehouse.servers.vector.index import SearchTuning
from lakehouse.servers.vector.layout import CORPORA_PREFIX, corpus_key, corpus_name_of, corpus_prefix
from lakehouse.servers.vector.loader import BuildConfig
from lakehouse.servers.vector.model import (
    MAX_EF_SEARCH,
    CorpusEmbedder,
    CorpusInfo,
    HnswParams,
    Item,
    SearchResult,
    validate_corpus_name,
    validate_description,
    validate_params,
)
from lakehouse.servers.vector.persistence import CorpusRecord, delete_if_present, list_all, now
from lakehouse.servers.vector.trials import TrialClock
from lakehouse.servers.vector.vectors import (
    OP_ADD,
    OP_DELETE,
    OP_UPSERT,
    WriteBatch,
    check_count,
    prepare_items,
    prepare_queries,
    prepare_query,
    prepare_query_matrix,
    reject_duplicates,
    validate_ids,
)

log = logging.getLogger(__name__)

LOCK_FILE = "vector.lock"
REBUILD_PARAMS = ("hnsw_m", "ef_construction")


def default_tuning(settings: VectorSettings) -> CorpusTuning:
    return CorpusTuning(
        search=SearchTuning(
            exact_max_ids=settings.exact_search_max_ids,
            exact_max_fraction=settings.exact_search_max_fraction,
            gather_max_ids=settings.exact_gather_max_ids,
            filtered_ef_max=settings.filtered_ef_search_max,
            filtered_ef_exponent=settings.filtered_ef_exponent,
            search_threads=settings.search_threads,
            arrow_lookup_min_ids=settings.arrow_lookup_min_ids,
            filter_cache_entries=settings.filters.cache_entries,
        ),
        build=BuildConfig(chunk_rows=settings.build_chunk_rows, threads=settings.build_threads or os.cpu_count() or 1),
        checkpoint_min_items=settings.checkpoint_min_items,
        checkpoint_fraction=settings.checkpoint_fraction,
        checkpoint_max_files=settings.checkpoint_max_files,
        bulk_rows=settings.bulk_add_rows,
        trials=settings.trials,
        probe_ef_search=settings.ef_search,
    )


class VectorCore:
    def __init__(
        self,
        store: ObjectStore,
        settings: VectorSettings,
        embedder: CorpusEmbedder | None,
        state_dir: Path,
        *,
        query: Callable[[], QueryApi] | None = None,
        tuning: CorpusTuning | None = None,
    ) -> None:
        """``query``: the query API a corpus build reads datasets through (resolved on
        first use: it may live in another process); None when builds are not served."""
        self._query = query
        self._store = store
        self._settings = settings
        self._embedder = embedder
        self._tuning = tuning or default_tuning(settings)
        self._lock_file: TextIO | None = _lock_state_dir(Path(state_dir))
        self._lock = threading.Lock()  # the corpora dict: lookups, creation, deletion
        self._admin_lock = threading.Lock()  # serialises create/delete (their storage work)
        self._corpora: dict[str, Corpus] = {}
        self._broken: dict[str, str] = {}
        try:
            self._load_all()
        except BaseException:
            self.close()
            raise

    def _load_all(self) -> None:
        names = sorted({n for info in list_all(self._store, CORPORA_PREFIX) if (n := corpus_name_of(info.key))})
        for name in names:
            try:
                self._corpora[name] = Corpus.open(self._store, name, self._tuning)
            except errors.LakehouseError as exc:
                log.error("corpus %s cannot be loaded: %s", name, exc)
                self._broken[name] = str(exc)

    def close(self) -> None:
        """Stop background builds and checkpoints and release the state directory."""
        with self._lock:
            corpora = list(self._corpora.values())
        for corpus in corpora:
            corpus.close()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    # Corpora -------------------------------------------------------------------

    def create_corpus(
        self,
        name: str,
        dimension: int = 0,
        metric: str = "",
        hnsw_m: int = 0,
        ef_construction: int = 0,
        embedding_model: str = "",
        description: str = "",
        tags: Sequence[str] = (),
    ) -> CorpusInfo:
        """0 / "" take the settings' defaults; the dimension then comes from the embedder's model."""
        validate_corpus_name(name)
        description, tags = validate_description(description, tags)
        resolve = getattr(self._embedder, "resolve", None)
        if resolve is not None and (embedding_model or not dimension):  # the embedder will serve this corpus
            embedding_model = resolve(embedding_model)
        params = validate_params(
            HnswParams(
                self._dimension(dimension, embedding_model),
                metric or self._settings.metric,
                hnsw_m or self._settings.hnsw_m,
                ef_construction or self._settings.ef_construction,
            )
        )
        with self._admin_lock:
            with self._lock:
                if name in self._corpora or name in self._broken:
                    raise errors.AlreadyExists(f"corpus {name!r} already exists", reason=CORPUS_ALREADY_EXISTS)
            for info in list_all(self._store, corpus_prefix(name)):  # leftovers of a crashed create/delete
                delete_if_present(self._store, info.key)
            record = CorpusRecord(
                name,
                params.dimension,
                params.metric,
                params.hnsw_m,
                params.ef_construction,
                embedding_model,
                now(),
                1,
                description=description,
                tags=list(tags),
            )
            corpus = Corpus.create(self._store, record, self._tuning)
            with self._lock:
                self._corpora[name] = corpus
        return corpus.info()

    def _dimension(self, dimension: int, model: str) -> int:
        if not dimension:
            if self._embedder is None:
                raise invalid_field("dimension", "required when no embedder is configured", DIMENSION_REQUIRED)
            return self._embedder.dimension(model)
        if self._embedder is not None and model:
            expected = self._embedder.dimension(model)
            if expected != dimension:
                message = f"model {model!r} yields {expected}, not {dimension}"
                raise invalid_field("dimension", message, DIMENSION_MISMATCH)
        return dimension

    def list_corpora(self) -> list[CorpusInfo]:
        with self._lock:
            corpora = sorted(self._corpora.items())
        return [corpus.info() for _, corpus in corpora]

    def get_corpus(self, name: str) -> CorpusInfo:
        return self._get(name).info()

    def delete_corpus(self, name: str) -> None:
        """Remove the corpus and every object it has on storage."""
        validate_corpus_name(name)
        with self._admin_lock:
            with self._lock:
                corpus = self._corpora.pop(name, None)
                broken = self._broken.pop(name, None)
            if corpus is not None:
                corpus.close(delete=True)
            elif broken is not None:
                delete_if_present(self._store, corpus_key(name))
                for info in list_all(self._store, corpus_prefix(name)):
                    delete_if_present(self._store, info.key)
            else:
                raise _not_found(name)

    def _get(self, name: str) -> Corpus:
        validate_corpus_name(name)
        with self._lock:
            corpus = self._corpora.get(name)
            broken = self._broken.get(name)
        if corpus is not None:
            return corpus
        if broken is not None:
            raise errors.Unavailable(f"corpus {name!r} failed to load: {broken}", reason=CORPUS_UNAVAILABLE)
        raise _not_found(name)

    # Items ---------------------------------------------------------------------

    def add(self, name: str, items: Sequence[Item]) -> WriteResult:
        """Add new items; an id already in the corpus is AlreadyExists (use ``upsert``)."""
        return self._write(name, OP_ADD, items)

    def upsert(self, name: str, items: Sequence[Item]) -> WriteResult:
        return self._write(name, OP_UPSERT, items)

    def _write(self, name: str, op: str, items: Sequence[Item]) -> WriteResult:
        corpus = self._get(name)
        if not items:
            raise invalid_field("items", "at least one item is required")
        check_count(len(items), self._settings.max_items_per_request, "items")
        batch = prepare_items(
            op,
            items,
            corpus.active.params,
            self._embedder,
            corpus.record.embedding_model,
            embed_batch=self._settings.build_batch_rows,
        )
        changed = corpus.commit(batch)
        return WriteResult(changed, corpus.active.count)

    def delete(self, name: str, ids: Sequence[str]) -> WriteResult:
        """Tombstone the given ids; ``changed`` counts those that existed (unknown ids are ignored)."""
        corpus = self._get(name)
        if isinstance(ids, str):
            raise invalid_field("ids", "must be a list of ids, not one string", INVALID_ID)
        check_count(len(ids), self._settings.max_items_per_request, "ids")
        changed = corpus.commit(WriteBatch(OP_DELETE, validate_ids(ids, "ids"), None, [], []))
        return WriteResult(changed, corpus.active.count)

    def get_items(self, name: str, ids: Sequence[str], include_vectors: bool = False) -> ItemsResult:
        """The live items among ``ids``, in request order; unknown and deleted ids are left out,
        a repeated id is refused. ``include_vectors``: the vectors as stored (unit length for cosine)."""
        corpus = self._get(name)
        if isinstance(ids, str):
            raise invalid_field("ids", "must be a list of ids, not one string", INVALID_ID)
        check_count(len(ids), self._settings.max_items_per_request, "ids")
        wanted = validate_ids(ids, "ids")
        reject_duplicates(wanted, "ids")
        return corpus.get_items(wanted, bool(include_vectors))

    def build_corpus(self, name: str, dataset: str, mapping: ColumnMapping) -> BuildResult:
        if self._query is None:
            raise errors.Unimplemented("this vector service cannot read datasets", reason=BUILD_NOT_AVAILABLE)
        clock = TrialClock()
        items = build_from_dataset(self, self._query(), name, dataset, mapping)
        corpus = self._get(name)
        if items:
            # Fold the build into a generation before answering: a restart then loads the graph,
            # and the trial names the generation on storage that holds the build.
            generation = corpus.checkpoint()
            clock.stop()
            live = corpus.active
            probe = corpus.probe(live)
            trial = clock.trial(
                name, generation, TRIAL_BUILD, live.params, live.rows, corpus.generation_bytes(generation), probe
            )
            corpus.record_trial(trial)
        return BuildResult(items, corpus.info())

    def list_trials(self, corpus: str = "", limit: int = 0, visible: frozenset[str] | None = None) -> list[IndexTrial]:
        """The newest index trials, newest first: of one corpus, or of every corpus in
        ``visible`` (the caller's; None: all). ``limit`` 0 takes ``trials.list_default``."""
        settings = self._settings.trials
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise invalid_field("limit", f"must be a non-negative integer, got {limit!r}", INVALID_LIMIT)
        limit = min(limit or settings.list_default, settings.list_max)
        if corpus:
            return self._get(corpus).trials(limit)
        with self._lock:
            corpora = [c for n, c in sorted(self._corpora.items()) if visible is None or n in visible]
        trials = [t for c in corpora for t in c.trials(limit)]
        return sorted(trials, key=lambda t: (t.finished_at, t.corpus, t.generation), reverse=True)[:limit]

    def add_batches(
        self,
        name: str,
        batches: Iterable[Sequence[Item]],
        on_progress: Callable[[int], None] | None = None,
        *,
        upsert: bool = False,
    ) -> int:
        """Bulk load: items are gathered into large write-log entries and FAISS adds (which
        parallelise), each durable before it is applied; afterwards a background checkpoint
        folds them into a generation so a restart loads the graph instead of replaying it.
        Not atomic: entries committed before a failure stay; ``on_progress`` receives the
        running total of committed items. Field names in errors count items across batches."""
        corpus = self._get(name)
        op = OP_UPSERT if upsert else OP_ADD
        params, model = corpus.active.params, corpus.record.embedding_model
        total = 0
        gathered: list[Item] = []

        def commit() -> int:
            batch = prepare_items(
                op, gathered, params, self._embedder, model, embed_batch=self._settings.build_batch_rows
            )
            committed = corpus.commit(batch)
            if on_progress is not None:
                on_progress(total + committed)
            return committed

        with corpus.bulk():
            for items in batches:
                gathered.extend(items)
                if len(gathered) >= self._tuning.bulk_rows:
                    total += commit()
                    gathered = []
            if gathered:
                total += commit()
        corpus.start_checkpoint()
        return total

    # Search --------------------------------------------------------------------

    def search(
        self,
        name: str,
        vector: np.ndarray | Sequence[float] | None = None,
        text: str | None = None,
        k: int = 10,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002 - the request field's name
        include_text: bool = True,
    ) -> SearchResult:
        """Top-k by similarity (higher score is better; for l2 the score is minus the Euclidean
        distance). ``allowed_ids`` and ``filter`` (servers/vector/filters.py) restrict results
        inside the graph walk (or an exact scan when selective); ids not in the corpus are
        ignored, and an empty list allows nothing."""
        corpus, where, allowed = self._search_args(name, k, ef_search, allowed_ids, filter)
        query = prepare_query(vector, text, corpus.active.params, self._embedder, corpus.record.embedding_model)
        ef = ef_search or self._settings.ef_search
        return corpus.search(query, k, ef, allowed, where, with_text=include_text)[0]

    def search_batch(
        self,
        name: str,
        queries: Sequence[Query] | np.ndarray,
        k: int = 10,
        ef_search: int = 0,
        allowed_ids: Sequence[str] | None = None,
        filter: Mapping[str, Any] | None = None,  # noqa: A002
        include_text: bool = True,
    ) -> list[SearchResult]:
        """``search`` for many queries in one FAISS call (which spreads them over
        ``vector.batch_search_threads``); one result per query, in order. ``queries``: Query
        objects, or the vectors as one (n, d) matrix (or that matrix flattened row-major)."""
        corpus, where, allowed = self._search_args(name, k, ef_search, allowed_ids, filter)
        if isinstance(queries, np.ndarray):
            matrix = prepare_query_matrix(queries, corpus.active.params, self._settings.max_batch_queries)
        else:
            if isinstance(queries, str | bytes) or not queries:
                raise invalid_field("queries", "give at least one query", INVALID_QUERY)
            check_count(len(queries), self._settings.max_batch_queries, "queries")  # before embedding any
            pairs = [(q.vector, q.text) for q in queries]
            matrix = prepare_queries(pairs, corpus.active.params, self._embedder, corpus.record.embedding_model)
        ef = ef_search or self._settings.ef_search
        threads = self._settings.batch_search_threads or os.cpu_count() or 1
        return corpus.search(matrix, k, ef, allowed, where, with_text=include_text, threads=threads)

    def _search_args(
        self, name: str, k: int, ef_search: int, allowed_ids: Sequence[str] | None, raw_filter: object
    ) -> tuple[Corpus, Filter | None, list[str] | None]:
        corpus = self._get(name)
        max_k = self._settings.max_k
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise invalid_field("k", f"must be a positive integer, got {k!r}", INVALID_K)
        if k > max_k:
            raise invalid_field("k", f"must be at most {max_k}, got {k}", INVALID_K)
        if isinstance(ef_search, bool) or not isinstance(ef_search, int) or not 0 <= ef_search <= MAX_EF_SEARCH:
            raise invalid_field("ef_search", f"must be in [0, {MAX_EF_SEARCH}] (0: default)", INVALID_EF_SEARCH)
        if isinstance(allowed_ids, str):
            raise invalid_field("allowed_ids", "must be a list of ids, not one string", INVALID_ID)
        where = None if raw_filter is None else parse_filter(raw_filter, "filter", self._settings.filters)
        return corpus, where, None if allowed_ids is None else list(allowed_ids)

    # Generations ---------------------------------------------------------------

    def rebuild(self, name: str, params_override: dict[str, Any] | None = None) -> int:
        """Start building a new generation in the background (tombstones dropped, optionally
        new hnsw_m / ef_construction); returns its number. ``swap`` makes it active."""
        corpus = self._get(name)
        params = corpus.active.params
        if params_override:
            unknown = sorted(set(params_override) - set(REBUILD_PARAMS))
            if unknown:
                raise invalid_field(
                    "params_override", f"unknown keys {unknown}; allowed: {list(REBUILD_PARAMS)}", INVALID_HNSW_PARAMS
                )
            params = validate_params(replace(params, **params_override))
        return background.start_rebuild(corpus, params)

    def wait_for_build(self, name: str, timeout: float | None = None) -> int:
        return background.wait_for_build(self._get(name), timeout)

    def swap(self, name: str, generation: int | None = None) -> int:
        """Make the newest built (or the given) generation active; returns it."""
        return generations.swap(self._get(name), generation)

    def rollback(self, name: str) -> int:
        """Make the previous generation active again (writes since are replayed onto it)."""
        return generations.rollback(self._get(name))

    def compact(self, name: str) -> int:
        """Rebuild without tombstones and swap it in; blocks until done."""
        corpus = self._get(name)
        generation = background.start_rebuild(corpus, corpus.active.params)
        background.wait_for_build(corpus, None)
        return generations.swap(corpus, generation)

    def checkpoint(self, name: str) -> int:
        """Fold the write log into a new generation now (same graph); returns the active generation."""
        return self._get(name).checkpoint()


def _not_found(name: str) -> errors.NotFound:
    return errors.NotFound(f"corpus {name!r} not found", reason=CORPUS_NOT_FOUND, metadata={"corpus": name})


def _lock_state_dir(state_dir: Path) -> TextIO:
    """One core per state directory: a second one would interleave log sequence numbers."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = open(state_dir / LOCK_FILE, "a+")  # held open (and locked) for the core's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise errors.FailedPrecondition(
            f"vector state directory {state_dir} is in use by another core", reason=STATE_DIR_IN_USE
        ) from None
    return handle
