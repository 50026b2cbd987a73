"""Bring a persisted generation back into memory without re-embedding.

The graph comes from the ``hnsw.faiss`` sidecar (deserialized, not rebuilt). A
sidecar that is missing, fails its checksum, does not deserialize, or does not
match its rows is corrupt: the graph is rebuilt from ``vectors.parquet`` (the
source of truth, checksummed too), the sidecar and manifest are rewritten, and
the corpus keeps serving. Log entries newer than the generation are replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import faiss
import numpy as np

from lakehouse.servers.storage.model import ObjectStore
from lakehouse.servers.vector.index import LiveIndex, graph_matches
from lakehouse.servers.vector.persistence import Manifest, read_graph, read_log, read_rows, rewrite_graph

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """How graphs are built: rows per FAISS ``add`` call and the OpenMP team for it."""

    chunk_rows: int
    threads: int


@dataclass
class Loaded:
    live: LiveIndex
    manifest: Manifest  # as on storage now (rewritten when the sidecar was repaired)
    written: dict[str, int]  # objects rewritten by a repair, key -> size
    repaired: bool


def _deserialize(data: bytes | None, manifest: Manifest) -> faiss.Index | None:
    if data is None:
        return None
    try:
        # Already the concrete class, and the owning proxy: a downcast_index() proxy would not
        # own the C++ object, which would be freed with this one.
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
    except (RuntimeError, MemoryError):  # FAISS raises on malformed input
        return None
    return index if graph_matches(index, manifest.params, manifest.rows) else None


def load_generation(store: ObjectStore, manifest: Manifest, build: BuildConfig) -> Loaded:
    rows = read_rows(store, manifest)
    index = _deserialize(read_graph(store, manifest), manifest)
    if index is not None:
        live = LiveIndex(manifest.generation, manifest.params, index, rows, manifest.log_seq)
        return Loaded(live, manifest, {}, False)
    log.warning(
        "corpus %s generation %d: HNSW sidecar is corrupt or missing; rebuilding it from vectors.parquet",
        manifest.corpus,
        manifest.generation,
    )
    live = LiveIndex.build(
        manifest.generation,
        manifest.params,
        rows,
        manifest.log_seq,
        chunk_rows=build.chunk_rows,
        threads=build.threads,
    )
    graph, _, _ = live.snapshot()
    manifest, written = rewrite_graph(store, manifest, graph)
    return Loaded(live, manifest, written, True)


def catch_up(store: ObjectStore, live: LiveIndex, corpus: str, seqs: Iterable[int], threads: int) -> dict[int, int]:
    """Replay the logged writes newer than what ``live`` reflects, in order; returns seq -> items replayed."""
    replayed: dict[int, int] = {}
    for seq in sorted(seqs):
        if seq > live.applied_seq:
            batch = read_log(store, corpus, seq, live.params.dimension)
            live.apply(batch, threads)
            replayed[seq] = len(batch.ids)
    return replayed
