"""One generation in memory: a FAISS HNSW graph plus the rows it indexes.

A row's int64 FAISS label is its position in the graph (IndexHNSWFlat numbers
vectors 0..ntotal-1), so ``ids[label]`` maps back and ``label_of[id]`` forward.
HNSW cannot remove vectors, so a delete (or the old row of an upsert) becomes a
tombstone: the label leaves ``label_of`` and its bit in ``live`` clears. Every
search excludes tombstones and applies the allow-list through one FAISS
IDSelectorBitmap inside the graph walk (or inside the exact scan), never by
post-filtering.

Threads: searches share the read side of ``rw`` (FAISS search releases the GIL);
``apply`` takes the write side because FAISS ``add`` reallocates under readers.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from typing import TypeVar

import faiss
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.api import errors
from lakehouse.servers.vector.filters import Filter, MetadataColumns
from lakehouse.servers.vector.model import Hit, HnswParams, Item
from lakehouse.servers.vector.rwlock import RWLock
from lakehouse.servers.vector.stored_hits import RowSource, StoredHits
from lakehouse.servers.vector.vectors import OP_DELETE, WriteBatch

T = TypeVar("T")

FAISS_METRIC = {"cosine": faiss.METRIC_INNER_PRODUCT, "ip": faiss.METRIC_INNER_PRODUCT, "l2": faiss.METRIC_L2}
# Geometric growth of the tombstone mask, so appends stay amortised O(1).
GROWTH_FACTOR = 2
MIN_CAPACITY = 1024
# FAISS pads results with label -1 when fewer than k rows qualify.
NO_LABEL = -1

_threads = threading.local()
# Tells apart every LiveIndex of the process: (uid, label) names one stored row for good.
_uids = itertools.count(1)


def use_threads(count: int) -> None:
    """Set this thread's OpenMP team size (libgomp keeps it per thread). Searches use 1:
    one query gains nothing from a team and concurrent searches would oversubscribe the
    cores; builds and adds use every core."""
    if getattr(_threads, "count", None) != count:
        faiss.omp_set_num_threads(count)
        _threads.count = count


@dataclass(frozen=True)
class SearchTuning:
    """When a filtered search goes exact, and how far the graph walk widens otherwise."""

    exact_max_ids: int  # allowed sets up to this size are searched exactly
    exact_max_fraction: float  # ... and so are allowed sets up to this fraction of the graph
    gather_max_ids: int  # exact over at most this many: gather the rows; above it: scan storage with the bitmap
    filtered_ef_max: int  # efSearch cap when widening the walk for a restricted search
    filtered_ef_exponent: float  # efSearch widens by (1/selectivity) ** this
    search_threads: int
    # Allow-lists at least this long are matched in Arrow (one C++ pass over the id column)
    # instead of one Python dict lookup per id, which costs more beyond a few thousand ids.
    arrow_lookup_min_ids: int
    filter_cache_entries: int  # row sets of recent filters kept per generation (cleared by writes)


@dataclass
class FilteredRows:
    """The live rows a filter matches: the mask over labels, its count, and (built on
    first use) its bitmap for the FAISS selector."""

    mask: np.ndarray
    count: int
    _bits: np.ndarray | None = field(default=None, repr=False)

    @property
    def bits(self) -> np.ndarray:
        if self._bits is None:
            self._bits = np.packbits(self.mask, bitorder="little")
        return self._bits


@dataclass(frozen=True)
class Found:
    """What one search call found: hits per query, whether the restricted set was searched
    exactly, and how many live rows the metadata filter excluded."""

    hits: list[Sequence[Hit]]
    exact: bool
    filtered_out: int


@dataclass
class Rows:
    """Columns of a generation, label order; ``deleted`` marks tombstones."""

    ids: list[str]
    vectors: np.ndarray  # (n, d) float32
    metadata: list[str]
    texts: list[str | None]
    deleted: np.ndarray  # (n,) bool


def new_graph(params: HnswParams) -> faiss.IndexHNSWFlat:
    index = faiss.IndexHNSWFlat(params.dimension, params.hnsw_m, FAISS_METRIC[params.metric])
    index.hnsw.efConstruction = params.ef_construction
    return index


def graph_matches(index: faiss.Index, params: HnswParams, rows: int) -> bool:
    """A deserialized sidecar fits its generation only if shape, metric and size agree."""
    return (
        isinstance(index, faiss.IndexHNSWFlat)
        and index.d == params.dimension
        and index.metric_type == FAISS_METRIC[params.metric]
        and index.ntotal == rows
    )


class LiveIndex:
    """A graph and its rows; mutable only through ``apply`` (under the write lock)."""

    def __init__(
        self, generation: int, params: HnswParams, index: faiss.IndexHNSWFlat, rows: Rows, applied_seq: int
    ) -> None:
        if index.ntotal != len(rows.ids):
            raise errors.Internal(f"graph has {index.ntotal} vectors for {len(rows.ids)} rows")
        self.generation = generation
        self.params = params
        self.uid = next(_uids)  # a row's content never changes: (uid, label) may key caches of it
        self.applied_seq = applied_seq  # the last logged write reflected here
        self.rw = RWLock()
        self._index = index
        self._ids = list(rows.ids)
        self._metadata = list(rows.metadata)
        self._texts = list(rows.texts)
        self._rows = RowSource(self.uid, self._ids, self._metadata, self._texts)  # the same lists, appended to
        self._live = np.zeros(max(MIN_CAPACITY, len(self._ids)), dtype=bool)
        self._live[: len(self._ids)] = ~rows.deleted
        self._label_of = {self._ids[i]: i for i in np.flatnonzero(~rows.deleted).tolist()}
        self._live_bits: np.ndarray | None = None
        self._id_chunks: list[pa.Array] = [pa.array(self._ids, pa.string())]
        # Metadata filters: columns built on the first filtered search, row sets per filter.
        self._filter_lock = threading.Lock()
        self._columns = MetadataColumns(0, {})
        self._filtered: OrderedDict[str, FilteredRows] = OrderedDict()

    @classmethod
    def empty(cls, generation: int, params: HnswParams, applied_seq: int = 0) -> LiveIndex:
        rows = Rows([], np.empty((0, params.dimension), np.float32), [], [], np.zeros(0, bool))
        return cls(generation, params, new_graph(params), rows, applied_seq)

    @classmethod
    def build(
        cls,
        generation: int,
        params: HnswParams,
        rows: Rows,
        applied_seq: int,
        *,
        chunk_rows: int,
        threads: int,
        cancel: threading.Event | None = None,
    ) -> LiveIndex:
        """Build a fresh graph over ``rows`` (tombstoned rows included, so labels keep their
        positions), in chunks so a cancel takes effect within one chunk."""
        use_threads(threads)
        index = new_graph(params)
        for start in range(0, len(rows.ids), chunk_rows):
            if cancel is not None and cancel.is_set():
                raise errors.Cancelled(f"build of generation {generation} cancelled")
            index.add(np.ascontiguousarray(rows.vectors[start : start + chunk_rows]))
        return cls(generation, params, index, rows, applied_seq)

    # Reading ---------------------------------------------------------------

    @property
    def count(self) -> int:
        return len(self._label_of)

    @property
    def rows(self) -> int:
        return len(self._ids)

    @property
    def tombstones(self) -> int:
        return self.rows - self.count

    def contains(self, item_ids: list[str]) -> list[str]:
        """The given ids that are live here."""
        return [item_id for item_id in item_ids if item_id in self._label_of]

    def items(self, item_ids: list[str], include_vectors: bool) -> list[Item]:
        """The live items among ``item_ids``, in that order (unknown and deleted ids are left
        out), with their vectors as stored (unit length for cosine) when ``include_vectors``."""
        with self.rw.read():
            labels = [label for item_id in item_ids if (label := self._label_of.get(item_id)) is not None]
            vectors = (
                self._index.reconstruct_batch(np.asarray(labels, np.int64)) if include_vectors and labels else None
            )
            return [
                Item(
                    self._ids[label],
                    vector=None if vectors is None else vectors[row],
                    text=self._texts[label],
                    metadata=json.loads(self._metadata[label]),
                )
                for row, label in enumerate(labels)
            ]

    def serialize(self) -> np.ndarray:
        """The graph as ``faiss.serialize_index`` bytes (the hnsw.faiss sidecar)."""
        with self.rw.read():
            return faiss.serialize_index(self._index)

    def probe(self, measure: Callable[[faiss.IndexHNSWFlat], T]) -> T:
        """Run a read-only ``measure`` of the graph (an index trial's recall probe) under the read lock."""
        with self.rw.read():
            return measure(self._index)

    def snapshot(self) -> tuple[np.ndarray, Rows, int]:
        """(serialized graph, every row, applied_seq) for persisting this generation as it is."""
        with self.rw.read():
            n = self.rows
            data = faiss.serialize_index(self._index)
            vectors = self._index.reconstruct_n(0, n) if n else np.empty((0, self.params.dimension), np.float32)
            rows = Rows(self._ids[:n], vectors, self._metadata[:n], self._texts[:n], ~self._live[:n].copy())
            return data, rows, self.applied_seq

    def live_rows(self) -> tuple[Rows, int]:
        """(live rows only, applied_seq): the input of a rebuild, which drops tombstones."""
        with self.rw.read():
            labels = np.flatnonzero(self._live[: self.rows])
            vectors = (
                self._index.reconstruct_batch(labels.astype(np.int64))
                if len(labels)
                else np.empty((0, self.params.dimension), np.float32)
            )
            rows = Rows(
                [self._ids[i] for i in labels.tolist()],
                vectors,
                [self._metadata[i] for i in labels.tolist()],
                [self._texts[i] for i in labels.tolist()],
                np.zeros(len(labels), bool),
            )
            return rows, self.applied_seq

    # Writing ---------------------------------------------------------------

    def apply(self, batch: WriteBatch, threads: int) -> None:
        """Apply a validated write. Adds replace a live row with the same id (that is what an
        upsert is, and it makes replaying a log idempotent)."""
        with self.rw.write():
            for item_id in batch.ids:
                old = self._label_of.pop(item_id, None)
                if old is not None:
                    self._live[old] = False
            if batch.op != OP_DELETE and batch.ids:
                assert batch.vectors is not None
                use_threads(threads)
                start = self.rows
                self._index.add(np.ascontiguousarray(batch.vectors))
                self._grow(start + len(batch.ids))
                self._live[start : start + len(batch.ids)] = True
                self._ids.extend(batch.ids)
                self._metadata.extend(batch.metadata)
                self._texts.extend(batch.texts)
                self._label_of.update(zip(batch.ids, range(start, start + len(batch.ids)), strict=True))
                self._id_chunks.append(pa.array(batch.ids, pa.string()))
            self.applied_seq = batch.seq
            self._live_bits = None
            self._filtered.clear()

    def _grow(self, size: int) -> None:
        if size > len(self._live):
            grown = np.zeros(max(size, len(self._live) * GROWTH_FACTOR), dtype=bool)
            grown[: len(self._live)] = self._live
            self._live = grown

    # Searching -------------------------------------------------------------

    def search(
        self,
        queries: np.ndarray,
        k: int,
        ef_search: int,
        allowed: list[str] | None,
        where: Filter | None,
        tuning: SearchTuning,
        *,
        with_text: bool = True,
        threads: int | None = None,
    ) -> Found:
        """Top-k live rows for each query row of ``queries`` (n_queries, d), restricted to the
        ``allowed`` ids (unknown ids are ignored) and to the rows ``where`` matches, both
        inside the graph walk or an exact scan, never after it."""
        use_threads(threads or tuning.search_threads)
        with self.rw.read():
            n = self.rows
            dropped = 0
            if allowed is None and where is None:
                if self.count == 0:
                    return Found([[] for _ in queries], False, 0)
                bits = self._live_bitmap(n)
                return Found(
                    self._graph_search(queries, k, ef_search, bits, self.count, n, tuning, with_text), False, 0
                )
            mask = None
            if where is not None:
                rows = self._filter_rows(where, n, tuning)
                dropped = self.count - rows.count
                mask = rows.mask
                if allowed is None and dropped == 0:  # the filter keeps every live row: search as without it
                    bits = self._live_bitmap(n)
                    return Found(
                        self._graph_search(queries, k, ef_search, bits, self.count, n, tuning, with_text), False, 0
                    )
            if allowed is not None:
                by_id = self._allowed_mask(allowed, n, tuning)
                mask = by_id if mask is None else by_id & mask
            count = int(np.count_nonzero(mask))
            if count == 0:
                return Found([[] for _ in queries], True, dropped)
            if count <= tuning.exact_max_ids or count <= tuning.exact_max_fraction * n:
                return Found(self._exact_search(queries, k, mask, count, n, tuning, with_text), True, dropped)
            bits = rows.bits if allowed is None and where is not None else np.packbits(mask, bitorder="little")
            return Found(self._graph_search(queries, k, ef_search, bits, count, n, tuning, with_text), False, dropped)

    def _filter_rows(self, where: Filter, n: int, tuning: SearchTuning) -> FilteredRows:
        """The live rows ``where`` matches, from the cache when this filter ran since the last
        write. The metadata columns are built on first use and extended by the rows added since."""
        with self._filter_lock:
            cached = self._filtered.get(where.key)
            if cached is not None:
                self._filtered.move_to_end(where.key)
                return cached
            if self._columns.rows < n:
                tail = [json.loads(m) for m in self._metadata[self._columns.rows : n]]
                self._columns = self._columns.extended(tail)
            mask = where.matches(self._columns) & self._live[:n]
            rows = FilteredRows(mask, int(np.count_nonzero(mask)))
            if tuning.filter_cache_entries:
                self._filtered[where.key] = rows
                while len(self._filtered) > tuning.filter_cache_entries:
                    self._filtered.popitem(last=False)
            return rows

    def _allowed_mask(self, allowed: list[str], n: int, tuning: SearchTuning) -> np.ndarray:
        """Live rows whose id is in ``allowed`` (duplicates and unknown ids fall away)."""
        if len(allowed) >= tuning.arrow_lookup_min_ids:
            try:
                wanted = pa.array(allowed, pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                wanted = None  # not all strings: the dict lookup below simply misses those
            if wanted is not None:
                found = pc.is_in(self._id_column(), value_set=wanted)
                return found.to_numpy(zero_copy_only=False) & self._live[:n]
        labels = np.fromiter(map(self._label_of.get, allowed, repeat(NO_LABEL)), np.int64, count=len(allowed))
        mask = np.zeros(n, dtype=bool)
        mask[labels[labels != NO_LABEL]] = True  # label_of holds live rows only
        return mask

    def _id_column(self) -> pa.Array:
        """All ids in label order as one Arrow array (chunks from adds are merged on first use)."""
        if len(self._id_chunks) > 1:
            self._id_chunks = [pa.chunked_array(self._id_chunks, pa.string()).combine_chunks()]
        return self._id_chunks[0]

    def _live_bitmap(self, n: int) -> np.ndarray | None:
        """Bitmap of live labels (None when nothing is tombstoned: no selector needed)."""
        if self.count == n:
            return None
        bits = self._live_bits
        if bits is None:
            bits = self._live_bits = np.packbits(self._live[:n], bitorder="little")
        return bits

    def _graph_search(
        self,
        queries: np.ndarray,
        k: int,
        ef: int,
        bits: np.ndarray | None,
        allowed: int,
        n: int,
        tuning: SearchTuning,
        with_text: bool,
    ) -> list[Sequence[Hit]]:
        """HNSW walk with the selector inside it. A selective filter starves the walk of
        admissible candidates, so efSearch widens by (1/selectivity)^filtered_ef_exponent, up
        to a cap."""
        if bits is None:
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k))
        else:
            ef = max(ef, min(tuning.filtered_ef_max, math.ceil(ef * (n / allowed) ** tuning.filtered_ef_exponent)))
            # ``selector`` and ``bits`` are locals on purpose: FAISS holds raw pointers to both,
            # so they must outlive the search call, whatever the wrapper keeps alive itself.
            selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
            params = faiss.SearchParametersHNSW(efSearch=max(ef, k), sel=selector)
        distances, labels = self._index.search(queries, k, params=params)
        return self._hits(distances, labels, with_text)

    def _exact_search(
        self, queries: np.ndarray, k: int, mask: np.ndarray, count: int, n: int, tuning: SearchTuning, with_text: bool
    ) -> list[Sequence[Hit]]:
        """Exhaustive over the allowed rows only: exact recall however selective the filter.
        Few rows: gather them; more: scan the flat storage through the bitmap (no copies)."""
        if count <= tuning.gather_max_ids:
            labels = np.flatnonzero(mask).astype(np.int64)
            vectors = self._index.reconstruct_batch(labels)
            out = []
            for query in queries:
                if self.params.metric == "l2":
                    scores = -np.linalg.norm(vectors - query[None, :], axis=1)
                else:
                    scores = vectors @ query
                top = np.argsort(-scores, kind="stable")[:k]
                out.append(StoredHits(self._rows, labels[top].tolist(), scores[top].tolist(), with_text))
            return out
        bits = np.packbits(mask, bitorder="little")
        storage = faiss.downcast_index(self._index.storage)  # owned by the graph, which outlives it
        selector = faiss.IDSelectorBitmap(n, faiss.swig_ptr(bits))
        distances, found = storage.search(queries, k, params=faiss.SearchParameters(sel=selector))
        return self._hits(distances, found, with_text)

    def _hits(self, distances: np.ndarray, labels: np.ndarray, with_text: bool) -> list[StoredHits]:
        """Hits of each query row of FAISS's (n_queries, k) output: which labels count, and
        the scores, worked out for the whole batch in numpy; the Hit objects are built only
        if read (stored_hits.py)."""
        keep = labels != NO_LABEL
        keep &= self._live[np.where(keep, labels, 0)]
        # FAISS reports squared L2 distances; similarity for ip/cosine.
        scores = -np.sqrt(np.maximum(distances, 0.0), dtype=np.float64) if self.params.metric == "l2" else distances
        if keep.all():
            return [
                StoredHits(self._rows, row_labels, row_scores, with_text)
                for row_labels, row_scores in zip(labels.tolist(), scores.tolist(), strict=True)
            ]
        return [
            StoredHits(self._rows, row_labels[row_keep].tolist(), row_scores[row_keep].tolist(), with_text)
            for row_labels, row_scores, row_keep in zip(labels, scores, keep, strict=True)
        ]
